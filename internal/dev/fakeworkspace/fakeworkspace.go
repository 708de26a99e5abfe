// Package fakeworkspace is a fake Databricks workspace over HTTPS, for tests
// and for the local development server. It serves what the connection check
// and the files preview call:
//
//   - the Files API: HEAD and GET of /api/2.0/fs/directories/<path> (directory
//     metadata and listing, paginated by page_size, page_token and
//     next_page_token as the real API is; see SetPageSize) and of
//     /api/2.0/fs/files/<path> (file metadata and download), PUT and DELETE
//     of /api/2.0/fs/files/<path> (upload with ?overwrite, delete; see File
//     and RefuseWrites), for bearer tokens it knows;
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
	"sync"
	"time"
)

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
	// Range and IfNoneMatch are those headers as sent.
	Range       string
	IfNoneMatch string
	// ContentType is the Content-Type header as sent (an upload's).
	ContentType string
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

// Server is a fake Databricks workspace. Its methods are safe for concurrent
// use, also while it serves.
type Server struct {
	ts       *httptest.Server
	mux      *http.ServeMux // routes.go
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
	// refuseWrites is the status RefuseWrites forces on PUT and DELETE.
	refuseWrites int
	requests     []Request
	// children indexes dirs and files by parent directory, so that a
	// listing page of a large workspace costs its directory's entries only.
	children map[string]map[string]bool
}

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
		children:  map[string]map[string]bool{},
		status:    map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.errorLog == nil {
		s.errorLog = log.New(io.Discard, "", 0)
	}
	s.mux = s.routes()
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

// SetDelay delays every answer by d; a delayed answer is abandoned when the
// client goes away.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
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
