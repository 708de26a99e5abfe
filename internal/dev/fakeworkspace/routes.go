package fakeworkspace

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// routes returns the route table, an endpoint a line, each answered by the
// file of the API it fakes. Every path an endpoint serves also has a route
// without a method, so that a method the endpoint does not take gets that
// API's own error (before authentication, as before any lookup), not
// ServeMux's plain-text 405; a path that is no API gets the workspace's
// ENDPOINT_NOT_FOUND. Paths are matched decoded and clean (see ServeHTTP).
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// fs_directories.go: directory metadata (HEAD) and listing (GET).
	s.handlePath(mux, "GET /api/2.0/fs/directories/{path...}", s.serveDirectory)
	s.handlePath(mux, "/api/2.0/fs/directories/{path...}", readOnly)
	// fs_files.go: file metadata (HEAD) and contents (GET); fs_writes.go:
	// upload (PUT) and delete (DELETE).
	s.handlePath(mux, "GET /api/2.0/fs/files/{path...}", s.serveFile)
	s.handlePath(mux, "PUT /api/2.0/fs/files/{path...}", s.putFile)
	s.handlePath(mux, "DELETE /api/2.0/fs/files/{path...}", s.deleteFile)
	s.handlePath(mux, "/api/2.0/fs/files/{path...}", fileMethod)
	// oauth.go: Databricks OAuth M2M and the Azure AD token endpoint.
	s.handle(mux, "POST /oidc/v1/token", s.databricksToken)
	s.handle(mux, "/oidc/v1/token", databricksTokenMethod)
	s.handle(mux, "GET /oidc/.well-known/oauth-authorization-server", discovery)
	s.handle(mux, "/oidc/.well-known/oauth-authorization-server", discoveryMethod)
	s.handle(mux, "POST /{tenant}/oauth2/v2.0/token", s.azureToken)
	s.handle(mux, "/{tenant}/oauth2/v2.0/token", azureTokenMethod)
	// No API. The Files API's roots are named, or ServeMux would redirect
	// them to the directory or file "/".
	s.handle(mux, "/api/2.0/fs/directories", noAPI)
	s.handle(mux, "/api/2.0/fs/files", noAPI)
	s.handle(mux, "/", noAPI)
	return mux
}

// ServeHTTP records the request and answers it by the route table, after
// the configured delay.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		EscapedPath:   r.URL.EscapedPath(),
		RawQuery:      r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		Range:         r.Header.Get("Range"),
		IfNoneMatch:   r.Header.Get("If-None-Match"),
		ContentType:   r.Header.Get("Content-Type"),
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
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	// The routes match the decoded path, an escaped slash (%2F) splitting
	// segments as a plain one does, and clean, so that ServeMux, which
	// would redirect a path with an empty, "." or ".." segment, routes it
	// as the Files API's paths have always been taken.
	routed := *r
	u := *r.URL
	u.Path, u.RawPath = cleanRoute(r.URL.Path), ""
	routed.URL = &u
	s.mux.ServeHTTP(w, &routed)
}

// cleanRoute returns p with its empty, "." and ".." segments resolved and a
// trailing slash kept, as ServeMux cleans a path.
func cleanRoute(p string) string {
	c := cleanPath(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// handle routes pattern to h, which answers after SetDelay's delay.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.wait(r, "")
		h(w, r)
	})
}

// handlePath routes a Files API pattern, ending in {path...}, to h, which
// gets the path it names, clean, and answers after SetDelay's delay and
// SetPathDelay's for that path.
func (s *Server) handlePath(mux *http.ServeMux, pattern string, h func(w http.ResponseWriter, r *http.Request, p string)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p := cleanPath(r.PathValue("path"))
		s.wait(r, p)
		h(w, r, p)
	})
}

// wait holds the answer to r for the configured delay, with that of the
// Files API path p when p is not empty. An answer abandoned, by the client
// or by Close, is none at all.
func (s *Server) wait(r *http.Request, p string) {
	s.mu.Lock()
	delay := s.delay
	if p != "" {
		delay += s.pathDelay[p]
	}
	s.mu.Unlock()
	if delay <= 0 {
		return
	}
	t := time.NewTimer(delay)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		// A plain return would make net/http answer 200 with an empty
		// body, which an HTTP/1.1 client still waiting would take for an
		// empty listing.
		panic(http.ErrAbortHandler)
	case <-s.done:
		t.Stop()
		panic(http.ErrAbortHandler)
	}
}

// noAPI answers a path that is no API of the workspace.
func noAPI(w http.ResponseWriter, r *http.Request) {
	apiError(w, http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf("No API found for '%s %s'", r.Method, r.URL.Path))
}
