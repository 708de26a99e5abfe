// Package labelstudio makes a Label Studio the system of record for who a
// caller is and which projects they may see: a small client of its API
// (who is this token, may it see project P, does project P exist), an
// Authenticator for package httpapi and a core.ProjectAccess over it, both
// caching Label Studio's answers under a SHA-256 of the Authorization
// header, and the service credential read from a secret with a bounded
// refresh. With the service credential, Client is also the sync's
// core.TaskImporter: it imports tasks into a project in bulk, each marked
// with its origin in its meta, and lists them back (tasks.go). It knows
// nothing of AWS or Lambda: the secret is read through a function the
// wiring gives it.
package labelstudio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of the client. None of their messages holds a token.
var (
	// ErrRefused is wrapped when Label Studio refuses the credential (401):
	// unknown, expired or deactivated.
	ErrRefused = errors.New("refused by Label Studio")
	// ErrForbidden is wrapped when the credential may not see the object
	// (403).
	ErrForbidden = errors.New("forbidden by Label Studio")
	// ErrNotFound is wrapped when Label Studio shows no such object to the
	// credential (404): it does not exist, or is in another organisation.
	ErrNotFound = errors.New("not found in Label Studio")
	// ErrUnavailable is wrapped when Label Studio could not be reached or
	// answered something else (5xx, a body that is not its own).
	ErrUnavailable = errors.New("no answer from Label Studio")
)

// DefaultTimeout bounds one call to Label Studio when Client.HTTP is nil:
// every storage request waits on it when the cache is cold.
const DefaultTimeout = 5 * time.Second

// maxBody caps what is read of an answer; whoami and a project are small.
const maxBody = 1 << 20

// Client calls a Label Studio's API.
type Client struct {
	// BaseURL is Label Studio's address, e.g. "http://127.0.0.1:8081";
	// paths are appended to it.
	BaseURL string
	// HTTP sends the requests; nil means a client with DefaultTimeout.
	HTTP *http.Client
	// Service is the service credential, for questions no caller asks
	// (does a project exist, for trusted AWS callers).
	Service CredentialSource
	// TaskTimeout bounds one call of the task import (an import, a page
	// of a task list) instead of HTTP's timeout; DefaultTaskTimeout when
	// zero.
	TaskTimeout time.Duration
}

// CredentialSource gives the service credential's Authorization header.
type CredentialSource interface {
	// Authorization returns the header value to send.
	Authorization(ctx context.Context) (string, error)
	// Invalidate drops a cached value Label Studio refused, so that the
	// next Authorization reads it again (it may have been rotated).
	Invalidate()
}

// User is the account a credential belongs to.
type User struct {
	ID                 int64  `json:"id"`
	Email              string `json:"email"`
	Username           string `json:"username"`
	ActiveOrganization *int64 `json:"active_organization"`
}

var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// get sends GET path with the Authorization header and decodes a 200 answer
// into out (when not nil). Other statuses become the errors above.
func (c *Client) get(ctx context.Context, path, authorization string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		// A *url.Error names the URL (no credential in it) and the cause.
		return fmt.Errorf("%w: GET %s: %w", ErrUnavailable, path, unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%w: GET %s: read the answer: %w", ErrUnavailable, path, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%w: GET %s: the answer is not Label Studio's JSON: %w", ErrUnavailable, path, err)
		}
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("GET %s: %w", path, ErrRefused)
	case http.StatusForbidden:
		return fmt.Errorf("GET %s: %w", path, ErrForbidden)
	case http.StatusNotFound:
		return fmt.Errorf("GET %s: %w", path, ErrNotFound)
	}
	return fmt.Errorf("%w: GET %s answered %d", ErrUnavailable, path, resp.StatusCode)
}

// unwrapURL drops the method and URL a *url.Error repeats.
func unwrapURL(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

// WhoAmI returns the user the Authorization header authenticates as
// (GET /api/current-user/whoami). The header is sent verbatim: a legacy
// "Token …" or a personal access token's "Bearer …" access token.
func (c *Client) WhoAmI(ctx context.Context, authorization string) (User, error) {
	var u User
	if err := c.get(ctx, "/api/current-user/whoami", authorization, &u); err != nil {
		return User{}, err
	}
	if u.ID == 0 {
		return User{}, fmt.Errorf("%w: whoami answered no user id", ErrUnavailable)
	}
	return u, nil
}

// Project asks whether the credential may see project id
// (GET /api/projects/<id>): nil, or an error wrapping ErrNotFound (no such
// project in the caller's organisation), ErrForbidden, ErrRefused or
// ErrUnavailable.
func (c *Client) Project(ctx context.Context, authorization string, id int64) error {
	return c.get(ctx, "/api/projects/"+strconv.FormatInt(id, 10), authorization, nil)
}

// ServiceProject asks with the service credential whether project id
// exists. A refused credential is read again once (it may have been
// rotated); refused twice, it is a configuration fault: ErrUnavailable.
func (c *Client) ServiceProject(ctx context.Context, id int64) error {
	if c.Service == nil {
		return fmt.Errorf("%w: no service credential is configured", ErrUnavailable)
	}
	for attempt := 0; ; attempt++ {
		h, err := c.Service.Authorization(ctx)
		if err != nil {
			return fmt.Errorf("%w: the service credential could not be read: %w", ErrUnavailable, err)
		}
		err = c.Project(ctx, h, id)
		if !errors.Is(err, ErrRefused) {
			return err
		}
		c.Service.Invalidate()
		if attempt > 0 {
			return fmt.Errorf("%w: Label Studio refuses the service credential: %w", ErrUnavailable, err)
		}
	}
}
