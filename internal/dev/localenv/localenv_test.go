package localenv

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// fakeDynamoDB answers the calls Start makes on an existing emulator: the
// table exists, the token is stored.
type fakeDynamoDB struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	target := r.Header.Get("X-Amz-Target")
	f.mu.Lock()
	f.calls = append(f.calls, target)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if strings.HasSuffix(target, ".DescribeTable") {
		_, _ = io.WriteString(w, `{"Table":{"TableName":"t","TableStatus":"ACTIVE"}}`)
		return
	}
	_, _ = io.WriteString(w, `{}`)
}

// TestStartOnAnExistingEndpoint runs without moto: AWS_ENDPOINT_URL names an
// emulator (here a fake), which Start must use as it is.
func TestStartOnAnExistingEndpoint(t *testing.T) {
	fake := &fakeDynamoDB{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)

	e, err := Start(context.Background(), Options{SecretPrefix: "p/"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Moto != nil || e.Endpoint != srv.URL {
		t.Errorf("endpoint %s (moto %v), want the existing %s", e.Endpoint, e.Moto, srv.URL)
	}
	if !strings.HasPrefix(e.Token, "lsdbx_") || e.Table != DefaultTable || e.AWS.Region != "eu-west-1" {
		t.Errorf("token %q, table %q, region %q", e.Token, e.Table, e.AWS.Region)
	}
	if got := strings.Join(fake.calls, " "); !strings.Contains(got, "DescribeTable") || !strings.Contains(got, "PutItem") {
		t.Errorf("calls %s: want the table checked and the token stored", got)
	}
	vars := e.Vars()
	for k, want := range map[string]string{
		"AWS_ENDPOINT_URL":               srv.URL,
		"AWS_REGION":                     "eu-west-1",
		"AWS_ACCESS_KEY_ID":              "local",
		"TABLE_NAME":                     DefaultTable,
		"SECRET_NAME_PREFIX":             "p/",
		"DATABRICKS_ALLOW_PRIVATE_HOSTS": "true",
		"AZURE_AUTHORITY_HOST":           e.WorkspaceURL(),
	} {
		if vars[k] != want {
			t.Errorf("%s = %q, want %q", k, vars[k], want)
		}
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.AppOptions().RootCAs}}}
	if resp, err := trusting.Get(e.WorkspaceURL()); err != nil {
		t.Errorf("AppOptions' roots do not trust the workspace: %v", err)
	} else {
		resp.Body.Close()
	}
	pem, err := os.ReadFile(vars["SSL_CERT_FILE"])
	if err != nil || string(pem) != string(e.Workspace.CertPEM()) {
		t.Errorf("SSL_CERT_FILE does not hold the workspace's certificate: %v", err)
	}
	e.Close()
	e.Close()
	if _, err := os.Stat(vars["SSL_CERT_FILE"]); !os.IsNotExist(err) {
		t.Errorf("certificate file left after Close: %v", err)
	}
}
