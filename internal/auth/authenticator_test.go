package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
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
		p       core.Principal
		project int64
		want    bool
	}{
		{"listed project", core.Principal{Projects: []int64{1, 5}}, 5, true},
		{"unlisted project", core.Principal{Projects: []int64{1, 5}}, 2, false},
		{"no projects", core.Principal{}, 1, false},
		{"all projects", core.Principal{AllProjects: true}, 12345, true},
		{"all projects with stray list", core.Principal{AllProjects: true, Projects: []int64{1}}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.CanManage(tc.project); got != tc.want {
				t.Errorf("CanManage(%d) = %v, want %v", tc.project, got, tc.want)
			}
		})
	}
}
