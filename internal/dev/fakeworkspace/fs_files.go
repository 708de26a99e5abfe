package fakeworkspace

// The Files API's file endpoints, /api/2.0/fs/files/<path>: metadata (HEAD)
// and contents (GET), with a single Range (206, or 416 with
// "Content-Range: bytes */<size>"), an ETag, Last-Modified, the file's
// Content-Type and If-None-Match (304), as net/http's ServeContent answers
// them.

import (
	"fmt"
	"net/http"
	"strings"
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
	contentType := f.contentType
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("ETag", fmt.Sprintf("\"%x-%x\"", f.modified.UnixMilli(), f.length()))
	if strings.Contains(r.Header.Get("Range"), ",") || f.length() == 0 {
		// One range at a time, as the file route asks; ServeContent would
		// answer several with a multipart body, and a suffix range of an
		// empty file with "bytes 0--1/0". An empty file is served whole.
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", f.modified, f.reader())
}
