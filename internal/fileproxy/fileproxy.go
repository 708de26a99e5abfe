// Package fileproxy is the file route's HTTP handler,
//
//	GET|HEAD|OPTIONS /data/databricks/<storage id>/<capability>/<path>
//
// which streams a storage's file from its Databricks workspace to whoever
// holds the link (package filecap): an annotator's browser, in an <img>,
// <audio> or <video> tag or a fetch, with no header. The Lambda function
// URL (functions/files, through aws-lambda-go's lambdaurl adapter, response
// streaming) and the local server serve the same Handler.
//
// The capability is never logged: a request's log line names the storage
// id and the path only.
package fileproxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/filecap"
)

// Opener opens a file of a link: core.Files.
type Opener interface {
	Open(ctx context.Context, req core.FileRequest) (core.FileContent, error)
}

// DefaultMaxAge is how long a browser may keep a file
// (Cache-Control: private, max-age), as Label Studio's own proxy answers.
const DefaultMaxAge = time.Hour

// Handler serves the file route.
type Handler struct {
	Files Opener
	// AllowOrigin is the Label Studio origin (scheme://host[:port]) whose
	// pages may read the files (CORS); no CORS headers when empty.
	AllowOrigin string
	// MaxAge is the Cache-Control max-age; DefaultMaxAge when zero.
	MaxAge time.Duration
	// Version is reported in error bodies.
	Version string
	// Logger receives one line per request; slog.Default when nil.
	Logger *slog.Logger
}

// bufferSize is the copy buffer: memory stays flat whatever the file's
// size.
const bufferSize = 32 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	line := logLine{method: r.Method}
	defer func() { h.log(r.Context(), line, start) }()

	h.cors(w.Header())
	switch r.Method {
	case http.MethodOptions:
		h.preflight(w.Header())
		w.WriteHeader(http.StatusNoContent)
		line.status = http.StatusNoContent
		return
	case http.MethodGet, http.MethodHead:
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		line.status = h.writeError(w, r, http.StatusMethodNotAllowed, "Method \""+r.Method+"\" not allowed.")
		return
	}
	id, capability, p, err := filecap.ParseURLPath(r.URL.EscapedPath())
	if err != nil {
		line.err = err
		if errors.Is(err, filecap.ErrBadRoute) {
			line.status = h.writeError(w, r, http.StatusNotFound, "Not found.")
		} else {
			line.status = h.writeKind(w, r, core.KindLinkRefused)
		}
		return
	}
	line.storageID, line.path = id, p
	read := core.FileRead{Head: r.Method == http.MethodHead, IfNoneMatch: r.Header.Get("If-None-Match")}
	if v := r.Header.Get("Range"); v != "" && !read.Head {
		read.Range = ParseRange(v)
		line.rng = v
	}
	req := core.FileRequest{StorageID: id, Capability: capability, Path: p, Read: read}
	content, err := h.Files.Open(r.Context(), req)
	// If-Range (a media player's every seek after its first answer): the
	// range only while the file still has the client's validator, which
	// is known once the workspace answers; else the whole, current file,
	// read again (rare: the file changed).
	if ifRange := r.Header.Get("If-Range"); err == nil && read.Range != nil && ifRange != "" && !ifRangeHolds(ifRange, content) {
		if content.Body != nil {
			content.Body.Close()
		}
		req.Read.Range = nil
		content, err = h.Files.Open(r.Context(), req)
	}
	if err != nil {
		line.err = err
		line.status = h.writeKind(w, r, core.KindOf(err))
		return
	}
	if content.Body != nil {
		defer content.Body.Close()
	}
	line.status, line.bytes, line.err = h.writeContent(w, r, content)
}

// writeContent writes the answer of an opened file and streams its body.
func (h *Handler) writeContent(w http.ResponseWriter, r *http.Request, c core.FileContent) (int, int64, error) {
	hdr := w.Header()
	maxAge := h.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	hdr.Set("Cache-Control", "private, max-age="+strconv.FormatInt(int64(maxAge/time.Second), 10))
	hdr.Set("Accept-Ranges", "bytes")
	if c.ETag != "" {
		hdr.Set("ETag", c.ETag)
	}
	if !c.LastModified.IsZero() {
		hdr.Set("Last-Modified", c.LastModified.UTC().Format(http.TimeFormat))
	}
	switch {
	case c.NotModified:
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified, 0, nil
	case c.Unsatisfiable:
		size := "*"
		detail := "The requested range is not satisfiable."
		if c.Size >= 0 {
			size = strconv.FormatInt(c.Size, 10)
			detail = "The requested range is not satisfiable: the file has " + size + " bytes."
		}
		hdr.Set("Content-Range", "bytes */"+size)
		return h.writeError(w, r, http.StatusRequestedRangeNotSatisfiable, detail), 0, nil
	}
	contentType := c.ContentType
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	hdr.Set("Content-Type", contentType)
	// The file is the workspace's, not this service's: never sniffed,
	// never run as a page of this origin.
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "sandbox")
	status := http.StatusOK
	if c.Partial {
		status = http.StatusPartialContent
		size := "*"
		if c.Size >= 0 {
			size = strconv.FormatInt(c.Size, 10)
		}
		hdr.Set("Content-Range", "bytes "+strconv.FormatInt(c.First, 10)+"-"+strconv.FormatInt(c.Last, 10)+"/"+size)
	}
	if n := c.Length(); n >= 0 {
		hdr.Set("Content-Length", strconv.FormatInt(n, 10))
	}
	w.WriteHeader(status)
	if c.Body == nil || r.Method == http.MethodHead {
		return status, 0, nil
	}
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	// writerOnly hides the ResponseWriter's ReadFrom, so the copy goes
	// through this bounded buffer.
	n, err := io.CopyBuffer(writerOnly{w}, c.Body, *buf)
	if err != nil {
		// Headers are gone: the client sees a short body, which its
		// Content-Length tells apart.
		err = errors.Join(errors.New("streaming the file stopped"), err)
	}
	return status, n, err
}

type writerOnly struct{ io.Writer }

// ifRangeHolds reports whether an If-Range value names the file c: a
// strong entity tag equal to its ETag, or an HTTP date equal to its
// Last-Modified (RFC 9110, 13.1.5). A weak tag never holds.
func ifRangeHolds(v string, c core.FileContent) bool {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return c.ETag != "" && !strings.HasPrefix(c.ETag, "W/") && v == c.ETag
	}
	t, err := http.ParseTime(v)
	return err == nil && !c.LastModified.IsZero() && t.Equal(c.LastModified.UTC().Truncate(time.Second))
}

// ParseRange parses a Range header of one byte range: "bytes=N-M",
// "bytes=N-" or "bytes=-N". Anything else (several ranges, another unit,
// bad syntax, "bytes=-0") is nil: the range is ignored and the whole file
// served, as HTTP allows.
func ParseRange(v string) *core.ByteRange {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if a == "" {
		n, ok := num(b)
		if !ok || n == 0 {
			return nil
		}
		return &core.ByteRange{Suffix: n}
	}
	first, ok := num(a)
	if !ok {
		return nil
	}
	if b == "" {
		return &core.ByteRange{First: first, Last: -1}
	}
	last, ok := num(b)
	if !ok || last < first {
		return nil
	}
	return &core.ByteRange{First: first, Last: last}
}

// cors admits the Label Studio origin to read the files and the headers
// media players need.
func (h *Handler) cors(hdr http.Header) {
	if h.AllowOrigin == "" {
		return
	}
	hdr.Set("Access-Control-Allow-Origin", h.AllowOrigin)
	hdr.Set("Access-Control-Expose-Headers", "Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified")
	hdr.Add("Vary", "Origin")
}

func (h *Handler) preflight(hdr http.Header) {
	hdr.Set("Allow", "GET, HEAD, OPTIONS")
	if h.AllowOrigin == "" {
		return
	}
	hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	hdr.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since, If-Range")
	hdr.Set("Access-Control-Max-Age", "600")
}

// details are the file route's own words where the API's (package
// apierror, for the same kinds) speak of storages rather than files; the
// status is the kind's. Nothing of a workspace's answer is echoed.
var details = map[core.Kind]string{
	core.KindNotFound: "Not found.",
	core.KindTimeout:  "The Databricks workspace did not answer in time; retry later.",
}

// fileKinds are the kinds the file route answers with their own status;
// any other error is a fault of the service.
var fileKinds = []core.Kind{core.KindNotFound, core.KindTimeout, core.KindLinkRefused,
	core.KindWorkspaceRefused, core.KindWorkspaceBusy, core.KindWorkspaceFailed}

func (h *Handler) writeKind(w http.ResponseWriter, r *http.Request, kind core.Kind) int {
	status := kind.Status()
	detail, ok := details[kind]
	switch {
	case !slices.Contains(fileKinds, kind):
		status, detail = http.StatusInternalServerError, "Internal server error: the file could not be served. Retry later."
	case !ok:
		detail = apierror.KindDetail(kind)
	}
	if kind == core.KindWorkspaceBusy {
		w.Header().Set("Retry-After", "1")
	}
	return h.writeError(w, r, status, detail)
}

// writeError writes Label Studio's error body (no body for HEAD).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, status int, detail string) int {
	body := apierror.New(status, h.Version, detail, nil).JSON()
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return status
}

// logLine is what a request's log line says: never the capability.
type logLine struct {
	method    string
	storageID int64
	path      string
	rng       string
	status    int
	bytes     int64
	err       error
}

func (h *Handler) log(ctx context.Context, l logLine, start time.Time) {
	logger := h.Logger
	if logger == nil {
		logger = slog.Default()
	}
	attrs := []slog.Attr{
		slog.String("route", "file"),
		slog.String("method", l.method),
		slog.Int("status", l.status),
		slog.Int64("bytes", l.bytes),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if l.storageID != 0 {
		attrs = append(attrs, slog.Int64("storage_id", l.storageID), slog.String("path", l.path))
	}
	if l.rng != "" {
		attrs = append(attrs, slog.String("range", l.rng))
	}
	level := slog.LevelInfo
	if l.err != nil {
		attrs = append(attrs, slog.String("error", l.err.Error()))
		if l.status >= 500 {
			level = slog.LevelError
		}
	}
	logger.LogAttrs(ctx, level, "file request", attrs...)
}
