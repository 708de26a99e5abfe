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
	case "malformed": // an answer net/http cannot parse, quoting the echo in its error
		writeRaw(w, 0, strings.Join(strings.Fields(echo), "_"), nil)
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
// bodies, error codes, status lines and unparseable answers: no
// form of the secret may reach the connection error.
func TestHostileServersCannotEchoSecrets(t *testing.T) {
	behaviors := []string{"json", "code", "status", "ok-error", "not-json", "malformed"}
	modes := []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP}
	for _, behavior := range behaviors {
		for _, mode := range modes {
			t.Run(behavior+"/"+string(mode), func(t *testing.T) {
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
				assertNoSecret(t, err, conn)
			})
		}
	}
}
