package labelstudio_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// Tokens of the fake Label Studio: distinctive, so that a leak is found by
// a substring search.
const (
	aliceToken   = "Token alice-SECRET-0123456789"
	serviceToken = "Token service-SECRET-9876543210"
)

// fakeLS answers whoami and projects as Label Studio does: tokens map to
// users, each user sees the projects of their organisation.
type fakeLS struct {
	mu       sync.Mutex
	users    map[string]int64 // Authorization header → user id
	orgOf    map[int64]int64  // user id → organisation
	projects map[int64]int64  // project id → organisation
	hidden   map[int64]int64  // project id → a user of its organisation it is hidden from
	status   int              // when set, every answer
	calls    atomic.Int64     // requests served
	paths    []string         // paths asked
}

func newFakeLS() *fakeLS {
	return &fakeLS{
		users:    map[string]int64{aliceToken: 1, serviceToken: 2, "Token bob-SECRET-1": 3},
		orgOf:    map[int64]int64{1: 10, 2: 10, 3: 20},
		projects: map[int64]int64{7: 10, 8: 20, 9: 10},
		hidden:   map[int64]int64{9: 1},
	}
}

func (f *fakeLS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.URL.Path)
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	user, ok := f.users[r.Header.Get("Authorization")]
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"detail":"Invalid token."}`)
		return
	}
	org := f.orgOf[user]
	switch {
	case r.URL.Path == "/api/current-user/whoami":
		fmt.Fprintf(w, `{"id":%d,"email":"u%d@example.com","username":"u%d","active_organization":%d}`, user, user, user, org)
	case strings.HasPrefix(r.URL.Path, "/api/projects/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/api/projects/"), 10, 64)
		if p, ok := f.projects[id]; ok && p == org && f.hidden[id] != user {
			fmt.Fprintf(w, `{"id":%d}`, id)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"detail":"Not found."}`)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeLS) set(fn func(f *fakeLS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func setup(t *testing.T) (*fakeLS, *labelstudio.Authenticator, *clock) {
	t.Helper()
	ls := newFakeLS()
	srv := httptest.NewServer(ls)
	t.Cleanup(srv.Close)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	a := labelstudio.NewAuthenticator(&labelstudio.Client{BaseURL: srv.URL, Service: labelstudio.StaticCredential(serviceToken)})
	a.Now = c.now
	return ls, a, c
}

func TestAuthenticate(t *testing.T) {
	_, a, _ := setup(t)
	ctx := context.Background()
	p, err := a.Authenticate(ctx, aliceToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.User != "ls-user-1" || p.Organization != "ls-org-10" || !strings.HasPrefix(p.TokenID, "ls-") || p.Credential.Header() != aliceToken {
		t.Errorf("principal %+v", p)
	}
	for _, c := range []struct {
		header string
		want   error
	}{{"", auth.ErrNoCredentials}, {"  ", auth.ErrNoCredentials}, {"Token wrong", auth.ErrInvalidToken}, {"Bearer a.b.c", auth.ErrInvalidToken}} {
		if _, err := a.Authenticate(ctx, c.header); !errors.Is(err, c.want) {
			t.Errorf("%q: err = %v, want %v", c.header, err, c.want)
		}
	}
}

// Every decision: a project Label Studio shows the caller is allowed; one
// it hides from them but shows the service account is forbidden (Label
// Studio's storage API answers 403 for it); one it shows neither (none, or
// another organisation's) is not found; trusted AWS sources may use any
// project the service account sees.
func TestAuthorize(t *testing.T) {
	_, a, _ := setup(t)
	ctx := context.Background()
	p, err := a.Authenticate(ctx, aliceToken)
	if err != nil {
		t.Fatal(err)
	}
	alice, trusted := core.TokenHolder(p), core.TrustedSource("sqs")
	for _, c := range []struct {
		name    string
		caller  core.Caller
		project int64
		check   func(error) bool
	}{
		{"own project", alice, 7, func(err error) bool { return err == nil }},
		{"hidden from the caller", alice, 9, isPermission},
		{"another organisation's", alice, 8, func(err error) bool { return errors.Is(err, core.ErrProjectNotFound) }},
		{"no such project", alice, 424242, func(err error) bool { return errors.Is(err, core.ErrProjectNotFound) }},
		{"trusted, exists", trusted, 7, func(err error) bool { return err == nil }},
		{"trusted, no such project", trusted, 424242, func(err error) bool { return errors.Is(err, core.ErrProjectNotFound) }},
		{"no credential", core.TokenHolder(core.Principal{TokenID: "x"}), 7, isPermission},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := a.Authorize(ctx, c.caller, c.project); !c.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func isPermission(err error) bool {
	var p *core.PermissionError
	return errors.As(err, &p)
}

// While the cache holds, a warm request costs Label Studio nothing; after
// TOKEN_CACHE_SECONDS a deactivated user's token is refused.
func TestWarmRequestsDoNotAskAndDeactivationTakesEffect(t *testing.T) {
	ls, a, clk := setup(t)
	a.CacheTTL = 30 * time.Second
	ctx := context.Background()
	request := func() error {
		p, err := a.Authenticate(ctx, aliceToken)
		if err != nil {
			return err
		}
		return a.Authorize(ctx, core.TokenHolder(p), 7)
	}
	if err := request(); err != nil {
		t.Fatal(err)
	}
	cold := ls.calls.Load()
	if cold != 2 {
		t.Errorf("a cold request made %d calls, want 2 (whoami, project)", cold)
	}
	for range 10 {
		clk.advance(2 * time.Second)
		if err := request(); err != nil {
			t.Fatal(err)
		}
		if clk.t.Sub(time.Unix(1_800_000_000, 0)) >= 30*time.Second {
			break
		}
	}
	if got := ls.calls.Load(); got != cold {
		t.Errorf("warm requests made %d calls", got-cold)
	}
	ls.set(func(f *fakeLS) { delete(f.users, aliceToken) }) // deactivated
	clk.advance(30 * time.Second)
	if err := request(); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("after the cache time: %v, want ErrInvalidToken", err)
	}
}

// A refusal is remembered for a few seconds only, far less than a grant:
// a token created just after a failed attempt works soon.
func TestRefusalsAreRememberedBriefly(t *testing.T) {
	ls, a, clk := setup(t)
	a.CacheTTL = 5 * time.Minute
	ctx := context.Background()
	const fresh = "Token fresh-SECRET-42"
	if _, err := a.Authenticate(ctx, fresh); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatal(err)
	}
	ls.set(func(f *fakeLS) { f.users[fresh] = 1 })
	if _, err := a.Authenticate(ctx, fresh); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a refusal was not cached: %v", err)
	}
	clk.advance(5 * time.Second)
	if _, err := a.Authenticate(ctx, fresh); err != nil {
		t.Errorf("5 s after a refusal: %v", err)
	}
}

// Label Studio down (unreachable or 5xx) is ErrUnavailable / the core's
// ErrAccessUnavailable, and is never cached: the next request asks again.
func TestUnavailableIsNotCached(t *testing.T) {
	ls, a, _ := setup(t)
	ctx := context.Background()
	p, err := a.Authenticate(ctx, aliceToken)
	if err != nil {
		t.Fatal(err)
	}
	ls.set(func(f *fakeLS) { f.status = http.StatusBadGateway })
	if _, err := a.Authenticate(ctx, "Token other-SECRET"); !errors.Is(err, labelstudio.ErrUnavailable) ||
		errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("whoami 502: %v", err)
	}
	if err := a.Authorize(ctx, core.TokenHolder(p), 7); !errors.Is(err, core.ErrAccessUnavailable) {
		t.Errorf("project 502: %v", err)
	}
	ls.set(func(f *fakeLS) { f.status = 0 })
	if err := a.Authorize(ctx, core.TokenHolder(p), 7); err != nil {
		t.Errorf("after recovery: %v", err)
	}

	dead := labelstudio.NewAuthenticator(&labelstudio.Client{BaseURL: "http://127.0.0.1:1"})
	_, err = dead.Authenticate(ctx, aliceToken)
	if !errors.Is(err, labelstudio.ErrUnavailable) {
		t.Errorf("unreachable: %v", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error shows the token: %v", err)
	}
}

// No error or principal of the package shows a token.
func TestNoTokenInErrors(t *testing.T) {
	ls, a, _ := setup(t)
	ctx := context.Background()
	var errs []error
	_, err := a.Authenticate(ctx, "Token wrong-SECRET-1")
	errs = append(errs, err)
	p, _ := a.Authenticate(ctx, aliceToken)
	errs = append(errs, a.Authorize(ctx, core.TokenHolder(p), 8), a.Authorize(ctx, core.TokenHolder(p), 9))
	ls.set(func(f *fakeLS) { f.status = 500 })
	_, err = a.Authenticate(ctx, "Token other-SECRET-2")
	errs = append(errs, err, a.Authorize(ctx, core.TrustedSource("sqs"), 11))
	for _, err := range errs {
		if err == nil {
			t.Fatal("want an error")
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", p)} {
			if strings.Contains(s, "SECRET") {
				t.Errorf("a token shows in %q", s)
			}
		}
	}
}

// The service credential is read once, reused, and read again when Label
// Studio refuses it (rotated) or after its maximum age.
func TestServiceCredentialRefresh(t *testing.T) {
	ls := newFakeLS()
	srv := httptest.NewServer(ls)
	defer srv.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	var reads atomic.Int64
	current := "service-SECRET-9876543210" // a bare legacy token
	cred := &labelstudio.SecretCredential{
		Fetch: func(context.Context) (string, error) { reads.Add(1); return current, nil },
		Now:   clk.now,
	}
	c := &labelstudio.Client{BaseURL: srv.URL, Service: cred}
	ctx := context.Background()
	for range 3 {
		if err := c.ServiceProject(ctx, 7); err != nil {
			t.Fatal(err)
		}
	}
	if reads.Load() != 1 {
		t.Errorf("read %d times, want 1", reads.Load())
	}
	clk.advance(labelstudio.DefaultCredentialMaxAge)
	if err := c.ServiceProject(ctx, 7); err != nil || reads.Load() != 2 {
		t.Errorf("after the max age: %v, %d reads", err, reads.Load())
	}
	// Rotated: the old value is refused, the new one read and used.
	ls.set(func(f *fakeLS) { delete(f.users, serviceToken); f.users["Token rotated-SECRET"] = 2 })
	current = "Token rotated-SECRET"
	if err := c.ServiceProject(ctx, 7); err != nil || reads.Load() != 3 {
		t.Errorf("after a rotation: %v, %d reads", err, reads.Load())
	}
	// Refused twice: a configuration fault, unavailable, not "not found".
	current = "still-wrong-SECRET"
	ls.set(func(f *fakeLS) { delete(f.users, "Token rotated-SECRET") })
	if err := c.ServiceProject(ctx, 7); !errors.Is(err, labelstudio.ErrUnavailable) || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("refused twice: %v", err)
	}
}

func TestAuthorizationFor(t *testing.T) {
	for in, want := range map[string]string{
		"abc":          "Token abc",
		" abc\n":       "Token abc",
		"Token abc":    "Token abc",
		"Bearer x.y.z": "Bearer x.y.z",
		"bearer x":     "bearer x",
		"":             "",
	} {
		if got := labelstudio.AuthorizationFor(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

// A personal access token's access token is trusted no longer than its
// own expiry, even when the cache time is longer.
func TestBearerAnswersEndWithTheToken(t *testing.T) {
	ls, a, clk := setup(t)
	a.CacheTTL = 5 * time.Minute
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, clk.t.Add(time.Minute).Unix())))
	bearer := "Bearer eyJhbGciOiJIUzI1NiJ9." + payload + ".sig"
	ls.set(func(f *fakeLS) { f.users[bearer] = 1 })
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, bearer); err != nil {
		t.Fatal(err)
	}
	clk.advance(59 * time.Second)
	before := ls.calls.Load()
	if _, err := a.Authenticate(ctx, bearer); err != nil || ls.calls.Load() != before {
		t.Errorf("within the expiry: %v, %d calls", err, ls.calls.Load()-before)
	}
	clk.advance(2 * time.Second)
	if _, err := a.Authenticate(ctx, bearer); err != nil || ls.calls.Load() != before+1 {
		t.Errorf("after the expiry: %v, %d calls, want 1", err, ls.calls.Load()-before)
	}
}

// Concurrent requests with many tokens: no race, every answer right.
func TestConcurrentAuthentication(t *testing.T) {
	ls, a, _ := setup(t)
	for i := range 50 {
		ls.users["Token t"+strconv.Itoa(i)] = 1
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := "Token t" + strconv.Itoa(i%50)
			if i%7 == 0 {
				h = "Token nope"
			}
			p, err := a.Authenticate(context.Background(), h)
			if (i%7 == 0) != errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("%d: %v", i, err)
				return
			}
			if err == nil {
				if err := a.Authorize(context.Background(), core.TokenHolder(p), 7); err != nil {
					t.Errorf("%d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
}
