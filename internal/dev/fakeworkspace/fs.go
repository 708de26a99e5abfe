package fakeworkspace

// The Files API, /api/2.0/fs/…: what its directory (fs_directories.go) and
// file (fs_files.go) endpoints share: the workspace's contents, the bearer
// tokens it accepts, and the statuses and delays a test forces.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// file is a file of the workspace: its content, or, when generated, size
// bytes of Generated(seed, …), which cost no memory.
type file struct {
	content     []byte
	generated   bool
	size        int64
	seed        byte
	modified    time.Time
	contentType string
}

// length is the file's size in bytes.
func (f file) length() int64 {
	if f.generated {
		return f.size
	}
	return int64(len(f.content))
}

// reader reads the file's bytes.
func (f file) reader() io.ReadSeeker {
	if f.generated {
		return &generated{seed: f.seed, size: f.size}
	}
	return bytes.NewReader(f.content)
}

// AddGeneratedFile creates the file p of size bytes, byte i being
// GeneratedByte(seed, i): a file of any size that holds no memory (the
// file route's tests serve 100 MB). contentType is its Content-Type
// (application/octet-stream when empty); its modification time is now.
func (s *Server) AddGeneratedFile(p string, size int64, seed byte, contentType string) {
	p = cleanPath(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addDirLocked(path.Dir(p))
	s.linkLocked(p)
	s.files[p] = file{generated: true, size: size, seed: seed, contentType: contentType,
		modified: time.Now().UTC().Truncate(time.Second)}
}

// GeneratedByte is byte i of a generated file of seed: deterministic, and
// not periodic over short spans, so that a misplaced range shows.
func GeneratedByte(seed byte, i int64) byte {
	x := uint64(i)*0x9E3779B97F4A7C15 + uint64(seed)
	return byte(x>>56) ^ byte(i>>13)
}

// Generated returns a reader of a generated file's bytes: what
// AddGeneratedFile(p, size, seed, …) serves.
func Generated(seed byte, size int64) io.ReadSeeker { return &generated{seed: seed, size: size} }

type generated struct {
	seed      byte
	size, off int64
}

func (g *generated) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if rest := g.size - g.off; n > rest {
		n = rest
	}
	for i := range n {
		p[i] = GeneratedByte(g.seed, g.off+i)
	}
	g.off += n
	return int(n), nil
}

func (g *generated) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += g.off
	case io.SeekEnd:
		offset += g.size
	}
	if offset < 0 {
		return 0, errors.New("fakeworkspace: negative offset")
	}
	g.off = offset
	return offset, nil
}

// AddPAT makes the Files API accept token as a personal access token.
func (s *Server) AddPAT(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
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
		s.linkLocked(p)
	}
}

// linkLocked indexes the file or directory p under its parent.
func (s *Server) linkLocked(p string) {
	parent := path.Dir(p)
	if s.children[parent] == nil {
		s.children[parent] = map[string]bool{}
	}
	s.children[parent][p] = true
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
	s.linkLocked(p)
	s.files[p] = file{content: slices.Clone(content), modified: modified.UTC().Truncate(time.Millisecond)}
}

// Remove deletes the file or the directory p, and everything under the
// directory, as if a user deleted it in the workspace.
func (s *Server) Remove(p string) {
	p = cleanPath(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.children[path.Dir(p)], p)
	var drop func(p string)
	drop = func(p string) {
		for c := range s.children[p] {
			drop(c)
		}
		delete(s.children, p)
		delete(s.files, p)
		delete(s.dirs, p)
	}
	drop(p)
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

// admit answers a Files API request for p that the workspace refuses,
// without a bearer token it knows or for a path SetStatus forced a status
// for, and reports whether it let the request through. read runs under the
// lock of that check, so what the endpoint reads of the contents is of the
// same moment.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, p string, read func()) bool {
	auth := r.Header.Get("Authorization")
	token, isBearer := strings.CutPrefix(auth, "Bearer ")
	s.mu.Lock()
	known := isBearer && s.tokens[token]
	forced := s.status[p]
	read()
	s.mu.Unlock()

	switch {
	case auth == "":
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API.")
	case !known:
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token.")
	case forced != 0:
		apiError(w, forced, statusCode(forced), fmt.Sprintf("Forced status %d for %s", forced, p))
	default:
		return true
	}
	return false
}

// readOnly answers a method of the Files API other than GET and HEAD.
func readOnly(w http.ResponseWriter, _ *http.Request, _ string) {
	apiError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "The fake workspace only reads")
}

// statusCode is the workspace's error_code for an HTTP status.
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
