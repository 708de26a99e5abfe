package fakeworkspace_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
)

func start(t *testing.T, opts ...fakeworkspace.Option) *fakeworkspace.Server {
	t.Helper()
	fw := fakeworkspace.Default(opts...)
	if err := fw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fw.Close)
	return fw
}

func do(t *testing.T, c *http.Client, method, u, auth string, form url.Values) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestFilesAPI(t *testing.T) {
	fw := start(t)
	c := fw.Client()
	bearer := "Bearer " + fakeworkspace.DefaultPAT
	base := fw.URL() + "/api/2.0/fs/"
	vol := fakeworkspace.DefaultVolumePath
	tests := []struct {
		method, path, auth string
		want               int
		wantBody           string
	}{
		{"HEAD", "directories" + vol, bearer, 200, ""},
		{"HEAD", "directories" + vol + "/images", bearer, 200, ""},
		{"HEAD", "directories" + vol + "/images/", bearer, 200, ""},
		{"HEAD", "directories" + vol + "/readme.txt", bearer, 404, ""},
		{"HEAD", "directories" + vol + "/nope", bearer, 404, ""},
		{"HEAD", "files" + vol + "/readme.txt", bearer, 200, ""},
		{"HEAD", "files" + vol + "/images", bearer, 404, ""},
		{"GET", "files" + vol + "/readme.txt", bearer, 200, "Files of the fake"},
		{"GET", "directories" + vol, bearer, 200, `"name":"readme.txt"`},
		{"GET", "directories" + vol + "/nope", bearer, 404, "NOT_FOUND"},
		{"HEAD", "directories" + vol, "", 401, ""},
		{"GET", "directories" + vol, "Bearer wrong", 401, "UNAUTHENTICATED"},
		{"POST", "files" + vol + "/new.txt", bearer, 405, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		status, hdr, body := do(t, c, tt.method, base+strings.TrimPrefix(tt.path, "/"), tt.auth, nil)
		if status != tt.want || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, status, body, tt.want, tt.wantBody)
		}
		if tt.method == "HEAD" && strings.HasPrefix(tt.path, "files") && status == 200 && hdr.Get("Content-Length") == "" {
			t.Errorf("HEAD %s has no Content-Length", tt.path)
		}
	}

	fw.SetStatus(vol, http.StatusForbidden)
	if status, _, _ := do(t, c, "HEAD", base+"directories"+vol, bearer, nil); status != 403 {
		t.Errorf("forced status = %d, want 403", status)
	}
	fw.SetStatus(vol, 0)
	if status, _, _ := do(t, c, "HEAD", base+"directories"+vol, bearer, nil); status != 200 {
		t.Errorf("status after reset = %d, want 200", status)
	}
}

func TestDirectoryListing(t *testing.T) {
	fw := start(t)
	_, _, body := do(t, fw.Client(), "GET", fw.URL()+"/api/2.0/fs/directories"+fakeworkspace.DefaultVolumePath, "Bearer "+fakeworkspace.DefaultPAT, nil)
	var got struct {
		Contents []struct {
			Path        string `json:"path"`
			IsDirectory bool   `json:"is_directory"`
			Name        string `json:"name"`
		} `json:"contents"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Contents) != 2 || got.Contents[0].Name != "images" || !got.Contents[0].IsDirectory || got.Contents[1].Name != "readme.txt" {
		t.Errorf("listing = %+v", got.Contents)
	}
}

func TestTokenEndpoints(t *testing.T) {
	fw := start(t)
	c := fw.Client()
	spToken := fw.AddServicePrincipal("sp 2", "s&cret+/=")
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	basic := func(id, secret string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return r.Header.Get("Authorization")
	}
	azure := fw.URL() + "/" + fakeworkspace.DefaultAzureTenant + "/oauth2/v2.0/token"
	tests := []struct {
		name, url, auth string
		form            url.Values
		want            int
		wantBody        string
	}{
		{"sp basic", fw.URL() + "/oidc/v1/token", basic("sp 2", "s&cret+/="), with(cc, "scope", "all-apis"), 200, spToken},
		{"sp form", fw.URL() + "/oidc/v1/token", "", with(cc, "scope", "all-apis", "client_id", fakeworkspace.DefaultSPClientID, "client_secret", fakeworkspace.DefaultSPClientSecret), 200, "fake-dbx-oauth-local-sp-client"},
		{"sp wrong secret", fw.URL() + "/oidc/v1/token", basic(fakeworkspace.DefaultSPClientID, "x"), with(cc, "scope", "all-apis"), 401, "invalid_client"},
		{"sp no scope", fw.URL() + "/oidc/v1/token", basic(fakeworkspace.DefaultSPClientID, fakeworkspace.DefaultSPClientSecret), cc, 400, "invalid_scope"},
		{"sp wrong grant", fw.URL() + "/oidc/v1/token", basic(fakeworkspace.DefaultSPClientID, fakeworkspace.DefaultSPClientSecret), url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"azure", azure, "", with(cc, "scope", fakeworkspace.AzureDatabricksScope, "client_id", fakeworkspace.DefaultAzureClientID, "client_secret", fakeworkspace.DefaultAzureClientSecret), 200, "fake-aad-local-tenant-local-azure-client"},
		{"azure wrong secret", azure, "", with(cc, "scope", fakeworkspace.AzureDatabricksScope, "client_id", fakeworkspace.DefaultAzureClientID, "client_secret", "x"), 401, `"error_codes":[7000215]`},
		{"azure wrong scope", azure, "", with(cc, "scope", "all-apis", "client_id", fakeworkspace.DefaultAzureClientID, "client_secret", fakeworkspace.DefaultAzureClientSecret), 400, "invalid_scope"},
		{"azure unknown tenant", fw.URL() + "/nobody/oauth2/v2.0/token", "", with(cc, "scope", fakeworkspace.AzureDatabricksScope, "client_id", fakeworkspace.DefaultAzureClientID, "client_secret", fakeworkspace.DefaultAzureClientSecret), 400, "AADSTS90002"},
	}
	for _, tt := range tests {
		status, _, body := do(t, c, "POST", tt.url, tt.auth, tt.form)
		if status != tt.want || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: %d %s, want %d containing %q", tt.name, status, body, tt.want, tt.wantBody)
		}
	}
	// The issued tokens open the Files API.
	for _, tok := range []string{spToken, "fake-aad-local-tenant-local-azure-client"} {
		if status, _, _ := do(t, c, "HEAD", fw.URL()+"/api/2.0/fs/directories"+fakeworkspace.DefaultVolumePath, "Bearer "+tok, nil); status != 200 {
			t.Errorf("token %s: status %d", tok, status)
		}
	}
	status, _, body := do(t, c, "GET", fw.URL()+"/oidc/.well-known/oauth-authorization-server", "", nil)
	if status != 200 || !strings.Contains(body, fw.URL()+"/oidc/v1/token") {
		t.Errorf("discovery: %d %s", status, body)
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	fw := start(t)
	c := fw.Client()
	do(t, c, "POST", fw.URL()+"/oidc/v1/token", "Basic abc", url.Values{"grant_type": {"client_credentials"}})
	do(t, c, "HEAD", fw.URL()+"/api/2.0/fs/directories/Volumes/a%20b/c", "Bearer x", nil)
	got := fw.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	if got[0].Method != "POST" || got[0].Authorization != "Basic abc" || got[0].Form.Get("grant_type") != "client_credentials" {
		t.Errorf("request 0 = %+v", got[0])
	}
	if got[1].Path != "/api/2.0/fs/directories/Volumes/a b/c" || got[1].EscapedPath != "/api/2.0/fs/directories/Volumes/a%20b/c" {
		t.Errorf("request 1 = %+v", got[1])
	}
	got[0].Form.Set("grant_type", "tampered")
	if fw.Requests()[0].Form.Get("grant_type") != "client_credentials" {
		t.Error("Requests shares its form values")
	}
	fw.ResetRequests()
	if n := len(fw.Requests()); n != 0 {
		t.Errorf("%d requests after reset", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	fw := start(t)
	c := fw.Client()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			req, _ := http.NewRequest("HEAD", fw.URL()+"/api/2.0/fs/directories"+fakeworkspace.DefaultVolumePath, nil)
			req.Header.Set("Authorization", "Bearer "+fakeworkspace.DefaultPAT)
			if resp, err := c.Do(req); err == nil {
				_ = resp.Body.Close()
			}
			fw.AddDirectory("/Volumes/x/y/z/" + string(rune('a'+i)))
			_ = fw.Requests()
		})
	}
	wg.Wait()
	if n := len(fw.Requests()); n != 20 {
		t.Errorf("%d requests, want 20", n)
	}
}

func TestCertificate(t *testing.T) {
	fw := fakeworkspace.New()
	if fw.CertPool() != nil || fw.CertPEM() != nil || fw.URL() != "" {
		t.Error("certificate or URL before Start")
	}
	if err := fw.Start(); err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	if err := fw.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(fw.CertPEM()) {
		t.Fatal("CertPEM is not a PEM certificate")
	}
	for _, roots := range []*x509.CertPool{pool, fw.CertPool()} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		resp, err := c.Get(fw.URL() + "/")
		if err != nil {
			t.Fatalf("GET with the fake's certificate trusted: %v", err)
		}
		_ = resp.Body.Close()
		c.CloseIdleConnections()
	}
	if _, err := http.Get(fw.URL() + "/"); err == nil {
		t.Error("the certificate is trusted without being added")
	}
}

func TestWithAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	fw := start(t, fakeworkspace.WithAddr(addr))
	if fw.URL() != "https://"+addr {
		t.Errorf("URL = %s, want https://%s", fw.URL(), addr)
	}
	busy := fakeworkspace.New(fakeworkspace.WithAddr(addr))
	defer busy.Close()
	if err := busy.Start(); err == nil {
		t.Error("Start on a busy address succeeded")
	}
}

func TestDelay(t *testing.T) {
	fw := start(t, fakeworkspace.WithDelay(150*time.Millisecond))
	begin := time.Now()
	do(t, fw.Client(), "HEAD", fw.URL()+"/api/2.0/fs/directories"+fakeworkspace.DefaultVolumePath, "Bearer "+fakeworkspace.DefaultPAT, nil)
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("answered after %s, want at least 150ms", d)
	}

	fw.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "HEAD", fw.URL()+"/", nil)
	if _, err := fw.Client().Do(req); err == nil {
		t.Error("a delayed answer came before the client's deadline")
	}
	closed := make(chan struct{})
	go func() { fw.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs on a delayed request")
	}
}

func TestListenAndServe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fakeworkspace.ListenAndServe(ctx, addr) }()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer c.CloseIdleConnections()
	var status int
	for range 50 {
		req, _ := http.NewRequest("HEAD", "https://"+addr+"/api/2.0/fs/directories"+fakeworkspace.DefaultVolumePath, nil)
		req.Header.Set("Authorization", "Bearer "+fakeworkspace.DefaultPAT)
		if resp, err := c.Do(req); err == nil {
			status = resp.StatusCode
			_ = resp.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status != 200 {
		t.Errorf("status = %d, want 200", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
}

type listingPage struct {
	Contents []struct {
		Path         string `json:"path"`
		IsDirectory  bool   `json:"is_directory"`
		FileSize     int64  `json:"file_size"`
		LastModified int64  `json:"last_modified"`
		Name         string `json:"name"`
	} `json:"contents"`
	NextPageToken string `json:"next_page_token"`
}

func getPage(t *testing.T, fw *fakeworkspace.Server, dir, query string) (int, listingPage) {
	t.Helper()
	u := fw.URL() + "/api/2.0/fs/directories" + dir
	if query != "" {
		u += "?" + query
	}
	status, _, body := do(t, fw.Client(), "GET", u, "Bearer "+fakeworkspace.DefaultPAT, nil)
	var page listingPage
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, body)
		}
	}
	return status, page
}

// listAll follows next_page_token through a directory and returns the
// names it listed and the number of pages.
func listAll(t *testing.T, fw *fakeworkspace.Server, dir, extra string) ([]string, int) {
	t.Helper()
	var names []string
	token, pages := "", 0
	for {
		q := url.Values{}
		if token != "" {
			q.Set("page_token", token)
		}
		query := q.Encode()
		if extra != "" {
			query = strings.TrimPrefix(query+"&"+extra, "&")
		}
		status, page := getPage(t, fw, dir, query)
		if status != http.StatusOK {
			t.Fatalf("page %d: status %d", pages, status)
		}
		pages++
		for _, e := range page.Contents {
			names = append(names, e.Name)
		}
		if page.NextPageToken == "" {
			return names, pages
		}
		if pages > 100 {
			t.Fatal("the listing does not end")
		}
		token = page.NextPageToken
	}
}

func TestDirectoryListingPagination(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	all := []string{"a.txt", "b", "c.txt", "images", "readme.txt"}
	tests := []struct {
		name      string
		pageSize  int // 0: the default
		query     string
		wantPages int
	}{
		{"default page size", 0, "", 1},
		{"one entry a page", 1, "", 5},
		{"two entries a page", 2, "", 3},
		{"page_size asks for fewer", 0, "page_size=2", 3},
		{"page_size cannot ask for more", 2, "page_size=4", 3},
		{"page size of the listing's length", 5, "", 1},
		{"page size beyond the maximum", fakeworkspace.MaxPageSize + 1, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []fakeworkspace.Option
			if tt.pageSize != 0 {
				opts = append(opts, fakeworkspace.WithPageSize(tt.pageSize))
			}
			fw := start(t, opts...)
			fw.AddFile(vol+"/c.txt", nil)
			fw.AddFile(vol+"/a.txt", nil)
			fw.AddDirectory(vol + "/b")
			names, pages := listAll(t, fw, vol, tt.query)
			if strings.Join(names, ",") != strings.Join(all, ",") || pages != tt.wantPages {
				t.Errorf("listed %v in %d pages, want %v in %d", names, pages, all, tt.wantPages)
			}
			for _, r := range fw.Requests()[1:] {
				if !strings.Contains(r.RawQuery, "page_token=") {
					t.Errorf("a later page was asked without a token: %q", r.RawQuery)
				}
			}
		})
	}
}

func TestSetPageSize(t *testing.T) {
	fw := start(t)
	fw.SetPageSize(1)
	if names, pages := listAll(t, fw, fakeworkspace.DefaultVolumePath, ""); len(names) != 2 || pages != 2 {
		t.Errorf("listed %v in %d pages, want 2 in 2", names, pages)
	}
	fw.SetPageSize(0)
	if names, pages := listAll(t, fw, fakeworkspace.DefaultVolumePath, ""); len(names) != 2 || pages != 1 {
		t.Errorf("listed %v in %d pages, want 2 in 1", names, pages)
	}
}

func TestDirectoryListingEntries(t *testing.T) {
	fw := start(t, fakeworkspace.WithPageSize(2))
	vol := fakeworkspace.DefaultVolumePath
	when := time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("X", 3600))
	fw.AddFileAt(vol+"/images/2025/a.jpg", []byte("12345"), when)
	fw.AddFile(vol+"/images/empty", nil)
	_, page := getPage(t, fw, vol+"/images", "")
	if len(page.Contents) != 2 || page.NextPageToken == "" {
		t.Fatalf("first page = %+v", page)
	}
	d := page.Contents[0]
	if d.Path != vol+"/images/2025/" || !d.IsDirectory || d.Name != "2025" || d.FileSize != 0 || d.LastModified != 0 {
		t.Errorf("directory entry = %+v", d)
	}
	if f := page.Contents[1]; f.Path != vol+"/images/cat.jpg" || f.IsDirectory || f.Name != "cat.jpg" || f.FileSize == 0 || f.LastModified == 0 {
		t.Errorf("file entry = %+v", f)
	}
	_, page = getPage(t, fw, vol+"/images", "page_token="+url.QueryEscape(page.NextPageToken))
	if len(page.Contents) != 1 || page.Contents[0].Name != "empty" || page.Contents[0].FileSize != 0 || page.NextPageToken != "" {
		t.Errorf("last page = %+v", page)
	}
	_, page = getPage(t, fw, vol+"/images/2025", "")
	if len(page.Contents) != 1 {
		t.Fatalf("2025 = %+v", page)
	}
	if f := page.Contents[0]; f.FileSize != 5 || f.LastModified != when.UnixMilli() || f.LastModified%1000 != 891 {
		t.Errorf("file entry = %+v, want size 5 and last_modified %d", f, when.UnixMilli())
	}

	// A token stays valid when entries change between pages: the next page
	// starts after the last entry listed.
	_, first := getPage(t, fw, vol+"/images", "")
	fw.AddFile(vol+"/images/aaa.jpg", nil) // before the token: not listed
	fw.AddFile(vol+"/images/zzz.jpg", nil) // after it: listed
	_, next := getPage(t, fw, vol+"/images", "page_token="+url.QueryEscape(first.NextPageToken))
	var names []string
	for _, e := range next.Contents {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "empty,zzz.jpg" {
		t.Errorf("after changes, the next page lists %v", names)
	}

	for _, q := range []string{"page_token=%21%21", "page_token=", "page_size=-1", "page_size=x"} {
		status, _, body := do(t, fw.Client(), "GET", fw.URL()+"/api/2.0/fs/directories"+vol+"?"+q, "Bearer "+fakeworkspace.DefaultPAT, nil)
		if q == "page_token=" {
			if status != http.StatusOK {
				t.Errorf("%s: status %d, want 200 (an empty token is no token)", q, status)
			}
			continue
		}
		if status != http.StatusBadRequest || !strings.Contains(body, "INVALID_PARAMETER_VALUE") {
			t.Errorf("%s: %d %s, want 400 INVALID_PARAMETER_VALUE", q, status, body)
		}
	}
}

func TestPathDelay(t *testing.T) {
	fw := start(t)
	vol := fakeworkspace.DefaultVolumePath
	fw.SetPathDelay(vol+"/images/", 300*time.Millisecond)
	timed := func(p string) time.Duration {
		begin := time.Now()
		getPage(t, fw, p, "")
		return time.Since(begin)
	}
	if d := timed(vol + "/images"); d < 300*time.Millisecond {
		t.Errorf("the delayed directory answered after %s", d)
	}
	if d := timed(vol); d >= 300*time.Millisecond {
		t.Errorf("its parent answered after %s, delayed too", d)
	}
	fw.SetPathDelay(vol+"/images", 0)
	if d := timed(vol + "/images"); d >= 300*time.Millisecond {
		t.Errorf("the delay was not removed: %s", d)
	}
}

// TestRouting pins how the fake answers the edges of its routes: a method an
// endpoint does not take gets that API's own error (before authentication),
// a path that is no API gets the workspace's ENDPOINT_NOT_FOUND, never a
// redirect or net/http's plain-text answers, and escaped paths and paths
// with empty, "." or ".." segments route as their decoded, clean form.
func TestRouting(t *testing.T) {
	fw := start(t)
	c := fw.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	bearer := "Bearer " + fakeworkspace.DefaultPAT
	vol := fakeworkspace.DefaultVolumePath
	tenant := fakeworkspace.DefaultAzureTenant
	tests := []struct {
		name, method, path, auth string
		form                     url.Values
		want                     int
		wantBody                 string // "" : no body (a HEAD)
	}{
		{"put directory", "PUT", "/api/2.0/fs/directories" + vol, bearer, nil, 405, `{"error_code":"BAD_REQUEST","message":"The fake workspace only reads"}`},
		{"delete file without auth", "DELETE", "/api/2.0/fs/files" + vol + "/readme.txt", "", nil, 401, `"error_code":"UNAUTHENTICATED"`},
		{"post file", "POST", "/api/2.0/fs/files" + vol + "/readme.txt", bearer, url.Values{}, 405, `"error_code":"BAD_REQUEST"`},
		{"get databricks token", "GET", "/oidc/v1/token", "", nil, 405, `{"error":"invalid_request","error_description":"POST required"}`},
		{"head databricks token", "HEAD", "/oidc/v1/token", "", nil, 405, ""},
		{"post discovery", "POST", "/oidc/.well-known/oauth-authorization-server", "", url.Values{}, 405, `{"error_code":"BAD_REQUEST","message":"method not allowed"}`},
		{"head discovery", "HEAD", "/oidc/.well-known/oauth-authorization-server", "", nil, 200, ""},
		{"get azure token", "GET", "/" + tenant + "/oauth2/v2.0/token", "", nil, 405, `"error_codes":[900561]`},
		{"directories root without slash", "GET", "/api/2.0/fs/directories", bearer, nil, 404, `"error_code":"ENDPOINT_NOT_FOUND"`},
		{"files root without slash", "HEAD", "/api/2.0/fs/files", bearer, nil, 404, ""},
		{"directories root", "GET", "/api/2.0/fs/directories/", bearer, nil, 404, `"message":"The directory being accessed is not found."`},
		{"directories root without auth", "GET", "/api/2.0/fs/directories/", "", nil, 401, `"error_code":"UNAUTHENTICATED"`},
		{"unknown path", "GET", "/nothing/here", "", nil, 404, `{"error_code":"ENDPOINT_NOT_FOUND","message":"No API found for 'GET /nothing/here'"}`},
		{"unknown path decoded", "GET", "/no%20thing", "", nil, 404, `No API found for 'GET /no thing'`},
		{"root", "GET", "/", "", nil, 404, `"error_code":"ENDPOINT_NOT_FOUND"`},
		{"upper-case api", "GET", "/API/2.0/fs/directories" + vol, bearer, nil, 404, `"error_code":"ENDPOINT_NOT_FOUND"`},
		{"token with trailing slash", "POST", "/oidc/v1/token/", "", url.Values{}, 404, `"error_code":"ENDPOINT_NOT_FOUND"`},
		{"azure token two segments deep", "POST", "/a/b/oauth2/v2.0/token", "", url.Values{}, 404, `"error_code":"ENDPOINT_NOT_FOUND"`},
		{"azure tenant with escaped slash", "POST", "/a%2Fb/oauth2/v2.0/token", "", url.Values{}, 404, `"error_code":"ENDPOINT_NOT_FOUND"`},
		{"azure tenant escaped", "POST", "/no%20body/oauth2/v2.0/token", "", url.Values{"grant_type": {"client_credentials"}}, 400, `Tenant 'no body' not found.`},
		{"file with escaped slash", "GET", "/api/2.0/fs/files" + vol + "%2Freadme.txt", bearer, nil, 200, "Files of the fake"},
		{"escaped api segment", "GET", "/api/2.0/fs/%64irectories" + vol, bearer, nil, 200, `"name":"readme.txt"`},
		{"directory with trailing slash", "GET", "/api/2.0/fs/directories" + vol + "/", bearer, nil, 200, `"name":"readme.txt"`},
		{"directory with dot-dot", "GET", "/api/2.0/fs/directories" + vol + "/images/..", bearer, nil, 200, `"name":"readme.txt"`},
		{"directory with empty segment", "GET", "/api/2.0/fs/directories/" + vol, bearer, nil, 200, `"name":"readme.txt"`},
		{"file with dot", "GET", "/api/2.0/fs/files" + vol + "/./readme.txt", bearer, nil, 200, "Files of the fake"},
		{"file with escaped dot-dot", "GET", "/api/2.0/fs/files" + vol + "/%2E%2E/landing/readme.txt", bearer, nil, 200, "Files of the fake"},
		{"directory that is a file", "GET", "/api/2.0/fs/directories" + vol + "/readme.txt", bearer, nil, 404, `is a file`},
		{"file that is a directory", "GET", "/api/2.0/fs/files" + vol + "/images", bearer, nil, 404, `"message":"The file being accessed is not found."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := do(t, c, tt.method, fw.URL()+tt.path, tt.auth, tt.form)
			if status != tt.want || !strings.Contains(body, tt.wantBody) || (tt.wantBody == "" && body != "") {
				t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.path, status, body, tt.want, tt.wantBody)
			}
			if ct := hdr.Get("Content-Type"); status != 200 && ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	tests := []struct {
		remove string
		want   []string // the volume's listing after
	}{
		{vol + "/a/b", []string{"a", "ab.txt", "images", "readme.txt"}},
		{vol + "/a", []string{"ab.txt", "images", "readme.txt"}},
		{vol + "/ab.txt", []string{"a", "images", "readme.txt"}},
		{vol + "/missing", []string{"a", "ab.txt", "images", "readme.txt"}},
	}
	for _, tt := range tests {
		fw := start(t)
		fw.AddFile(vol+"/a/b/c.txt", nil)
		fw.AddFile(vol+"/ab.txt", nil) // shares the prefix "a" of a, not its path
		fw.Remove(tt.remove)
		if names, _ := listAll(t, fw, vol, ""); strings.Join(names, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Remove(%s): listed %v, want %v", tt.remove, names, tt.want)
		}
		status, _, _ := do(t, fw.Client(), "GET", fw.URL()+"/api/2.0/fs/directories"+tt.remove, "Bearer "+fakeworkspace.DefaultPAT, nil)
		if status != http.StatusNotFound {
			t.Errorf("Remove(%s): listing it answers %d, want 404", tt.remove, status)
		}
	}
}

// send sends a request with a raw body and the workspace's bearer token
// (auth "" sends none).
func send(t *testing.T, fw *fakeworkspace.Server, method, p, auth string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fw.URL()+"/api/2.0/fs/files"+p, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := fw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFileWrites(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	bearer := "Bearer " + fakeworkspace.DefaultPAT
	tests := []struct {
		name, method, path, auth string
		body                     []byte
		want                     int
		wantBody                 string
		wantFile                 string // the file's content after; "-" none
	}{
		{"create", "PUT", vol + "/out/1?overwrite=false", bearer, []byte(`{"id":1}`), 204, "", `{"id":1}`},
		{"create deep", "PUT", vol + "/a/b/c/1", bearer, []byte("x"), 204, "", "x"},
		{"create empty", "PUT", vol + "/empty", bearer, []byte{}, 204, "", ""},
		{"overwrite", "PUT", vol + "/readme.txt?overwrite=true", bearer, []byte("new"), 204, "", "new"},
		{"no overwrite", "PUT", vol + "/readme.txt?overwrite=false", bearer, []byte("new"), 409, `"error_code":"ALREADY_EXISTS"`, "Files of the fake Databricks workspace.\n"},
		{"overwrite by default false", "PUT", vol + "/readme.txt", bearer, []byte("new"), 409, `"error_code":"ALREADY_EXISTS"`, "Files of the fake Databricks workspace.\n"},
		{"bad overwrite", "PUT", vol + "/x?overwrite=yes", bearer, []byte("new"), 400, `INVALID_PARAMETER_VALUE`, "-"},
		{"onto a directory", "PUT", vol + "/images?overwrite=true", bearer, []byte("x"), 409, `is a directory`, "-"},
		{"under a file", "PUT", vol + "/readme.txt/x?overwrite=true", bearer, []byte("x"), 409, `is a file`, "-"},
		{"outside volumes", "PUT", "/tmp/x", bearer, []byte("x"), 404, `"error_code":"NOT_FOUND"`, "-"},
		{"unknown volume", "PUT", "/Volumes/main/default/nope/x", bearer, []byte("x"), 404, `"error_code":"NOT_FOUND"`, "-"},
		{"the volume itself", "PUT", vol, bearer, []byte("x"), 404, `"error_code":"NOT_FOUND"`, "-"},
		{"put without auth", "PUT", vol + "/x", "", []byte("x"), 401, "UNAUTHENTICATED", "-"},
		{"put with a wrong token", "PUT", vol + "/x", "Bearer nope", []byte("x"), 401, "UNAUTHENTICATED", "-"},
		{"delete", "DELETE", vol + "/readme.txt", bearer, nil, 204, "", "-"},
		{"delete missing", "DELETE", vol + "/nope", bearer, nil, 404, `"error_code":"NOT_FOUND"`, "-"},
		{"delete a directory", "DELETE", vol + "/images", bearer, nil, 404, `"error_code":"NOT_FOUND"`, "-"},
		{"delete without auth", "DELETE", vol + "/readme.txt", "", nil, 401, "UNAUTHENTICATED", "Files of the fake Databricks workspace.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := start(t)
			status, body := send(t, fw, tt.method, tt.path, tt.auth, tt.body)
			if status != tt.want || !strings.Contains(body, tt.wantBody) || (tt.wantBody == "" && body != "") {
				t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.path, status, body, tt.want, tt.wantBody)
			}
			p, _, _ := strings.Cut(tt.path, "?")
			got, ok := fw.File(p)
			if tt.wantFile == "-" && ok || tt.wantFile != "-" && string(got) != tt.wantFile {
				t.Errorf("File(%s) = %q, %v; want %q", p, got, ok, tt.wantFile)
			}
		})
	}
}

func TestFileWritesAreServed(t *testing.T) {
	fw := start(t)
	vol := fakeworkspace.DefaultVolumePath
	bearer := "Bearer " + fakeworkspace.DefaultPAT
	if status, _ := send(t, fw, "PUT", vol+"/out/a/1.json?overwrite=true", bearer, []byte("one")); status != 204 {
		t.Fatalf("PUT = %d", status)
	}
	if status, _, body := do(t, fw.Client(), "GET", fw.URL()+"/api/2.0/fs/files"+vol+"/out/a/1.json", bearer, nil); status != 200 || body != "one" {
		t.Errorf("GET after PUT = %d %q", status, body)
	}
	if names, _ := listAll(t, fw, vol+"/out", ""); strings.Join(names, ",") != "a" {
		t.Errorf("listing of the new directory = %v", names)
	}
	if status, _ := send(t, fw, "DELETE", vol+"/out/a/1.json", bearer, nil); status != 204 {
		t.Fatalf("DELETE = %d", status)
	}
	if names, _ := listAll(t, fw, vol+"/out/a", ""); len(names) != 0 {
		t.Errorf("listing after DELETE = %v", names)
	}
	if got := fw.Requests(); got[0].ContentType != "application/octet-stream" {
		t.Errorf("recorded Content-Type %q", got[0].ContentType)
	}
}

func TestRefuseWrites(t *testing.T) {
	fw := start(t)
	vol := fakeworkspace.DefaultVolumePath
	bearer := "Bearer " + fakeworkspace.DefaultPAT
	fw.RefuseWrites(http.StatusServiceUnavailable)
	if status, body := send(t, fw, "PUT", vol+"/x?overwrite=true", bearer, []byte("x")); status != 503 || !strings.Contains(body, "TEMPORARILY_UNAVAILABLE") {
		t.Errorf("refused PUT = %d %q", status, body)
	}
	if status, _ := send(t, fw, "DELETE", vol+"/readme.txt", bearer, nil); status != 503 {
		t.Errorf("refused DELETE = %d", status)
	}
	if status, _ := send(t, fw, "PUT", vol+"/x", "", []byte("x")); status != 401 {
		t.Errorf("refused PUT without auth = %d, want 401 first", status)
	}
	if status, _, _ := do(t, fw.Client(), "GET", fw.URL()+"/api/2.0/fs/files"+vol+"/readme.txt", bearer, nil); status != 200 {
		t.Errorf("GET while writes are refused = %d", status)
	}
	if _, ok := fw.File(vol + "/x"); ok {
		t.Error("a refused PUT wrote")
	}
	fw.RefuseWrites(0)
	if status, _ := send(t, fw, "PUT", vol+"/x", bearer, []byte("x")); status != 204 {
		t.Errorf("PUT after RefuseWrites(0) = %d", status)
	}
	fw.SetStatus(vol+"/x", http.StatusForbidden)
	if status, _ := send(t, fw, "DELETE", vol+"/x", bearer, nil); status != 403 {
		t.Errorf("DELETE with SetStatus 403 = %d", status)
	}
}
