package databricks_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

func startFake(tb testing.TB, opts ...fakeworkspace.Option) *fakeworkspace.Server {
	tb.Helper()
	fw := fakeworkspace.Default(opts...)
	if err := fw.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fw.Close)
	return fw
}

// testOptions trust the fake's certificate and allow its loopback address.
func testOptions(fw *fakeworkspace.Server) databricks.Options {
	return databricks.Options{
		Guard:          hostguard.Policy{AllowPrivate: true},
		AzureAuthority: fw.URL(),
		RootCAs:        fw.CertPool(),
	}
}

func newChecker(tb testing.TB, opts databricks.Options) *databricks.Checker {
	c := databricks.New(opts)
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

func connFor(fw *fakeworkspace.Server, mode storage.AuthType) storage.Connection {
	c := storage.Connection{
		Host:      fw.URL(),
		AuthType:  mode,
		Catalog:   fakeworkspace.DefaultCatalog,
		Schema:    fakeworkspace.DefaultSchema,
		Volume:    fakeworkspace.DefaultVolume,
		Prefix:    fakeworkspace.DefaultPrefix,
		VerifyTLS: true,
		Timeout:   5 * time.Second,
	}
	switch mode {
	case storage.AuthPAT:
		c.Secrets.Token = fakeworkspace.DefaultPAT
	case storage.AuthDatabricksSP:
		c.ClientID = fakeworkspace.DefaultSPClientID
		c.Secrets.ClientSecret = fakeworkspace.DefaultSPClientSecret
	case storage.AuthAzureADSP:
		c.TenantID = fakeworkspace.DefaultAzureTenant
		c.ClientID = fakeworkspace.DefaultAzureClientID
		c.Secrets.ClientSecret = fakeworkspace.DefaultAzureClientSecret
	}
	return c
}

const (
	dirsAPI  = "/api/2.0/fs/directories"
	filesAPI = "/api/2.0/fs/files"
)

func TestCheckConnectionSendsCredentialsToTheRightPlace(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	spToken := fw.AddServicePrincipal(fakeworkspace.DefaultSPClientID, fakeworkspace.DefaultSPClientSecret)
	aadToken := fw.AddAzureApp(fakeworkspace.DefaultAzureTenant, fakeworkspace.DefaultAzureClientID, fakeworkspace.DefaultAzureClientSecret)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(fakeworkspace.DefaultSPClientID+":"+fakeworkspace.DefaultSPClientSecret))

	tests := []struct {
		mode   storage.AuthType
		prefix string
		want   []fakeworkspace.Request // Method, Path, Authorization, Form compared
	}{
		{storage.AuthPAT, "images", []fakeworkspace.Request{
			{Method: "HEAD", Path: dirsAPI + fakeworkspace.DefaultVolumePath + "/images", Authorization: "Bearer " + fakeworkspace.DefaultPAT},
		}},
		{storage.AuthPAT, "", []fakeworkspace.Request{
			{Method: "HEAD", Path: dirsAPI + fakeworkspace.DefaultVolumePath, Authorization: "Bearer " + fakeworkspace.DefaultPAT},
		}},
		{storage.AuthDatabricksSP, "images", []fakeworkspace.Request{
			{Method: "POST", Path: "/oidc/v1/token", Authorization: basic,
				Form: url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}},
			{Method: "HEAD", Path: dirsAPI + fakeworkspace.DefaultVolumePath + "/images", Authorization: "Bearer " + spToken},
		}},
		{storage.AuthAzureADSP, "images", []fakeworkspace.Request{
			{Method: "POST", Path: "/" + fakeworkspace.DefaultAzureTenant + "/oauth2/v2.0/token",
				Form: url.Values{
					"grant_type":    {"client_credentials"},
					"scope":         {databricks.AzureDatabricksScope},
					"client_id":     {fakeworkspace.DefaultAzureClientID},
					"client_secret": {fakeworkspace.DefaultAzureClientSecret},
				}},
			{Method: "HEAD", Path: dirsAPI + fakeworkspace.DefaultVolumePath + "/images", Authorization: "Bearer " + aadToken},
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/prefix=%q", tt.mode, tt.prefix), func(t *testing.T) {
			fw.ResetRequests()
			conn := connFor(fw, tt.mode)
			conn.Prefix = tt.prefix
			if err := checker.CheckConnection(context.Background(), conn); err != nil {
				t.Fatalf("CheckConnection: %v", err)
			}
			got := fw.Requests()
			if len(got) != len(tt.want) {
				t.Fatalf("%d requests, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Method != w.Method || g.Path != w.Path || g.Authorization != w.Authorization {
					t.Errorf("request %d = %s %s auth %q, want %s %s auth %q", i, g.Method, g.Path, g.Authorization, w.Method, w.Path, w.Authorization)
				}
				if w.Form != nil && !reflect.DeepEqual(g.Form, w.Form) {
					t.Errorf("request %d form = %v, want %v", i, g.Form, w.Form)
				}
			}
		})
	}
}

// TestRequestCounts pins the number of requests a successful check costs.
func TestRequestCounts(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	want := map[storage.AuthType]int{storage.AuthPAT: 1, storage.AuthDatabricksSP: 2, storage.AuthAzureADSP: 2}
	for mode, n := range want {
		fw.ResetRequests()
		if err := checker.CheckConnection(context.Background(), connFor(fw, mode)); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if got := len(fw.Requests()); got != n {
			t.Errorf("%s: %d requests, want %d", mode, got, n)
		}
	}
}

func TestPathSegmentsAreEscaped(t *testing.T) {
	fw := startFake(t)
	fw.AddDirectory("/Volumes/cat alog/schéma/my vol/a b/c#d%e?f;g")
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Catalog, conn.Schema, conn.Volume, conn.Prefix = "cat alog", "schéma", "my vol", "a b/c#d%e?f;g"
	if err := checker.CheckConnection(context.Background(), conn); err != nil {
		t.Fatalf("CheckConnection: %v", err)
	}
	reqs := fw.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	const want = dirsAPI + "/Volumes/cat%20alog/sch%C3%A9ma/my%20vol/a%20b/c%23d%25e%3Ff%3Bg"
	if reqs[0].EscapedPath != want {
		t.Errorf("escaped path = %s, want %s", reqs[0].EscapedPath, want)
	}
}

func TestVerifyTLS(t *testing.T) {
	fw := startFake(t)
	untrusted := databricks.Options{Guard: hostguard.Policy{AllowPrivate: true}, AzureAuthority: fw.URL()}
	tests := []struct {
		name       string
		opts       databricks.Options
		mode       storage.AuthType
		verify     bool
		wantReason string
	}{
		{"verify off, cert untrusted", untrusted, storage.AuthPAT, false, ""},
		{"verify off, sp token through the same transport", untrusted, storage.AuthDatabricksSP, false, ""},
		{"verify on, cert untrusted", untrusted, storage.AuthPAT, true, databricks.ReasonTLSVerificationFailed},
		{"verify on, sp, cert untrusted", untrusted, storage.AuthDatabricksSP, true, databricks.ReasonTLSVerificationFailed},
		{"verify on, cert in RootCAs", testOptions(fw), storage.AuthPAT, true, ""},
		// verify_tls concerns the workspace: the Azure authority is always verified.
		{"verify off, azure authority untrusted", untrusted, storage.AuthAzureADSP, false, databricks.ReasonTLSVerificationFailed},
		{"verify off, azure authority in RootCAs", testOptions(fw), storage.AuthAzureADSP, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checker := newChecker(t, tt.opts)
			conn := connFor(fw, tt.mode)
			conn.VerifyTLS = tt.verify
			err := checker.CheckConnection(context.Background(), conn)
			assertReason(t, err, tt.wantReason)
			if err != nil {
				t.Logf("%v", err)
				assertNoSecret(t, err, conn)
			}
			if err != nil && !strings.Contains(err.Error(), "x509") {
				t.Errorf("message %q does not name the certificate problem", err)
			}
		})
	}
}

type failureCase struct {
	name       string
	setup      func(t *testing.T, fw *fakeworkspace.Server, conn *storage.Connection, opts *databricks.Options)
	mode       storage.AuthType
	wantReason string
	wantIn     []string // substrings of the message
	requests   int      // -1: don't check
}

func TestCheckConnectionFailures(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	tests := []failureCase{
		{"pat refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Secrets.Token = "dapi-WRONG-secret-123"
		}, storage.AuthPAT, databricks.ReasonCredentialsRefused, []string{"personal access token", "HTTP 401"}, 1},
		{"sp secret refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Secrets.ClientSecret = "sp-WRONG-secret/+=&%"
		}, storage.AuthDatabricksSP, databricks.ReasonCredentialsRefused, []string{"invalid_client", fakeworkspace.DefaultSPClientID}, 1},
		{"sp unknown client", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.ClientID = "nobody"
		}, storage.AuthDatabricksSP, databricks.ReasonCredentialsRefused, []string{"invalid_client", "nobody"}, 1},
		{"sp token not accepted by files api", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			// The token endpoint issues a token that the Files API refuses.
			fw.SetStatus(vol+"/images", http.StatusUnauthorized)
		}, storage.AuthDatabricksSP, databricks.ReasonCredentialsRefused, []string{"OAuth token", "HTTP 401"}, 2},
		{"azure secret refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Secrets.ClientSecret = "azure-WRONG-secret~~"
		}, storage.AuthAzureADSP, databricks.ReasonCredentialsRefused, []string{"Azure AD", "AADSTS7000215", "local-tenant"}, 1},
		{"azure unknown tenant", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.TenantID = "other-tenant"
		}, storage.AuthAzureADSP, databricks.ReasonCredentialsRefused, []string{"AADSTS90002", "other-tenant"}, 1},
		{"azure unknown app", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.ClientID = "nobody"
		}, storage.AuthAzureADSP, databricks.ReasonCredentialsRefused, []string{"unauthorized_client", "nobody"}, 1},
		{"azure tenant not a path segment", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.TenantID = "../evil"
		}, storage.AuthAzureADSP, databricks.ReasonCredentialsRefused, []string{"not a valid Azure AD tenant"}, 0},
		{"volume not found", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Volume, c.Prefix = "missing", ""
		}, storage.AuthPAT, databricks.ReasonVolumeNotFound, []string{"/Volumes/main/default/missing"}, 1},
		{"volume not found under prefix", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Volume = "missing"
		}, storage.AuthPAT, databricks.ReasonVolumeNotFound, []string{"/Volumes/main/default/missing"}, 2},
		{"schema not found", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Schema = "nope"
		}, storage.AuthDatabricksSP, databricks.ReasonVolumeNotFound, []string{"/Volumes/main/nope/landing"}, 3},
		{"prefix not found", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Prefix = "videos/2024"
		}, storage.AuthPAT, databricks.ReasonPrefixNotFound, []string{`"videos/2024"`, vol + "/videos/2024"}, 3},
		{"prefix is a file", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Prefix = fakeworkspace.DefaultFile
		}, storage.AuthPAT, databricks.ReasonNotADirectory, []string{vol + "/readme.txt", "is a file"}, 3},
		{"prefix under a file", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Prefix = fakeworkspace.DefaultFile + "/x"
		}, storage.AuthPAT, databricks.ReasonPrefixNotFound, nil, 3},
		{"permission denied", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images", http.StatusForbidden)
		}, storage.AuthPAT, databricks.ReasonCredentialsRefused, []string{"HTTP 403", "READ VOLUME"}, 1},
		{"server error", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images", http.StatusInternalServerError)
		}, storage.AuthPAT, databricks.ReasonWorkspaceError, []string{"HTTP 500"}, 1},
		{"unavailable is not retried", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images", http.StatusServiceUnavailable)
		}, storage.AuthPAT, databricks.ReasonWorkspaceError, []string{"HTTP 503"}, 1},
		{"rate limit is not retried", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images", http.StatusTooManyRequests)
		}, storage.AuthPAT, databricks.ReasonWorkspaceError, []string{"HTTP 429"}, 1},
		{"server error while telling causes apart", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Prefix = "videos"
			fw.SetStatus(vol, http.StatusBadGateway)
		}, storage.AuthPAT, databricks.ReasonWorkspaceError, []string{"HTTP 502"}, 2},
		{"guard blocks loopback", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			o.Guard = hostguard.Policy{}
		}, storage.AuthPAT, databricks.ReasonHostNotAllowed, []string{"127.0.0.1", "loopback", "public addresses"}, 0},
		{"guard blocks the azure authority", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			o.Guard = hostguard.Policy{}
		}, storage.AuthAzureADSP, databricks.ReasonHostNotAllowed, []string{"Azure AD authority", "loopback"}, 0},
		{"azure authority not https", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			o.AzureAuthority = strings.Replace(fw.URL(), "https://", "http://", 1)
		}, storage.AuthAzureADSP, databricks.ReasonWorkspaceError, []string{"Azure AD authority", "not https://"}, 0},
		{"timeout", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetDelay(3 * time.Second)
			c.Timeout = 200 * time.Millisecond
		}, storage.AuthPAT, databricks.ReasonTimedOut, []string{"200ms", "request_timeout_s"}, -1},
		{"timeout at the token endpoint", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetDelay(3 * time.Second)
			c.Timeout = 200 * time.Millisecond
		}, storage.AuthDatabricksSP, databricks.ReasonTimedOut, []string{"did not answer"}, -1},
		{"connection refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Host = "https://" + closedAddr(t)
		}, storage.AuthPAT, databricks.ReasonWorkspaceUnreachable, []string{"refused the connection"}, 0},
		{"not tls", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			plain := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(plain.Close)
			c.Host = strings.Replace(plain.URL, "http://", "https://", 1)
		}, storage.AuthPAT, databricks.ReasonWorkspaceUnreachable, []string{"did not answer with TLS"}, 0},
		{"tls alert", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			ts := httptest.NewUnstartedServer(http.NotFoundHandler())
			ts.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
			ts.StartTLS()
			t.Cleanup(ts.Close)
			c.Host = ts.URL
		}, storage.AuthPAT, databricks.ReasonWorkspaceUnreachable, []string{"TLS connection", "certificate required"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := startFake(t)
			opts := testOptions(fw)
			conn := connFor(fw, tt.mode)
			tt.setup(t, fw, &conn, &opts)
			checker := newChecker(t, opts)

			start := time.Now()
			err := checker.CheckConnection(context.Background(), conn)
			elapsed := time.Since(start)

			ce := assertReason(t, err, tt.wantReason)
			if ce == nil {
				return
			}
			t.Logf("%s: %s [Err: %v]", ce.Reason, ce.Message, ce.Err)
			for _, s := range tt.wantIn {
				if !strings.Contains(ce.Message, s) {
					t.Errorf("message %q does not contain %q", ce.Message, s)
				}
			}
			if !strings.HasSuffix(ce.Message, ".") {
				t.Errorf("message %q is not a sentence", ce.Message)
			}
			if tt.requests >= 0 {
				if got := len(fw.Requests()); got != tt.requests {
					t.Errorf("%d requests, want %d: %+v", got, tt.requests, fw.Requests())
				}
			}
			if tt.wantReason == databricks.ReasonTimedOut && elapsed > 2*time.Second {
				t.Errorf("the check took %s, beyond its %s timeout", elapsed, conn.Timeout)
			}
			assertNoSecret(t, err, conn)
		})
	}
}

func TestUnknownHost(t *testing.T) {
	checker := newChecker(t, databricks.Options{})
	conn := storage.Connection{
		Host: "https://no-such-workspace.invalid", AuthType: storage.AuthPAT,
		Secrets: storage.Secrets{Token: "dapi-secret-dns"},
		Catalog: "main", Schema: "default", Volume: "landing", VerifyTLS: true, Timeout: 5 * time.Second,
	}
	err := checker.CheckConnection(context.Background(), conn)
	var ce *storage.ConnectionError
	if errors.As(err, &ce) && ce.Reason == databricks.ReasonTimedOut {
		t.Skip("no DNS answer in this environment")
	}
	ce = assertReason(t, err, databricks.ReasonWorkspaceUnreachable)
	if !strings.Contains(ce.Message, "no-such-workspace.invalid") {
		t.Errorf("message %q does not name the host", ce.Message)
	}
	assertNoSecret(t, err, conn)
}

func TestCancelledContextIsNotAConnectionError(t *testing.T) {
	fw := startFake(t, fakeworkspace.WithDelay(2*time.Second))
	checker := newChecker(t, testOptions(fw))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := checker.CheckConnection(ctx, connFor(fw, storage.AuthPAT))
	var ce *storage.ConnectionError
	if err == nil || errors.As(err, &ce) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a plain error wrapping context.Canceled", err)
	}
}

// TestSDKConfigurationIsIgnored proves that the SDK reads neither the
// environment nor ~/.databrickscfg, and does no discovery requests.
func TestSDKConfigurationIsIgnored(t *testing.T) {
	fw := startFake(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "databrickscfg")
	if err := os.WriteFile(cfgFile, []byte("[DEFAULT]\nhost = https://elsewhere.cloud.databricks.com\ntoken = dapi-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	t.Setenv("DATABRICKS_CONFIG_FILE", cfgFile)
	t.Setenv("DATABRICKS_HOST", "https://elsewhere.cloud.databricks.com")
	t.Setenv("DATABRICKS_TOKEN", "dapi-from-env")
	t.Setenv("DATABRICKS_CLIENT_ID", "env-client")
	t.Setenv("DATABRICKS_CLIENT_SECRET", "env-secret")
	t.Setenv("DATABRICKS_AUTH_TYPE", "oauth-m2m")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")

	checker := newChecker(t, testOptions(fw))
	for _, mode := range []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP} {
		fw.ResetRequests()
		if err := checker.CheckConnection(context.Background(), connFor(fw, mode)); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		for _, r := range fw.Requests() {
			if strings.Contains(r.Authorization, "from-env") || strings.Contains(r.Authorization, "from-file") || strings.Contains(r.Path, "well-known") {
				t.Errorf("%s: unexpected request %+v", mode, r)
			}
		}
	}
}

func TestInvalidConnectionIsAPlainError(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	tests := []func(*storage.Connection){
		func(c *storage.Connection) { c.Host = "http://" + strings.TrimPrefix(c.Host, "https://") },
		func(c *storage.Connection) { c.Host = c.Host + "/path" },
		func(c *storage.Connection) { c.Volume = ".." },
		func(c *storage.Connection) { c.Prefix = "a/../../b" },
		func(c *storage.Connection) { c.AuthType = "basic" },
		func(c *storage.Connection) { c.Secrets.Token = "" },
	}
	for i, mutate := range tests {
		conn := connFor(fw, storage.AuthPAT)
		mutate(&conn)
		err := checker.CheckConnection(context.Background(), conn)
		var ce *storage.ConnectionError
		if err == nil || errors.As(err, &ce) {
			t.Errorf("case %d: err = %v, want a plain error", i, err)
		}
	}
	if n := len(fw.Requests()); n != 0 {
		t.Errorf("%d requests for invalid connections", n)
	}
}

func TestConcurrentChecks(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	modes := []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP}
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			conn := connFor(fw, modes[i%3])
			if i%2 == 1 {
				conn.VerifyTLS = false
			}
			errs <- checker.CheckConnection(context.Background(), conn)
		}()
	}
	for range 30 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkCheckConnection(b *testing.B) {
	fw := startFake(b)
	checker := newChecker(b, testOptions(fw))
	for _, mode := range []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP} {
		b.Run(string(mode), func(b *testing.B) {
			conn := connFor(fw, mode)
			b.ReportAllocs()
			for b.Loop() {
				if err := checker.CheckConnection(context.Background(), conn); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			fw.ResetRequests()
		})
	}
}

func assertReason(t *testing.T, err error, want string) *storage.ConnectionError {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("CheckConnection: %v", err)
		}
		return nil
	}
	var ce *storage.ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want *storage.ConnectionError %s", err, err, want)
	}
	if ce.Reason != want {
		t.Fatalf("Reason = %s (%s), want %s", ce.Reason, ce.Message, want)
	}
	if ce.Err == nil {
		t.Errorf("ConnectionError %s has no underlying Err", ce.Reason)
	}
	return ce
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// assertNoSecret walks everything reachable from err, unexported fields
// included, and fails if any string or byte slice holds a secret of conn,
// in any letter case: plain, URL-encoded, base64-encoded or inside an HTTP
// Basic credential.
func assertNoSecret(t *testing.T, err error, conn storage.Connection) {
	t.Helper()
	var needles []string
	for _, s := range []string{conn.Secrets.Token, conn.Secrets.ClientSecret} {
		if s == "" {
			continue
		}
		needles = append(needles, s, url.QueryEscape(s), url.PathEscape(s))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			needles = append(needles,
				enc.EncodeToString([]byte(s)),
				enc.EncodeToString([]byte(conn.ClientID+":"+s)),
				enc.EncodeToString([]byte(url.QueryEscape(conn.ClientID)+":"+url.QueryEscape(s))))
		}
	}
	for i, n := range needles {
		needles[i] = strings.ToLower(n)
	}
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, path string, depth int)
	check := func(s, path string) {
		s = strings.ToLower(s)
		for _, n := range needles {
			if strings.Contains(s, n) {
				t.Errorf("secret found at %s", path)
				return
			}
		}
	}
	walk = func(v reflect.Value, path string, depth int) {
		if depth > 30 || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem(), path, depth+1)
		case reflect.Interface:
			walk(v.Elem(), path, depth+1)
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), path+"."+v.Type().Field(i).Name, depth+1)
			}
		case reflect.Slice, reflect.Array:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				if v.Kind() == reflect.Slice {
					check(string(v.Bytes()), path)
				}
				return
			}
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		case reflect.Map:
			iter := v.MapRange()
			for iter.Next() {
				walk(iter.Key(), path+"{key}", depth+1)
				walk(iter.Value(), path+"{value}", depth+1)
			}
		case reflect.String:
			check(v.String(), path)
		}
	}
	walk(reflect.ValueOf(err), "err", 0)
	check(err.Error(), "err.Error()")
	for e := err; e != nil; e = errors.Unwrap(e) {
		check(e.Error(), fmt.Sprintf("%T.Error()", e))
		check(fmt.Sprintf("%+v", e), fmt.Sprintf("%T %%+v", e))
	}
}
