package databricks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// fileEndpoint is a Files API file URL of a connection's volume with what
// a request to it needs: the guarded transport of the connection's
// verify_tls and its credentials.
type fileEndpoint struct {
	url     *url.URL
	volume  string // /Volumes/<catalog>/<schema>/<volume>, for errors
	host    string
	timeout time.Duration
	guarded http.RoundTripper
	auth    *strategy
}

// fileEndpoint checks the connection and path (relative to the volume
// root, filecap.CheckPath's rules) and returns the file's endpoint.
func (c *Checker) fileEndpoint(conn storage.Connection, path string) (fileEndpoint, error) {
	base, err := workspaceURL(conn.Host)
	if err != nil {
		return fileEndpoint{}, fmt.Errorf("databricks: %w", err)
	}
	volume, _, err := volumePaths(conn)
	if err != nil {
		return fileEndpoint{}, fmt.Errorf("databricks: %w", err)
	}
	if err := filecap.CheckPath(path); err != nil {
		return fileEndpoint{}, fmt.Errorf("databricks: %w", err)
	}
	timeout := conn.Timeout
	if timeout <= 0 {
		timeout = storage.DefaultRequestTimeoutS * time.Second
	}
	guarded, tokenClient := c.verified, c.verifiedClient
	if !conn.VerifyTLS {
		guarded, tokenClient = c.insecure, c.insecureClient
	}
	creds, err := c.credentials(conn, base, tokenClient)
	if err != nil {
		return fileEndpoint{}, fmt.Errorf("databricks: %w: %w", core.ErrWorkspaceRefused, err)
	}
	auth, ok := creds.(*strategy)
	if !ok {
		return fileEndpoint{}, fmt.Errorf("databricks: credentials of auth type %q set no header", conn.AuthType)
	}
	full := "/api/2.0/fs/files" + volume + "/" + path
	return fileEndpoint{
		url:    &url.URL{Scheme: "https", Host: base.Host, Path: full, RawPath: escapeSegments(full)},
		volume: volume, host: base.Host, timeout: timeout, guarded: guarded, auth: auth,
	}, nil
}

// tokenError is the error of a failed token request, vetted as the
// check's is: throttling and server errors may pass, anything else is a
// refusal.
func tokenError(err error) error {
	var re *ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500) {
		return fmt.Errorf("databricks: token request: status %d: %w", re.StatusCode, statusError(re.StatusCode))
	}
	return fmt.Errorf("databricks: token request refused: %w", core.ErrWorkspaceRefused)
}

// WriteFile implements core.VolumeWriter: one PUT of the Files API's
// /api/2.0/fs/files/Volumes/<catalog>/<schema>/<volume>/<path>?overwrite=true
// with body as the raw file (application/octet-stream), replacing any file
// there; the workspace creates the parent directories. Credentials,
// transports, redirects and errors are FetchFile's; conn.Timeout bounds
// the whole request, body included.
func (c Volume) WriteFile(ctx context.Context, conn storage.Connection, path string, body []byte) error {
	e, err := c.fileEndpoint(conn, path)
	if err != nil {
		return err
	}
	u := *e.url
	u.RawQuery = "overwrite=true"
	return c.fileWrite(ctx, e, http.MethodPut, u.String(), body)
}

// DeleteFile implements core.VolumeWriter: one DELETE of the file's Files
// API URL. A missing file (404) counts as deleted; otherwise as WriteFile.
func (c Volume) DeleteFile(ctx context.Context, conn storage.Connection, path string) error {
	e, err := c.fileEndpoint(conn, path)
	if err != nil {
		return err
	}
	return c.fileWrite(ctx, e, http.MethodDelete, e.url.String(), nil)
}

// fileWrite sends a PUT (with body) or a DELETE and maps its answer: a
// 2xx is done, a DELETE's 404 too; anything else is statusError's.
func (c *Checker) fileWrite(ctx context.Context, e fileEndpoint, method, u string, body []byte) error {
	rctx, cancel := context.WithTimeoutCause(ctx, e.timeout, errTimedOut)
	defer cancel()
	var rd *bytes.Reader
	if method == http.MethodPut {
		rd = bytes.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(rctx, method, u, rd)
	} else {
		req, err = http.NewRequestWithContext(rctx, method, u, nil)
	}
	if err != nil {
		return fmt.Errorf("databricks: %w", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	fail := func(err error) error {
		if errors.Is(context.Cause(rctx), errTimedOut) {
			return fmt.Errorf("databricks: %s of a file in %s: no answer within %s: %w", method, e.volume, e.timeout, context.DeadlineExceeded)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("databricks: %s: %w", method, ctx.Err())
		}
		return err
	}
	if err := e.auth.setHeaders(req); err != nil {
		return fail(tokenError(err))
	}
	resp, err := e.guarded.RoundTrip(req)
	if err != nil {
		// Transport errors name the host and the path, never a header.
		return fail(fmt.Errorf("databricks: %s %s: %w: %w", method, e.host, core.ErrWorkspaceFailed, err))
	}
	// The answer's body (the workspace's error JSON) is never read into an
	// error: only its status is kept.
	_ = resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusNotFound && method == http.MethodDelete:
		return nil
	case s >= 300 && s < 400:
		return fmt.Errorf("databricks: %s answered a redirect (%d), which is never followed: %w", method, s, core.ErrWorkspaceRefused)
	default:
		return fmt.Errorf("databricks: %s of a file in %s: status %d: %w", method, e.volume, s, statusError(s))
	}
}

// Volume is the checker's side for syncs and exports: listing a volume a
// page at a time and writing and deleting its files (core's VolumePager
// and VolumeWriter). A type of its own, so that a function that uses none
// of it (the create function) links none of it: the checker itself is
// reachable by reflection there.
type Volume struct{ *Checker }
