// Package fakeworkspace is a fake Databricks workspace over HTTPS, for tests
// and for the local development server. It serves what the connection check
// and the files preview call:
//
//   - the Files API: HEAD and GET of /api/2.0/fs/directories/<path> (directory
//     metadata and listing, paginated by page_size, page_token and
//     next_page_token as the real API is; see SetPageSize) and of
//     /api/2.0/fs/files/<path> (file metadata and download), for bearer
//     tokens it knows;
//   - Databricks OAuth M2M: POST /oidc/v1/token (client credentials, client
//     authentication by HTTP Basic or form fields, scope all-apis) and the
//     discovery document /oidc/.well-known/oauth-authorization-server;
//   - an Azure AD (Microsoft Entra ID) token endpoint, POST
//     /{tenant}/oauth2/v2.0/token, with scope AzureDatabricksScope, so tests
//     can point the Azure authority at the same server.
//
// The server uses httptest's built-in self-signed certificate, valid for
// 127.0.0.1, ::1 and example.com; clients trust it through CertPool or
// CertPEM, or skip verification. Every request is recorded (Requests).
//
// Default returns a server with ready-made contents for local runs:
//
//	volume        /Volumes/main/default/landing  (catalog main, schema default, volume landing)
//	directory     /Volumes/main/default/landing/images   (prefix "images", holding cat.jpg)
//	file          /Volumes/main/default/landing/readme.txt
//	PAT           dapi-local-test-token
//	Databricks SP client_id local-sp-client, client_secret local-sp-secret
//	Azure AD app  tenant_id local-tenant, client_id local-azure-client, client_secret local-azure-secret
package fakeworkspace

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AzureDatabricksScope is the scope an Azure AD token request must ask for:
// the Azure Databricks resource's application id.
const AzureDatabricksScope = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"

// The contents of Default.
const (
	DefaultAddr              = "127.0.0.1:8443"
	DefaultCatalog           = "main"
	DefaultSchema            = "default"
	DefaultVolume            = "landing"
	DefaultVolumePath        = "/Volumes/main/default/landing"
	DefaultPrefix            = "images"
	DefaultFile              = "readme.txt"
	DefaultPAT               = "dapi-local-test-token"
	DefaultSPClientID        = "local-sp-client"
	DefaultSPClientSecret    = "local-sp-secret"
	DefaultAzureTenant       = "local-tenant"
	DefaultAzureClientID     = "local-azure-client"
	DefaultAzureClientSecret = "local-azure-secret"
)

// Request is one recorded request.
type Request struct {
	Method string
	// Path is the decoded URL path, EscapedPath the path as sent.
	Path        string
	EscapedPath string
	RawQuery    string
	// Authorization is the Authorization header as sent.
	Authorization string
	// Form holds the form fields of a form-encoded POST body.
	Form url.Values
	Time time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithAddr makes Start listen on addr (e.g. DefaultAddr) instead of a
// random loopback port.
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithDelay delays every answer by d (see SetDelay).
func WithDelay(d time.Duration) Option { return func(s *Server) { s.delay = d } }

// WithPageSize makes a directory listing page hold at most n entries (see
// SetPageSize).
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// WithErrorLog sends the HTTP server's own errors (e.g. failed TLS
// handshakes) to l; they are discarded by default.
func WithErrorLog(l *log.Logger) Option { return func(s *Server) { s.errorLog = l } }

type principal struct {
	secret, token string
}

type file struct {
	content  []byte
	modified time.Time
}

// Server is a fake Databricks workspace. Its methods are safe for concurrent
// use, also while it serves.
type Server struct {
	ts       *httptest.Server
	addr     string
	errorLog *log.Logger
	done     chan struct{}
	close    sync.Once

	mu        sync.Mutex
	started   bool
	delay     time.Duration
	pathDelay map[string]time.Duration // Files API path → extra delay
	pageSize  int
	tokens    map[string]bool                 // bearer tokens the Files API accepts
	sps       map[string]principal            // client id → secret, token
	azure     map[string]map[string]principal // tenant → client id → secret, token
	dirs      map[string]bool
	files     map[string]file
	status    map[string]int
	requests  []Request
}

// MaxPageSize is the largest directory listing page, the real API's default
// and maximum.
const MaxPageSize = 1000

// New returns an empty, unstarted server.
func New(opts ...Option) *Server {
	s := &Server{
		done:      make(chan struct{}),
		pathDelay: map[string]time.Duration{},
		pageSize:  MaxPageSize,
		tokens:    map[string]bool{},
		sps:       map[string]principal{},
		azure:     map[string]map[string]principal{},
		dirs:      map[string]bool{},
		files:     map[string]file{},
		status:    map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.errorLog == nil {
		s.errorLog = log.New(io.Discard, "", 0)
	}
	s.ts = httptest.NewUnstartedServer(s)
	s.ts.Config.ErrorLog = s.errorLog
	s.ts.EnableHTTP2 = true
	return s
}

// Default returns an unstarted server with the contents documented in the
// package comment.
func Default(opts ...Option) *Server {
	s := New(opts...)
	s.AddPAT(DefaultPAT)
	s.AddServicePrincipal(DefaultSPClientID, DefaultSPClientSecret)
	s.AddAzureApp(DefaultAzureTenant, DefaultAzureClientID, DefaultAzureClientSecret)
	s.AddDirectory(DefaultVolumePath + "/" + DefaultPrefix)
	s.AddFile(DefaultVolumePath+"/"+DefaultFile, []byte("Files of the fake Databricks workspace.\n"))
	s.AddFile(DefaultVolumePath+"/"+DefaultPrefix+"/cat.jpg", []byte("\xff\xd8\xff\xe0 not really a JPEG"))
	return s
}

// Start starts serving HTTPS. It fails when the address of WithAddr cannot
// be bound or the server was started before.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("fakeworkspace: already started")
	}
	if s.addr != "" {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("fakeworkspace: listen on %s: %w", s.addr, err)
		}
		_ = s.ts.Listener.Close()
		s.ts.Listener = l
	}
	s.ts.StartTLS()
	s.started = true
	return nil
}

// Close stops the server, aborting delayed answers, and waits for requests
// in flight.
func (s *Server) Close() {
	s.close.Do(func() { close(s.done) })
	s.ts.Close()
}

// ListenAndServe serves a Default workspace on addr until ctx is done.
func ListenAndServe(ctx context.Context, addr string) error {
	s := Default(WithAddr(addr))
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	s.Close()
	return nil
}

// URL returns the base URL, https://127.0.0.1:<port>; empty before Start.
func (s *Server) URL() string { return s.ts.URL }

// Certificate returns the server's self-signed certificate; nil before
// Start.
func (s *Server) Certificate() *x509.Certificate { return s.ts.Certificate() }

// CertPool returns a pool holding only the server's certificate; nil before
// Start.
func (s *Server) CertPool() *x509.CertPool {
	c := s.Certificate()
	if c == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// CertPEM returns the server's certificate PEM-encoded; nil before Start.
func (s *Server) CertPEM() []byte {
	c := s.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// AddPAT makes the Files API accept token as a personal access token.
func (s *Server) AddPAT(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
}

// AddServicePrincipal registers a Databricks service principal for OAuth
// M2M and returns the access token /oidc/v1/token issues for it.
func (s *Server) AddServicePrincipal(clientID, secret string) (accessToken string) {
	accessToken = "fake-dbx-oauth-" + clientID
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sps[clientID] = principal{secret: secret, token: accessToken}
	s.tokens[accessToken] = true
	return accessToken
}

// AddAzureApp registers an Azure AD application in tenant and returns the
// access token the Azure token endpoint issues for it.
func (s *Server) AddAzureApp(tenant, clientID, secret string) (accessToken string) {
	accessToken = "fake-aad-" + tenant + "-" + clientID
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.azure[tenant] == nil {
		s.azure[tenant] = map[string]principal{}
	}
	s.azure[tenant][clientID] = principal{secret: secret, token: accessToken}
	s.tokens[accessToken] = true
	return accessToken
}

// AddDirectory creates the directory p (e.g. /Volumes/main/default/landing/images)
// and its parents.
func (s *Server) AddDirectory(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addDirLocked(cleanPath(p))
}

func (s *Server) addDirLocked(p string) {
	for ; p != "/"; p = path.Dir(p) {
		s.dirs[p] = true
	}
}

// AddFile creates the file p with content, and its parent directories. Its
// modification time is now, to the second.
func (s *Server) AddFile(p string, content []byte) {
	s.AddFileAt(p, content, time.Now().Truncate(time.Second))
}

// AddFileAt creates the file p with content and modification time modified
// (kept to the millisecond, as the Files API reports it), and its parent
// directories.
func (s *Server) AddFileAt(p string, content []byte, modified time.Time) {
	p = cleanPath(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addDirLocked(path.Dir(p))
	s.files[p] = file{content: slices.Clone(content), modified: modified.UTC().Truncate(time.Millisecond)}
}

// SetStatus makes every Files API request for p answer status (e.g. 403 or
// 500) instead of the real answer; 0 removes the override.
func (s *Server) SetStatus(p string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.status, cleanPath(p))
		return
	}
	s.status[cleanPath(p)] = status
}

// SetDelay delays every answer by d; a delayed answer is abandoned when the
// client goes away.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetPathDelay delays every Files API answer for p (its directory listing
// pages and metadata) by d, on top of SetDelay's delay; 0 removes it.
func (s *Server) SetPathDelay(p string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.pathDelay, cleanPath(p))
		return
	}
	s.pathDelay[cleanPath(p)] = d
}

// SetPageSize makes a directory listing page hold at most n entries, fewer
// when the request's page_size asks so; n outside 1..MaxPageSize means
// MaxPageSize. A listing with more entries ends its page with a
// next_page_token.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// Requests returns a copy of the requests recorded so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Form = cloneValues(r.Form)
		out[i] = r
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP records the request, waits for the configured delay and answers
// it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		EscapedPath:   r.URL.EscapedPath(),
		RawQuery:      r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		Time:          time.Now(),
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "unreadable form body"})
			return
		}
		rec.Form = cloneValues(r.PostForm)
	}
	const (
		dirsPrefix  = "/api/2.0/fs/directories"
		filesPrefix = "/api/2.0/fs/files"
	)
	p := r.URL.Path
	target, isDirs, isFiles := "", strings.HasPrefix(p, dirsPrefix+"/"), strings.HasPrefix(p, filesPrefix+"/")
	switch {
	case isDirs:
		target = cleanPath(strings.TrimPrefix(p, dirsPrefix))
	case isFiles:
		target = cleanPath(strings.TrimPrefix(p, filesPrefix))
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	delay := s.delay
	if target != "" {
		delay += s.pathDelay[target]
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			// Abandoned: no answer at all. A plain return would make
			// net/http answer 200 with an empty body, which an HTTP/1.1
			// client still waiting would take for an empty listing.
			panic(http.ErrAbortHandler)
		case <-s.done:
			t.Stop()
			panic(http.ErrAbortHandler)
		}
	}

	switch {
	case p == "/oidc/v1/token":
		s.databricksToken(w, r)
	case p == "/oidc/.well-known/oauth-authorization-server":
		s.discovery(w, r)
	case strings.HasSuffix(p, "/oauth2/v2.0/token") && strings.Count(p, "/") == 4:
		s.azureToken(w, r, strings.Split(p, "/")[1])
	case isDirs:
		s.filesAPI(w, r, target, true)
	case isFiles:
		s.filesAPI(w, r, target, false)
	default:
		apiError(w, http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf("No API found for '%s %s'", r.Method, p))
	}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		apiError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "method not allowed")
		return
	}
	base := "https://" + r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                 base + "/oidc",
		"authorization_endpoint": base + "/oidc/v1/authorize",
		"token_endpoint":         base + "/oidc/v1/token",
		"grant_types_supported":  []string{"client_credentials", "authorization_code", "refresh_token"},
		"scopes_supported":       []string{"all-apis", "offline_access"},
	})
}

// clientCredentials returns the client id and secret of a token request,
// from HTTP Basic (URL-encoded, RFC 6749 §2.3.1) or from the form.
func clientCredentials(r *http.Request) (id, secret string) {
	if u, p, ok := r.BasicAuth(); ok {
		if du, err := url.QueryUnescape(u); err == nil {
			u = du
		}
		if dp, err := url.QueryUnescape(p); err == nil {
			p = dp
		}
		return u, p
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (s *Server) databricksToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", gt))
		return
	}
	id, secret := clientCredentials(r)
	s.mu.Lock()
	sp, ok := s.sps[id]
	s.mu.Unlock()
	if !ok || sp.secret != secret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if !slices.Contains(strings.Fields(r.PostForm.Get("scope")), "all-apis") {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid; request all-apis")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": sp.token,
		"token_type":   "Bearer",
		"expires_in":   3600,
		"scope":        "all-apis",
	})
}

// azureError writes an Entra ID error answer: the OAuth error, a description
// that starts with AADSTS<code> and the code in error_codes, as Entra does.
func azureError(w http.ResponseWriter, status int, oauthCode string, aadsts int, description string) {
	writeJSON(w, status, map[string]any{
		"error":             oauthCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, description),
		"error_codes":       []int{aadsts},
	})
}

func (s *Server) azureToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		azureError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		azureError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
		return
	}
	id, secret := clientCredentials(r)
	s.mu.Lock()
	apps, tenantOK := s.azure[tenant]
	app, appOK := apps[id]
	s.mu.Unlock()
	switch {
	case !tenantOK:
		azureError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	case !appOK:
		azureError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, tenant))
		return
	case app.secret != secret:
		azureError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
		return
	case r.PostForm.Get("scope") != AzureDatabricksScope:
		azureError(w, http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     3599,
		"ext_expires_in": 3599,
		"access_token":   app.token,
	})
}

type dirEntry struct {
	Path         string `json:"path"`
	IsDirectory  bool   `json:"is_directory"`
	FileSize     int64  `json:"file_size,omitempty"`
	LastModified int64  `json:"last_modified,omitempty"`
	Name         string `json:"name"`
}

func (s *Server) filesAPI(w http.ResponseWriter, r *http.Request, p string, directory bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		apiError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "The fake workspace only reads")
		return
	}
	auth := r.Header.Get("Authorization")
	token, isBearer := strings.CutPrefix(auth, "Bearer ")
	s.mu.Lock()
	known := isBearer && s.tokens[token]
	forced := s.status[p]
	isDir := s.dirs[p]
	f, isFile := s.files[p]
	var children []dirEntry
	if directory && isDir && r.Method == http.MethodGet {
		children = s.childrenLocked(p)
	}
	pageSize := s.pageSize
	s.mu.Unlock()

	switch {
	case auth == "":
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API.")
	case !known:
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token.")
	case forced != 0:
		apiError(w, forced, statusCode(forced), fmt.Sprintf("Forced status %d for %s", forced, p))
	case directory && isDir:
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		s.listPage(w, r, children, pageSize)
	case directory && isFile:
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("The directory being accessed is not found: %s is a file.", p))
	case directory:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "The directory being accessed is not found.")
	case isFile:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(f.content)))
		w.Header().Set("Last-Modified", f.modified.Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(f.content)
		}
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "The file being accessed is not found.")
	}
}

// listPage writes the page of a directory listing that the request's
// page_token and page_size ask for. A page token is the path of the last
// entry of the previous page, base64url-encoded, so the next page starts
// after it even when entries were added or removed in between.
func (s *Server) listPage(w http.ResponseWriter, r *http.Request, children []dirEntry, pageSize int) {
	if pageSize < 1 || pageSize > MaxPageSize {
		pageSize = MaxPageSize
	}
	q := r.URL.Query()
	if raw := q.Get("page_size"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "page_size must be a non-negative integer.")
			return
		}
		if n > 0 && n < pageSize {
			pageSize = n
		}
	}
	start := 0
	if tok := q.Get("page_token"); tok != "" {
		last, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(last) == 0 {
			apiError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid page token.")
			return
		}
		start, _ = slices.BinarySearchFunc(children, string(last), func(e dirEntry, t string) int { return strings.Compare(e.Path, t) })
		if start < len(children) && children[start].Path == string(last) {
			start++
		}
	}
	page := children[start:min(start+pageSize, len(children))]
	body := map[string]any{"contents": page}
	if start+len(page) < len(children) {
		body["next_page_token"] = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].Path))
	}
	writeJSON(w, http.StatusOK, body)
}

// childrenLocked returns the entries of dir in path order; a directory's
// path ends with a slash, as the Files API's do.
func (s *Server) childrenLocked(dir string) []dirEntry {
	out := []dirEntry{}
	for d := range s.dirs {
		if path.Dir(d) == dir && d != dir {
			out = append(out, dirEntry{Path: d + "/", IsDirectory: true, Name: path.Base(d)})
		}
	}
	for p, f := range s.files {
		if path.Dir(p) == dir {
			out = append(out, dirEntry{Path: p, FileSize: int64(len(f.content)), LastModified: f.modified.UnixMilli(), Name: path.Base(p)})
		}
	}
	slices.SortFunc(out, func(a, b dirEntry) int { return strings.Compare(a.Path, b.Path) })
	return out
}

func statusCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "REQUEST_LIMIT_EXCEEDED"
	case http.StatusServiceUnavailable:
		return "TEMPORARILY_UNAVAILABLE"
	}
	if status >= 500 {
		return "INTERNAL_ERROR"
	}
	return "BAD_REQUEST"
}

func apiError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"error_code": code, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func cleanPath(p string) string { return path.Clean("/" + p) }

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
