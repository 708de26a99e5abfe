package databricks_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Secrets of the hostile tests. Each is shaped to pass a filter the others
// fail: the PAT is a valid DNS label (a redirect's host), the client secrets
// are plain [a-z_] identifiers (an OAuth error code).
const (
	hostilePAT         = "dapi-hostile-0123456789abcdef"
	hostileSPSecret    = "hostile_sp_secret"
	hostileAzureSecret = "hostile_azure_secret"
)

// echoServer is a workspace, token endpoint and Azure authority in one that
// answers every request with an error carrying everything it received.
type echoServer struct {
	ts       *httptest.Server
	behavior string

	mu   sync.Mutex
	seen []string
}

func startEcho(t *testing.T, behavior string) *echoServer {
	t.Helper()
	e := &echoServer{behavior: behavior}
	// HTTP/1.1 only, so that the handler can hijack the connection.
	e.ts = httptest.NewUnstartedServer(e)
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	return e
}

// credential returns the secret a request carries: a bearer token, or a
// client secret in HTTP Basic or in the form.
func credential(r *http.Request) string {
	if _, p, ok := r.BasicAuth(); ok {
		if d, err := url.QueryUnescape(p); err == nil {
			return d
		}
		return p
	}
	if s := r.PostForm.Get("client_secret"); s != "" {
		return s
	}
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func (e *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	r.PostForm, _ = url.ParseQuery(string(body))
	var headers strings.Builder
	_ = r.Header.Write(&headers)
	echo := r.Method + " " + r.URL.String() + "\n" + headers.String() + "\n" + string(body)
	cred := credential(r)
	e.mu.Lock()
	e.seen = append(e.seen, echo)
	e.mu.Unlock()

	w.Header().Set("X-Echo", strings.Join(strings.Fields(echo), " "))
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer error=%q", r.Header.Get("Authorization")))
	switch e.behavior {
	case "json": // an OAuth and a Databricks error body, text fields echoing
		writeRaw(w, http.StatusUnauthorized, "Unauthorized", map[string]any{
			"error": "invalid_client", "error_description": echo, "error_uri": "https://x/?" + url.QueryEscape(echo),
			"error_code": "UNAUTHENTICATED", "message": echo, "error_codes": []int{7000215},
		})
	case "code": // the credential itself as the error code
		writeRaw(w, http.StatusBadRequest, "Bad Request", map[string]any{
			"error": cred, "error_description": cred, "error_code": cred, "message": cred,
		})
	case "status": // the echo in the status line's reason phrase
		writeRaw(w, http.StatusForbidden, strings.Join(strings.Fields(echo), " "), map[string]any{"error": "access_denied"})
	case "ok-error": // 200 with an error, as some OAuth servers do
		writeRaw(w, http.StatusOK, "OK", map[string]any{"error": cred, "error_description": echo})
	case "not-json": // an unparseable answer echoing
		writeRaw(w, http.StatusOK, "OK", "<"+echo)
	case "garbage": // unparseable JSON, not HTML, echoing
		writeRaw(w, http.StatusOK, "OK", "{"+echo)
	case "bad-gzip": // a body that is not the gzip it claims to be, echoing
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(echo))
	case "wrong-type": // JSON of the wrong shape, echoing
		writeRaw(w, http.StatusOK, "OK", map[string]any{"contents": echo, "next_page_token": []string{cred}})
	case "malformed": // an answer net/http cannot parse, quoting the echo in its error
		writeRaw(w, 0, strings.Join(strings.Fields(echo), "_"), nil)
	case "redirect": // the credential as the host of a redirect
		w.Header().Set("Location", "https://"+cred+".example.invalid/?echo="+url.QueryEscape(echo))
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
}

// writeRaw writes an answer on the hijacked connection: status 0 writes
// "HTTP/1.1 <reason>", which is not a valid status line.
func writeRaw(w http.ResponseWriter, status int, reason string, body any) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	if status == 0 {
		fmt.Fprintf(buf, "HTTP/1.1 %s\r\n\r\n", reason)
		_ = buf.Flush()
		return
	}
	var b []byte
	if s, ok := body.(string); ok {
		b = []byte(s)
	} else {
		b, _ = json.Marshal(body)
	}
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, reason, len(b), b)
	_ = buf.Flush()
}

func (e *echoServer) sawSecret(secret string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.seen {
		if strings.Contains(s, secret) || strings.Contains(s, url.QueryEscape(secret)) || strings.Contains(s, "Basic ") {
			return true
		}
	}
	return false
}

// TestHostileServersCannotEchoSecrets points each auth mode at token and
// workspace endpoints that echo every header and the body back, in error
// bodies, error codes, status lines, unparseable answers and redirects: no
// form of the secret may reach the connection error.
func TestHostileServersCannotEchoSecrets(t *testing.T) {
	behaviors := []string{"json", "code", "status", "ok-error", "not-json", "malformed", "redirect"}
	modes := []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP}
	for _, behavior := range behaviors {
		for _, mode := range modes {
			t.Run(behavior+"/"+string(mode), func(t *testing.T) {
				e, checker, conn, secret := hostileTarget(t, behavior, mode)

				err := checker.CheckConnection(context.Background(), conn)
				if !e.sawSecret(secret) {
					t.Fatalf("the echo server never received the secret; err = %v", err)
				}
				if err == nil && mode == storage.AuthPAT && (behavior == "ok-error" || behavior == "not-json") {
					return // the Files API said 200: a workspace that says yes is believed
				}
				var ce *storage.ConnectionError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v (%T), want a *storage.ConnectionError", err, err)
				}
				t.Logf("%s: %s [Err: %v]", ce.Reason, ce.Message, ce.Err)
				if !strings.HasSuffix(ce.Message, ".") {
					t.Errorf("message %q is not a sentence", ce.Message)
				}
				if strings.Contains(ce.Message, "example.invalid") || strings.Contains(fmt.Sprintf("%+v", ce.Err), "example.invalid") {
					t.Errorf("a redirect host holding the secret was reported")
				}
				assertNoSecret(t, err, conn)
			})
		}
	}
}

// redirector answers every request with status and a Location on target
// (empty: none) with a path and a query.
func redirector(t *testing.T, status int, target string) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if target != "" {
			w.Header().Set("Location", target+"/elsewhere/path?sig=query-secret&x=1")
		}
		w.WriteHeader(status)
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// TestRedirectsAreNotFollowed: a redirect, from the workspace or from a
// token endpoint, fails the check permanently, naming only the host it
// pointed to, and the host it pointed to is never contacted, even when it
// would have let the check pass.
func TestRedirectsAreNotFollowed(t *testing.T) {
	tests := []struct {
		name     string
		mode     storage.AuthType
		status   int
		location bool
		azure    bool // the Azure authority redirects, the workspace is the target
		wantIn   []string
	}{
		{"workspace 307", storage.AuthPAT, http.StatusTemporaryRedirect, true, false, []string{"workspace", "HTTP 307"}},
		{"workspace 301", storage.AuthPAT, http.StatusMovedPermanently, true, false, []string{"HTTP 301"}},
		{"workspace 302", storage.AuthPAT, http.StatusFound, true, false, []string{"HTTP 302"}},
		{"workspace 303", storage.AuthPAT, http.StatusSeeOther, true, false, []string{"HTTP 303"}},
		{"workspace 308", storage.AuthPAT, http.StatusPermanentRedirect, true, false, []string{"HTTP 308"}},
		{"workspace 302 without Location", storage.AuthPAT, http.StatusFound, false, false, []string{"HTTP 302"}},
		{"workspace 300", storage.AuthPAT, http.StatusMultipleChoices, true, false, []string{"HTTP 300"}},
		{"service principal's workspace 307", storage.AuthDatabricksSP, http.StatusTemporaryRedirect, true, false, []string{"token endpoint", "HTTP 307"}},
		{"databricks token endpoint 302 without Location", storage.AuthDatabricksSP, http.StatusFound, false, false, []string{"token endpoint", "HTTP 302"}},
		{"azure authority 307", storage.AuthAzureADSP, http.StatusTemporaryRedirect, true, true, []string{"Azure AD authority", "HTTP 307"}},
		{"azure authority 308", storage.AuthAzureADSP, http.StatusPermanentRedirect, true, true, []string{"Azure AD authority", "HTTP 308"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The target accepts the credentials and has the volume.
			target := startFake(t)
			loc := ""
			if tt.location {
				loc = target.URL()
			}
			redir := redirector(t, tt.status, loc)
			opts := testOptions(target)
			conn := connFor(target, tt.mode)
			if tt.azure {
				opts.AzureAuthority = redir.URL
			} else {
				conn.Host = redir.URL
			}
			checker := newChecker(t, opts)

			err := checker.CheckConnection(context.Background(), conn)
			ce := assertReason(t, err, databricks.ReasonRedirected)
			t.Logf("%s", ce.Message)
			if ce.Transient() {
				t.Errorf("a redirect is reported as transient")
			}
			if n := len(target.Requests()); n != 0 {
				t.Errorf("the redirect target got %d requests: %+v", n, target.Requests())
			}
			want := append([]string{"redirect"}, tt.wantIn...)
			if tt.location {
				want = append(want, strings.TrimPrefix(target.URL(), "https://"))
			}
			for _, s := range want {
				if !strings.Contains(ce.Message, s) {
					t.Errorf("message %q does not contain %q", ce.Message, s)
				}
			}
			for _, s := range []string{"query-secret", "sig=", "elsewhere"} {
				if strings.Contains(ce.Message, s) || strings.Contains(fmt.Sprintf("%+v", ce.Err), s) {
					t.Errorf("message %q or Err %v holds %q of the Location", ce.Message, ce.Err, s)
				}
			}
			if !strings.HasSuffix(ce.Message, ".") {
				t.Errorf("message %q is not a sentence", ce.Message)
			}
			assertNoSecret(t, err, conn)
		})
	}
}

// TestRedirectHostIsSanitised: what a Location names is reported only when
// it is a plain host name or address, and never with its path or query.
func TestRedirectHostIsSanitised(t *testing.T) {
	tests := []struct {
		location string
		want     string // "" : no host reported
	}{
		{"https://Other.Example.INVALID/path?q=1", "other.example.invalid"},
		{"https://other.example.invalid:8443/", "other.example.invalid:8443"},
		{"https://[::1]:9/x", "[::1]:9"},
		{"https://[::1%25lo]/", "[::1]"},
		{"/relative/path?q=secret", "SELF"},
		{"https://exa mple.invalid/", ""},
		{"https://%E2%80%AEdilavni.example.invalid/", ""},
		{"https://under_score.example.invalid/", ""},
		{"https://" + strings.Repeat("a", 64) + ".example.invalid/", ""},
		{"javascript:alert(1)", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.location != "" {
					w.Header()["Location"] = []string{tt.location}
				}
				w.WriteHeader(http.StatusFound)
			}))
			t.Cleanup(ts.Close)
			pool := x509.NewCertPool()
			pool.AddCert(ts.Certificate())
			checker := newChecker(t, databricks.Options{Guard: hostguard.Policy{AllowPrivate: true}, RootCAs: pool})
			conn := storage.Connection{
				Host: ts.URL, AuthType: storage.AuthPAT, Secrets: storage.Secrets{Token: "dapi-x"},
				Catalog: "main", Schema: "default", Volume: "landing", VerifyTLS: true, Timeout: 5 * time.Second,
			}
			ce := assertReason(t, checker.CheckConnection(context.Background(), conn), databricks.ReasonRedirected)
			t.Logf("%s", ce.Message)
			want := tt.want
			if want == "SELF" {
				want = strings.TrimPrefix(ts.URL, "https://")
			}
			if want != "" {
				if !strings.Contains(ce.Message, "redirect to "+want+" ") {
					t.Errorf("message %q does not name %q", ce.Message, want)
				}
			} else if strings.Contains(ce.Message, "redirect to") {
				t.Errorf("message %q names a host", ce.Message)
			}
			for _, s := range []string{"path", "q=", "secret", "alert", "\u202e"} {
				if strings.Contains(ce.Message, s) {
					t.Errorf("message %q holds %q", ce.Message, s)
				}
			}
		})
	}
}

// hostileTarget starts an echoing server of the given behaviour and returns
// it, a checker that trusts it, a connection to it in the given auth mode,
// and the secret that connection carries.
func hostileTarget(t *testing.T, behavior string, mode storage.AuthType) (*echoServer, *databricks.Checker, storage.Connection, string) {
	t.Helper()
	e := startEcho(t, behavior)
	pool := x509.NewCertPool()
	pool.AddCert(e.ts.Certificate())
	checker := newChecker(t, databricks.Options{
		Guard:          hostguard.Policy{AllowPrivate: true},
		AzureAuthority: e.ts.URL,
		RootCAs:        pool,
	})
	conn := storage.Connection{
		Host: e.ts.URL, AuthType: mode, Catalog: "main", Schema: "default", Volume: "landing",
		VerifyTLS: true, Timeout: 5 * time.Second,
	}
	secret := ""
	switch mode {
	case storage.AuthPAT:
		conn.Secrets.Token, secret = hostilePAT, hostilePAT
	case storage.AuthDatabricksSP:
		conn.ClientID, conn.Secrets.ClientSecret, secret = "hostile-sp", hostileSPSecret, hostileSPSecret
	case storage.AuthAzureADSP:
		conn.TenantID, conn.ClientID, conn.Secrets.ClientSecret, secret = "hostile-tenant", "hostile-app", hostileAzureSecret, hostileAzureSecret
	}
	return e, checker, conn, secret
}
