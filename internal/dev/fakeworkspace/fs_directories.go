package fakeworkspace

// The Files API's directory endpoints, /api/2.0/fs/directories/<path>:
// metadata (HEAD) and listing (GET), paged by page_size, page_token and
// next_page_token as the real API is.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
)

// MaxPageSize is the largest directory listing page, the real API's default
// and maximum.
const MaxPageSize = 1000

// SetPageSize makes a directory listing page hold at most n entries, fewer
// when the request's page_size asks so; n outside 1..MaxPageSize means
// MaxPageSize. A listing with more entries ends its page with a
// next_page_token.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

type dirEntry struct {
	Path         string `json:"path"`
	IsDirectory  bool   `json:"is_directory"`
	FileSize     int64  `json:"file_size,omitempty"`
	LastModified int64  `json:"last_modified,omitempty"`
	Name         string `json:"name"`
}

// serveDirectory answers HEAD (metadata) and GET (a listing page) of the
// directory p.
func (s *Server) serveDirectory(w http.ResponseWriter, r *http.Request, p string) {
	var (
		isDir, isFile bool
		children      []dirEntry
		pageSize      int
	)
	if !s.admit(w, r, p, func() {
		isDir, pageSize = s.dirs[p], s.pageSize
		_, isFile = s.files[p]
		if isDir && r.Method == http.MethodGet {
			children = s.childrenLocked(p)
		}
	}) {
		return
	}
	switch {
	case isDir && r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case isDir:
		s.listPage(w, r, children, pageSize)
	case isFile:
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("The directory being accessed is not found: %s is a file.", p))
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "The directory being accessed is not found.")
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
	for c := range s.children[dir] {
		if s.dirs[c] && c != dir {
			out = append(out, dirEntry{Path: c + "/", IsDirectory: true, Name: path.Base(c)})
		}
		if f, ok := s.files[c]; ok {
			out = append(out, dirEntry{Path: c, FileSize: f.length(), LastModified: f.modified.UnixMilli(), Name: path.Base(c)})
		}
	}
	slices.SortFunc(out, func(a, b dirEntry) int { return strings.Compare(a.Path, b.Path) })
	return out
}
