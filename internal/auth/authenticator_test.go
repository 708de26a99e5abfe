package auth_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/auth"
)

// clock is a settable fake time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestAuthenticateMatrix(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t)
	start := time.Now()
	expiry := start.Add(time.Hour)

	valid, validTok, err := store.Mint(ctx, auth.MintInput{User: "alice", Organization: "acme", Projects: []int64{7, 8}})
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedTok, err := store.Mint(ctx, auth.MintInput{User: "bob", AllProjects: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, revokedTok.TokenID); err != nil {
		t.Fatal(err)
	}
	expiring, _, err := store.Mint(ctx, auth.MintInput{User: "carol", AllProjects: true, ExpiresAt: &expiry})
	if err != nil {
		t.Fatal(err)
	}
	wantValid := auth.Principal{TokenID: validTok.TokenID, User: "alice", Organization: "acme", Projects: []int64{7, 8}}

	for _, tc := range []struct {
		name    string
		header  string
		now     time.Time
		want    auth.Principal
		wantErr error
	}{
		{name: "missing header", header: "", wantErr: auth.ErrNoCredentials},
		{name: "blank header", header: "   ", wantErr: auth.ErrNoCredentials},
		{name: "scheme without key", header: "Token", wantErr: auth.ErrNoCredentials},
		{name: "scheme with blank key", header: "Token    ", wantErr: auth.ErrNoCredentials},
		{name: "bare key", header: valid, wantErr: auth.ErrNoCredentials},
		{name: "basic scheme", header: "Basic x", wantErr: auth.ErrNoCredentials},
		{name: "basic scheme with valid key", header: "Basic " + valid, wantErr: auth.ErrNoCredentials},
		{name: "two keys", header: "Token " + valid + " " + valid, wantErr: auth.ErrNoCredentials},
		{name: "unknown token", header: "Token lsdbx_not-a-real-token", wantErr: auth.ErrInvalidToken},
		{name: "valid key with extra prefix", header: "Token x" + valid, wantErr: auth.ErrInvalidToken},
		{name: "revoked token", header: "Token " + revoked, wantErr: auth.ErrInvalidToken},
		{name: "expired token", header: "Token " + expiring, now: expiry, wantErr: auth.ErrInvalidToken},
		{name: "long expired token", header: "Token " + expiring, now: expiry.Add(time.Hour), wantErr: auth.ErrInvalidToken},
		{name: "expiring token before expiry", header: "Token " + expiring, now: expiry.Add(-2 * time.Second),
			want: auth.Principal{TokenID: auth.IDFromHash(auth.Hash(expiring)), User: "carol", AllProjects: true}},
		{name: "Token", header: "Token " + valid, want: wantValid},
		{name: "token", header: "token " + valid, want: wantValid},
		{name: "TOKEN", header: "TOKEN " + valid, want: wantValid},
		{name: "Bearer", header: "Bearer " + valid, want: wantValid},
		{name: "bearer", header: "bearer " + valid, want: wantValid},
		{name: "surrounding whitespace", header: " \tToken \t " + valid + " \r\n", want: wantValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = start
			}
			a := &auth.Authenticator{Store: store, Now: func() time.Time { return now }}
			got, err := a.Authenticate(ctx, tc.header)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, secret := range []string{valid, revoked, expiring} {
					if strings.Contains(err.Error(), strings.TrimPrefix(secret, auth.TokenPrefix)) {
						t.Errorf("error %q contains a token", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("principal = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCacheRevokedTokenWorksAtMostCacheTTL(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t)
	plain, tok, err := store.Mint(ctx, auth.MintInput{User: "alice", Projects: []int64{1}})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 30 * time.Second
	clk := &clock{t: time.Now()}
	start := clk.Now()
	counting := &countingStore{Lookuper: store}
	a := &auth.Authenticator{Store: counting, CacheTTL: ttl, Now: clk.Now}
	header := "Token " + plain

	if _, err := a.Authenticate(ctx, header); err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, tok.TokenID); err != nil {
		t.Fatal(err)
	}
	clk.Set(start.Add(ttl - time.Nanosecond))
	if _, err := a.Authenticate(ctx, header); err != nil {
		t.Fatalf("within CacheTTL of the lookup: err = %v, want the cached success", err)
	}
	if n := counting.count(); n != 1 {
		t.Fatalf("lookups = %d, want 1 (cached)", n)
	}
	clk.Set(start.Add(ttl))
	if _, err := a.Authenticate(ctx, header); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("CacheTTL after the lookup: err = %v, want ErrInvalidToken", err)
	}
	if n := counting.count(); n != 2 {
		t.Fatalf("lookups = %d, want 2", n)
	}
	// The rejection is remembered briefly, and stays a rejection afterwards.
	if _, err := a.Authenticate(ctx, header); !errors.Is(err, auth.ErrInvalidToken) || counting.count() != 2 {
		t.Fatalf("err = %v, lookups = %d; want cached ErrInvalidToken", err, counting.count())
	}
	clk.Set(start.Add(ttl + 5*time.Second))
	if _, err := a.Authenticate(ctx, header); !errors.Is(err, auth.ErrInvalidToken) || counting.count() != 3 {
		t.Fatalf("err = %v, lookups = %d; want a fresh ErrInvalidToken", err, counting.count())
	}
}

func TestCacheHonoursExpiry(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	expiry := start.Add(10 * time.Second)
	fake := &fakeStore{}
	fake.set("k", auth.Token{User: "alice", AllProjects: true, ExpiresAt: &expiry})
	counting := &countingStore{Lookuper: fake}
	clk := &clock{t: start}
	a := &auth.Authenticator{Store: counting, CacheTTL: time.Minute, Now: clk.Now}

	if _, err := a.Authenticate(ctx, "Token k"); err != nil {
		t.Fatal(err)
	}
	clk.Set(expiry.Add(-time.Nanosecond))
	if _, err := a.Authenticate(ctx, "Token k"); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	clk.Set(expiry)
	if _, err := a.Authenticate(ctx, "Token k"); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("at expiry: err = %v, want ErrInvalidToken", err)
	}
	if n := counting.count(); n != 1 {
		t.Errorf("lookups = %d, want 1: expiry must be checked on cache hits", n)
	}
}

func TestCacheBehaviour(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		// steps run in order; each sets the clock to start+at, optionally
		// changes the store, authenticates "Token k" and checks the outcome
		// and the total number of lookups.
		steps []cacheStep
	}{
		{
			name: "disabled cache looks up every time",
			ttl:  0,
			steps: []cacheStep{
				{ok: true, lookups: 1},
				{ok: true, lookups: 2},
				{change: revoke, wantErr: auth.ErrInvalidToken, lookups: 3},
			},
		},
		{
			name: "success is cached for CacheTTL",
			ttl:  30 * time.Second,
			steps: []cacheStep{
				{ok: true, lookups: 1},
				{at: 29 * time.Second, change: revoke, ok: true, lookups: 1},
				{at: 30 * time.Second, wantErr: auth.ErrInvalidToken, lookups: 2},
			},
		},
		{
			name: "unknown token is cached briefly",
			ttl:  30 * time.Second,
			steps: []cacheStep{
				{change: remove, wantErr: auth.ErrInvalidToken, lookups: 1},
				{at: 4 * time.Second, change: restore, wantErr: auth.ErrInvalidToken, lookups: 1},
				{at: 5 * time.Second, ok: true, lookups: 2},
			},
		},
		{
			name: "negative cache never outlives a short CacheTTL",
			ttl:  2 * time.Second,
			steps: []cacheStep{
				{change: remove, wantErr: auth.ErrInvalidToken, lookups: 1},
				{at: 2 * time.Second, change: restore, ok: true, lookups: 2},
			},
		},
		{
			name: "store errors are not cached",
			ttl:  30 * time.Second,
			steps: []cacheStep{
				{change: fail, wantErr: errStoreDown, lookups: 1},
				{change: heal, ok: true, lookups: 2},
				{change: fail, ok: true, lookups: 2},
			},
		},
		{
			name: "revocation seen after a failure is not cached as success",
			ttl:  30 * time.Second,
			steps: []cacheStep{
				{change: revoke, wantErr: auth.ErrInvalidToken, lookups: 1},
				{at: time.Second, wantErr: auth.ErrInvalidToken, lookups: 1},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeStore{}
			fake.set("k", auth.Token{User: "alice", Projects: []int64{4}})
			counting := &countingStore{Lookuper: fake}
			clk := &clock{t: start}
			a := &auth.Authenticator{Store: counting, CacheTTL: tc.ttl, Now: clk.Now}
			for i, s := range tc.steps {
				clk.Set(start.Add(s.at))
				if s.change != nil {
					s.change(fake)
				}
				p, err := a.Authenticate(ctx, "Token k")
				switch {
				case s.ok && (err != nil || p.User != "alice"):
					t.Fatalf("step %d: principal %+v, err %v; want alice", i, p, err)
				case !s.ok && !errors.Is(err, s.wantErr):
					t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
				if n := counting.count(); n != s.lookups {
					t.Fatalf("step %d: lookups = %d, want %d", i, n, s.lookups)
				}
			}
		})
	}
}

type cacheStep struct {
	at      time.Duration
	change  func(*fakeStore)
	ok      bool
	wantErr error
	lookups int
}

var errStoreDown = errors.New("store down")

func revoke(f *fakeStore) {
	f.update("k", func(r *auth.Record) { now := time.Now(); r.RevokedAt = &now })
}

func remove(f *fakeStore) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.records, auth.Hash("k"))
}

func restore(f *fakeStore) { f.set("k", auth.Token{User: "alice", Projects: []int64{4}}) }

func fail(f *fakeStore) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = errStoreDown
}

func heal(f *fakeStore) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = nil
}

func TestStoreFailureIsNotInvalidToken(t *testing.T) {
	a := &auth.Authenticator{Store: &fakeStore{err: errStoreDown}, CacheTTL: time.Minute}
	_, err := a.Authenticate(context.Background(), "Token k")
	if !errors.Is(err, errStoreDown) || errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrNoCredentials) {
		t.Fatalf("err = %v, want the wrapped store error only", err)
	}
}

func TestPrincipalIsACopy(t *testing.T) {
	fake := &fakeStore{}
	fake.set("k", auth.Token{User: "alice", Projects: []int64{1, 2}})
	a := &auth.Authenticator{Store: fake, CacheTTL: time.Minute}
	p, err := a.Authenticate(context.Background(), "Token k")
	if err != nil {
		t.Fatal(err)
	}
	p.Projects[0] = 99
	p, _ = a.Authenticate(context.Background(), "Token k")
	if p.CanManage(99) || !p.CanManage(1) {
		t.Errorf("changing a principal changed the cached token: %+v", p)
	}
}

func TestAuthenticateConcurrently(t *testing.T) {
	fake := &fakeStore{}
	fake.set("k", auth.Token{User: "alice", AllProjects: true})
	a := auth.NewAuthenticator(fake)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			header := "Token k"
			if i%2 == 1 {
				header = "Token unknown"
			}
			for range 100 {
				_, err := a.Authenticate(context.Background(), header)
				if (i%2 == 0) != (err == nil) {
					t.Errorf("header %d: err = %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCanManage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       auth.Principal
		project int64
		want    bool
	}{
		{"listed project", auth.Principal{Projects: []int64{1, 5}}, 5, true},
		{"unlisted project", auth.Principal{Projects: []int64{1, 5}}, 2, false},
		{"no projects", auth.Principal{}, 1, false},
		{"all projects", auth.Principal{AllProjects: true}, 12345, true},
		{"all projects with stray list", auth.Principal{AllProjects: true, Projects: []int64{1}}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.CanManage(tc.project); got != tc.want {
				t.Errorf("CanManage(%d) = %v, want %v", tc.project, got, tc.want)
			}
		})
	}
}
