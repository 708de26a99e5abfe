package fakeworkspace

// The Files API's file writes, /api/2.0/fs/files/<path>: upload (PUT, the
// raw bytes as the body, ?overwrite=true|false, false by default as the
// real API's) and delete (DELETE). Both answer 204 with no body. An upload
// creates the file's parent directories; it needs an existing volume
// (/Volumes/<catalog>/<schema>/<volume>), as a real workspace does.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
)

// MaxUploadBytes caps a PUT body the fake keeps (the real API takes up to
// 5 GiB; the export writes annotations of kilobytes).
const MaxUploadBytes = 64 << 20

// RefuseWrites makes every PUT and DELETE of a file answer status (e.g.
// 503 or 429), after authentication, until it is called with 0; reads are
// unaffected. It stands for a workspace that refuses writes for a while.
func (s *Server) RefuseWrites(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseWrites = status
}

// File returns a copy of the bytes of the file p and whether it exists.
func (s *Server) File(p string) ([]byte, bool) {
	s.mu.Lock()
	f, ok := s.files[cleanPath(p)]
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	b, err := io.ReadAll(f.reader())
	if err != nil {
		return nil, false
	}
	return b, true
}

// volumeOf returns the volume directory of the Files API path p
// (/Volumes/<catalog>/<schema>/<volume>) and whether p lies strictly under
// one.
func volumeOf(p string) (string, bool) {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(segs) < 5 || segs[0] != "Volumes" {
		return "", false
	}
	return "/" + strings.Join(segs[:4], "/"), true
}

// putFile answers an upload of the file p.
func (s *Server) putFile(w http.ResponseWriter, r *http.Request, p string) {
	var refuse int
	if !s.admit(w, r, p, func() { refuse = s.refuseWrites }) {
		return
	}
	if refuse != 0 {
		apiError(w, refuse, statusCode(refuse), fmt.Sprintf("Writes refused with status %d", refuse))
		return
	}
	overwrite := false
	switch v := r.URL.Query().Get("overwrite"); v {
	case "", "false":
	case "true":
		overwrite = true
	default:
		apiError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "overwrite must be true or false.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUploadBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			apiError(w, http.StatusRequestEntityTooLarge, "BAD_REQUEST", "The file is too large for the fake workspace.")
			return
		}
		panic(http.ErrAbortHandler) // the client went away mid-body: nothing is written
	}
	volume, ok := volumeOf(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !ok || !s.dirs[volume]:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "The volume being accessed is not found.")
		return
	case s.dirs[p]:
		apiError(w, http.StatusConflict, "ALREADY_EXISTS", fmt.Sprintf("%s is a directory.", p))
		return
	}
	for d := path.Dir(p); d != volume; d = path.Dir(d) {
		if _, isFile := s.files[d]; isFile {
			apiError(w, http.StatusConflict, "ALREADY_EXISTS", fmt.Sprintf("%s is a file, not a directory.", d))
			return
		}
	}
	if _, exists := s.files[p]; exists && !overwrite {
		apiError(w, http.StatusConflict, "ALREADY_EXISTS", fmt.Sprintf("The file being created already exists: %s.", p))
		return
	}
	s.addDirLocked(path.Dir(p))
	s.linkLocked(p)
	s.files[p] = file{content: body, modified: time.Now().UTC().Truncate(time.Millisecond)}
	w.WriteHeader(http.StatusNoContent)
}

// deleteFile answers a delete of the file p.
func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request, p string) {
	var refuse int
	if !s.admit(w, r, p, func() { refuse = s.refuseWrites }) {
		return
	}
	if refuse != 0 {
		apiError(w, refuse, statusCode(refuse), fmt.Sprintf("Writes refused with status %d", refuse))
		return
	}
	s.mu.Lock()
	_, isFile := s.files[p]
	if isFile {
		delete(s.files, p)
		delete(s.children[path.Dir(p)], p)
	}
	s.mu.Unlock()
	if !isFile {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "The file being accessed is not found.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fileMethod answers a method the file endpoints do not take.
func fileMethod(w http.ResponseWriter, _ *http.Request, _ string) {
	apiError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "The file endpoints take GET, HEAD, PUT and DELETE")
}
