package fakeworkspace

// The Files API's file endpoints, /api/2.0/fs/files/<path>: metadata (HEAD)
// and contents (GET).

import (
	"net/http"
	"strconv"
)

// serveFile answers HEAD (metadata) and GET (contents) of the file p.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, p string) {
	var (
		f      file
		isFile bool
	)
	if !s.admit(w, r, p, func() { f, isFile = s.files[p] }) {
		return
	}
	if !isFile {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "The file being accessed is not found.")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.content)))
	w.Header().Set("Last-Modified", f.modified.Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(f.content)
	}
}
