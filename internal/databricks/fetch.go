package databricks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// FetchFile implements core.FileFetcher for the file route: one GET (or
// HEAD) of the Files API's /api/2.0/fs/files/Volumes/<catalog>/<schema>/
// <volume>/<path>, forwarding the read's single range and If-None-Match,
// with the connection's credentials (for the service principals after
// their token request) through the check's guarded transports, which
// refuse redirects and plain http. The SDK's files.Download has no range,
// so the request is this package's own, authenticated as the SDK's
// requests are.
//
// conn.Timeout (storage.DefaultRequestTimeoutS seconds when zero) bounds
// the wait for the answer's headers; the body then streams for as long as
// ctx lasts. The body is not read here: the caller streams it and closes
// it.
//
// Answers: 200 and 206 (with its Content-Range) are contents, 304 not
// modified, 416 unsatisfiable (the size from its Content-Range when
// given); 404 wraps core.ErrNotFound, 401 and 403 and a redirect
// core.ErrWorkspaceRefused, 429 core.ErrWorkspaceBusy, anything else and
// a failed request core.ErrWorkspaceFailed, running out of time
// context.DeadlineExceeded. Errors say the status, never what the
// workspace wrote.
func (c *Checker) FetchFile(ctx context.Context, conn storage.Connection, path string, read core.FileRead) (core.FileContent, error) {
	e, err := c.fileEndpoint(conn, path)
	if err != nil {
		return core.FileContent{}, err
	}
	u, volume, timeout, guarded, auth := e.url, e.volume, e.timeout, e.guarded, e.auth
	method := http.MethodGet
	if read.Head {
		method = http.MethodHead
	}
	// The answer's headers must come within timeout; the body streams
	// under ctx alone. Closing the body releases the request's context.
	rctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(timeout, func() { cancel(errTimedOut) })
	req, err := http.NewRequestWithContext(rctx, method, u.String(), nil)
	if err != nil {
		timer.Stop()
		cancel(nil)
		return core.FileContent{}, fmt.Errorf("databricks: %w", err)
	}
	if r := read.Range; r != nil && !read.Head {
		req.Header.Set("Range", rangeHeader(*r))
	}
	if read.IfNoneMatch != "" {
		req.Header.Set("If-None-Match", read.IfNoneMatch)
	}
	fail := func(err error) (core.FileContent, error) {
		timer.Stop()
		cause := context.Cause(rctx)
		cancel(nil)
		if errors.Is(cause, errTimedOut) {
			return core.FileContent{}, fmt.Errorf("databricks: %s %s: no answer within %s: %w", method, volume, timeout, context.DeadlineExceeded)
		}
		if ctx.Err() != nil {
			return core.FileContent{}, fmt.Errorf("databricks: %s: %w", method, ctx.Err())
		}
		return core.FileContent{}, err
	}
	if err := auth.setHeaders(req); err != nil {
		// The token endpoint's own answer, vetted as the check's is.
		return fail(tokenError(err))
	}
	// The guarded transport itself, not an http.Client: no redirect is
	// followed (a redirect is refused below), and 304 is an answer.
	resp, err := guarded.RoundTrip(req)
	if err != nil {
		// Transport errors name the host and the path, never a header.
		return fail(fmt.Errorf("databricks: %s %s: %w: %w", method, e.host, core.ErrWorkspaceFailed, err))
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.StatusCode != http.StatusNotModified {
		_ = resp.Body.Close()
		return fail(fmt.Errorf("databricks: %s answered a redirect (%d), which is never followed: %w", method, resp.StatusCode, core.ErrWorkspaceRefused))
	}
	timer.Stop()
	body := &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	out := core.FileContent{
		Size:        resp.ContentLength,
		ContentType: resp.Header.Get("Content-Type"),
		ETag:        resp.Header.Get("ETag"),
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		out.LastModified = lm
	}
	switch resp.StatusCode {
	case http.StatusOK:
		out.Body = body
	case http.StatusPartialContent:
		first, last, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || (resp.ContentLength >= 0 && resp.ContentLength != last-first+1) {
			_ = body.Close()
			return core.FileContent{}, fmt.Errorf("databricks: a partial answer without a valid Content-Range: %w", core.ErrWorkspaceFailed)
		}
		out.Body, out.Partial, out.First, out.Last, out.Size = body, true, first, last, size
	case http.StatusNotModified:
		_ = body.Close()
		out.NotModified, out.Size = true, -1
	case http.StatusRequestedRangeNotSatisfiable:
		_ = body.Close()
		out.Unsatisfiable, out.Size = true, unsatisfiedSize(resp.Header.Get("Content-Range"))
	default:
		_ = body.Close()
		return core.FileContent{}, fmt.Errorf("databricks: %s of a file: status %d: %w", method, resp.StatusCode, statusError(resp.StatusCode))
	}
	if read.Head {
		if out.Body != nil {
			_ = out.Body.Close()
		}
		out.Body = nil
	}
	return out, nil
}

// statusError is the core error of a workspace's error status.
func statusError(status int) error {
	switch {
	case status == http.StatusNotFound:
		return core.ErrNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return core.ErrWorkspaceRefused
	case status == http.StatusTooManyRequests:
		return core.ErrWorkspaceBusy
	default:
		return core.ErrWorkspaceFailed
	}
}

// cancelBody releases the request's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// escapeSegments escapes each segment of an absolute path.
func escapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// rangeHeader renders a single byte range.
func rangeHeader(r core.ByteRange) string {
	switch {
	case r.Suffix > 0:
		return "bytes=-" + strconv.FormatInt(r.Suffix, 10)
	case r.Last < 0:
		return "bytes=" + strconv.FormatInt(r.First, 10) + "-"
	default:
		return "bytes=" + strconv.FormatInt(r.First, 10) + "-" + strconv.FormatInt(r.Last, 10)
	}
}

// parseContentRange parses "bytes first-last/size" (size may be "*": -1).
func parseContentRange(v string) (first, last, size int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, total, found := strings.Cut(rest, "/")
	a, b, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	size = -1
	var err3 error
	if total != "*" {
		size, err3 = strconv.ParseInt(total, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || (size >= 0 && last >= size) {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

// unsatisfiedSize reads the size of "bytes */size"; -1 when absent.
func unsatisfiedSize(v string) int64 {
	total, ok := strings.CutPrefix(v, "bytes */")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
