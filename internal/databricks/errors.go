package databricks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/databricks/databricks-sdk-go/apierr"

	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// ResponseError is an error answer of the workspace or of the identity
// provider, reduced to what is safe to log: unlike the SDK's and oauth2's
// errors it holds no request, whose headers or body carry the credentials.
type ResponseError struct {
	// Request is the method and URL, e.g. "HEAD https://host/api/2.0/fs/directories/Volumes/a/b/c".
	Request    string
	StatusCode int
	// Code is the Databricks error_code or the OAuth error.
	Code string
	// Message is the server's message or OAuth error_description, with any
	// secret of the check replaced.
	Message string

	token bool // an answer of a token endpoint
	azure bool // an answer of the Azure authority
}

// Error renders the request, status, code and message.
func (e *ResponseError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Request, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// check is the state of one CheckConnection call, for turning failures into
// connection errors.
type check struct {
	conn    storage.Connection
	host    string // the workspace's host[:port]
	volume  string
	target  string
	timeout time.Duration
	parent  context.Context // the caller's context
	ctx     context.Context // the check's context, with its deadline
	secrets []string
}

func secretsOf(conn storage.Connection) []string {
	var out []string
	for _, s := range []string{conn.Secrets.Token, conn.Secrets.ClientSecret} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (ck *check) volumeNotFound(err error) error {
	return &storage.ConnectionError{
		Reason: ReasonVolumeNotFound,
		Message: fmt.Sprintf("The volume %s was not found in workspace %s: check catalog, schema and volume, and that the %s may use the volume.",
			ck.volume, ck.host, ck.principal()),
		Err: sanitize(err, ck.secrets),
	}
}

// principal names who authenticates, for messages.
func (ck *check) principal() string {
	switch ck.conn.AuthType {
	case storage.AuthDatabricksSP, storage.AuthAzureADSP:
		return fmt.Sprintf("service principal %q", truncate(ck.conn.ClientID, 80))
	default:
		return "token's user"
	}
}

// fail turns an error of the SDK into a *storage.ConnectionError, or into a
// plain error when the caller gave up or the cause is unknown.
func (ck *check) fail(err error) error {
	if perr := ck.parent.Err(); errors.Is(perr, context.Canceled) {
		return fmt.Errorf("databricks: connection check abandoned: %w", perr)
	}
	cause := sanitize(err, ck.secrets)
	where, azure := ck.where(err)
	noun := "the workspace " + where
	if azure {
		noun = "the Azure AD authority " + where
	}
	subject := strings.ToUpper(noun[:1]) + noun[1:]
	connErr := func(reason, format string, args ...any) error {
		return &storage.ConnectionError{Reason: reason, Message: fmt.Sprintf(format, args...), Err: cause}
	}

	var (
		blocked *hostguard.BlockedAddressError
		apiErr  *apierr.APIError
		respErr *ResponseError
		certErr *tls.CertificateVerificationError
		dnsErr  *net.DNSError
		recErr  tls.RecordHeaderError
		urlErr  *url.Error
	)
	switch {
	case errors.As(err, &blocked):
		return connErr(ReasonHostNotAllowed,
			"%s resolves to %s, a %s address: this service connects to public addresses only.", subject, blocked.Addr, blocked.Kind)
	case ck.timedOut(err):
		return connErr(ReasonTimedOut, "%s did not answer within %s (request_timeout_s).", subject, ck.timeout)
	case errors.As(err, &apiErr):
		return ck.apiFailure(apiErr, cause)
	case errors.As(err, &respErr) && respErr.token:
		return ck.tokenFailure(respErr, where, cause)
	case errors.As(err, &certErr):
		hint := "use a certificate from a trusted authority, or set verify_tls to false if you trust this workspace"
		if azure {
			hint = "the identity provider must present a trusted certificate"
		}
		return connErr(ReasonTLSVerificationFailed, "The TLS certificate of %s could not be verified (%s): %s.", noun, certErr.Err, hint)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return connErr(ReasonWorkspaceUnreachable, "The host %s does not exist (no DNS record): check the workspace URL.", hostOnly(where))
	case errors.As(err, &dnsErr):
		return connErr(ReasonWorkspaceUnreachable, "The host %s could not be resolved (DNS lookup failed: %s).", hostOnly(where), dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return connErr(ReasonWorkspaceUnreachable, "%s refused the connection: check the workspace URL and port.", subject)
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http reports a plain-HTTP answer with an unexported error.
		return connErr(ReasonWorkspaceUnreachable, "%s did not answer with TLS: check that the workspace URL is the HTTPS address of the workspace.", subject)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return connErr(ReasonWorkspaceUnreachable, "%s closed the connection unexpectedly.", subject)
	case errors.Is(err, errNotHTTPS):
		return connErr(ReasonWorkspaceError, "%s redirected the request to a URL that is not HTTPS, which this service does not follow.", subject)
	case errors.As(err, &urlErr):
		return connErr(ReasonWorkspaceUnreachable, "Could not connect to %s: %s.", noun, strings.TrimSuffix(urlErr.Err.Error(), "."))
	default:
		return fmt.Errorf("databricks: check %s in %s: %w", ck.target, ck.host, cause)
	}
}

// where returns the host[:port] the failed request went to, the workspace
// unless the error names another, and whether that is the Azure authority.
func (ck *check) where(err error) (where string, azure bool) {
	where = ck.host
	var (
		urlErr   *url.Error
		respErr  *ResponseError
		tokenErr *tokenRequestError
	)
	if errors.As(err, &tokenErr) {
		azure = tokenErr.azure
	}
	switch {
	case errors.As(err, &urlErr):
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			where = u.Host
		}
	case errors.As(err, &respErr):
		if _, raw, ok := strings.Cut(respErr.Request, " "); ok {
			if u, perr := url.Parse(raw); perr == nil && u.Host != "" {
				where = u.Host
			}
		}
		azure = respErr.azure
	}
	return where, azure
}

func (ck *check) timedOut(err error) bool {
	if errors.Is(context.Cause(ck.ctx), errCheckTimedOut) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// apiFailure explains an error answer of the Files API.
func (ck *check) apiFailure(apiErr *apierr.APIError, cause error) error {
	code := ""
	if apiErr.ErrorCode != "" {
		code = " " + apiErr.ErrorCode
	}
	switch apiErr.StatusCode {
	case http.StatusUnauthorized:
		var msg string
		switch ck.conn.AuthType {
		case storage.AuthDatabricksSP:
			msg = fmt.Sprintf("The workspace %s refused the OAuth token of service principal %q (HTTP 401%s): check that the service principal belongs to this workspace.",
				ck.host, truncate(ck.conn.ClientID, 80), code)
		case storage.AuthAzureADSP:
			msg = fmt.Sprintf("The workspace %s refused the Azure AD token of service principal %q (HTTP 401%s): check that the service principal has been added to this workspace and that the tenant is the workspace's.",
				ck.host, truncate(ck.conn.ClientID, 80), code)
		default:
			msg = fmt.Sprintf("The workspace %s refused the personal access token (HTTP 401%s): check that the token is correct, belongs to this workspace and has not expired.",
				ck.host, code)
		}
		return &storage.ConnectionError{Reason: ReasonCredentialsRefused, Message: msg, Err: cause}
	case http.StatusForbidden:
		return &storage.ConnectionError{
			Reason: ReasonCredentialsRefused,
			Message: fmt.Sprintf("The workspace %s accepted the credentials but denied access to %s (HTTP 403%s): grant the %s READ VOLUME on the volume and USE CATALOG and USE SCHEMA on its parents.",
				ck.host, ck.target, code, ck.principal()),
			Err: cause,
		}
	default:
		return &storage.ConnectionError{
			Reason: ReasonWorkspaceError,
			Message: fmt.Sprintf("The workspace %s answered HTTP %d%s to the Files API request for %s: try again later, or ask the workspace administrator.",
				ck.host, apiErr.StatusCode, code, ck.target),
			Err: cause,
		}
	}
}

// tokenFailure explains an error answer of a token endpoint.
func (ck *check) tokenFailure(e *ResponseError, where string, cause error) error {
	detail := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.Code != "" {
		detail = e.Code
		if e.Message != "" {
			detail += ": " + strings.TrimSuffix(truncate(firstLine(e.Message), 200), ".")
		}
	}
	refused := e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	switch e.Code {
	case "invalid_client", "unauthorized_client", "invalid_grant", "invalid_request", "invalid_scope", "access_denied":
		refused = true
	}
	if !refused {
		return &storage.ConnectionError{
			Reason:  ReasonWorkspaceError,
			Message: fmt.Sprintf("The token endpoint of %s failed (%s): try again later.", where, detail),
			Err:     cause,
		}
	}
	var msg string
	if ck.conn.AuthType == storage.AuthAzureADSP {
		msg = fmt.Sprintf("Azure AD (%s) refused the client credentials of application %q in tenant %q (%s): check tenant_id, client_id and client_secret.",
			where, truncate(ck.conn.ClientID, 80), truncate(ck.conn.TenantID, 80), detail)
	} else {
		msg = fmt.Sprintf("The workspace %s refused the client credentials of service principal %q (%s): check client_id and client_secret, and that OAuth secrets are enabled for the service principal.",
			where, truncate(ck.conn.ClientID, 80), detail)
	}
	return &storage.ConnectionError{Reason: ReasonCredentialsRefused, Message: msg, Err: cause}
}

// sanitize returns the part of err worth keeping, without anything that
// holds the request: the SDK's *apierr.APIError keeps the request (and its
// Authorization header), so it becomes a *ResponseError.
func sanitize(err error, secrets []string) error {
	var apiErr *apierr.APIError
	if errors.As(err, &apiErr) {
		req := ""
		if w := apiErr.ResponseWrapper; w != nil && w.Response != nil && w.Response.Request != nil {
			r := w.Response.Request
			u := *r.URL
			u.RawQuery, u.ForceQuery, u.User = "", false, nil
			req = r.Method + " " + u.String()
		}
		return &ResponseError{
			Request:    req,
			StatusCode: apiErr.StatusCode,
			Code:       scrub(apiErr.ErrorCode, secrets),
			Message:    scrub(truncate(apiErr.Message, 500), secrets),
		}
	}
	var respErr *ResponseError
	if errors.As(err, &respErr) {
		return respErr
	}
	var tokenErr *tokenRequestError
	if errors.As(err, &tokenErr) {
		return tokenErr
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr
	}
	return err
}

// scrub replaces every occurrence of a secret, also URL-encoded, in s.
func scrub(s string, secrets []string) string {
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		s = strings.ReplaceAll(s, secret, "[REDACTED]")
		if q := url.QueryEscape(secret); q != secret {
			s = strings.ReplaceAll(s, q, "[REDACTED]")
		}
	}
	return s
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
