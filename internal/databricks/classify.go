package databricks

// This file classifies the failures of a check: which are the caller's to
// fix and which are transient (a storage.ConnectionError's Reason), and
// what the user is told. What an error may keep of an answer is redact.go's.

import (
	"context"
	"crypto/tls"
	"encoding/json"
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
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/httpclient"

	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// check is the state of one CheckConnection, ListFiles or ListPage call, for turning
// failures into connection errors.
type check struct {
	op      string // "connection check" or "files listing", for plain errors
	conn    storage.Connection
	host    string // the workspace's host[:port]
	volume  string
	target  string // the directory checked or listed, as messages name it
	timeout time.Duration
	parent  context.Context // the caller's context
	ctx     context.Context // the check's context, with its deadline
	// client sends the requests the FilesAPI has no call for: a listing
	// page asked for by its page_token (its iterator keeps the tokens).
	client *client.DatabricksClient
	// req names the request under way, for failures that do not name it
	// ("GET https://host/api/…"); empty when unknown.
	req string
	// hide, when not nil, rewrites the requests and texts an error keeps,
	// to take out paths the workspace chose (the names of subdirectories).
	hide func(string) string
}

func (ck *check) volumeNotFound(err error) error {
	return &storage.ConnectionError{
		Reason: ReasonVolumeNotFound,
		Message: fmt.Sprintf("The volume %s was not found in workspace %s: check catalog, schema and volume, and that the %s may use the volume.",
			ck.volume, ck.host, ck.principal()),
		Err: ck.apiResponse(err),
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
// plain error when the caller gave up or the cause is unknown. Its Message
// and Err are built from this package's own words and from what vetted
// fields of a *ResponseError hold, never from an error's text.
func (ck *check) fail(err error) error {
	if perr := ck.parent.Err(); errors.Is(perr, context.Canceled) {
		return fmt.Errorf("databricks: %s abandoned: %w", ck.op, perr)
	}
	where, azure := ck.where(err)
	noun := "the workspace " + where
	if azure {
		noun = "the Azure AD authority " + where
	}
	subject := strings.ToUpper(noun[:1]) + noun[1:]
	request := ck.hidden(ck.request(err))
	connErr := func(reason, problem, format string, args ...any) error {
		return &storage.ConnectionError{Reason: reason, Message: fmt.Sprintf(format, args...), Err: &RequestError{Request: request, Problem: problem}}
	}

	var (
		blocked  *hostguard.BlockedAddressError
		apiErr   *apierr.APIError
		respErr  *ResponseError
		certErr  *tls.CertificateVerificationError
		dnsErr   *net.DNSError
		recErr   tls.RecordHeaderError
		urlErr   *url.Error
		tokenErr *tokenRequestError
	)
	switch {
	case errors.As(err, &blocked):
		return connErr(ReasonHostNotAllowed, blocked.Error(),
			"%s resolves to %s, a %s address: this service connects to public addresses only.", subject, blocked.Addr, blocked.Kind)
	case ck.timedOut(err):
		return connErr(ReasonTimedOut, "no answer within "+ck.timeout.String(), "%s did not answer within %s (request_timeout_s).", subject, ck.timeout)
	case errors.As(err, &apiErr):
		return ck.apiFailure(ck.apiResponse(apiErr))
	case errors.As(err, &respErr):
		resp := ck.vetted(respErr)
		if resp.redirect() {
			return ck.redirected(resp, where)
		}
		return ck.tokenFailure(resp, where)
	case errors.As(err, &certErr):
		problem := certProblem(certErr.Err)
		hint := "use a certificate from a trusted authority, or set verify_tls to false if you trust this workspace"
		if azure {
			hint = "the identity provider must present a trusted certificate"
		}
		return connErr(ReasonTLSVerificationFailed, problem, "The TLS certificate of %s could not be verified (%s): %s.", noun, problem, hint)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return connErr(ReasonWorkspaceUnreachable, "no such host", "The host %s does not exist (no DNS record): check the workspace URL.", hostOnly(where))
	case errors.As(err, &dnsErr):
		problem := "DNS lookup failed: " + dnsErr.Err
		return connErr(ReasonWorkspaceUnreachable, problem, "The host %s could not be resolved (%s).", hostOnly(where), problem)
	case errors.Is(err, syscall.ECONNREFUSED):
		return connErr(ReasonWorkspaceUnreachable, "connection refused", "%s refused the connection: check the workspace URL and port.", subject)
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http reports a plain-HTTP answer with an unexported error.
		return connErr(ReasonWorkspaceUnreachable, "the answer was not TLS", "%s did not answer with TLS: check that the workspace URL is the HTTPS address of the workspace.", subject)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return connErr(ReasonWorkspaceUnreachable, "connection closed", "%s closed the connection unexpectedly.", subject)
	case errors.Is(err, errNotHTTPS):
		// No redirect is followed, so only a misconfigured authority gets here.
		return connErr(ReasonWorkspaceError, errNotHTTPS.Error(), "The URL of %s is not https://, which this service requires.", noun)
	case errors.As(err, &urlErr):
		// Beyond the cases above, net/http's errors can quote the answer
		// (a malformed status line, HTTP/2 GOAWAY debug data): only an
		// operating system error or a TLS alert, both from fixed lists,
		// are specific and safe to name.
		var (
			errno syscall.Errno
			opErr *net.OpError
		)
		if errors.As(err, &errno) {
			return connErr(ReasonWorkspaceUnreachable, errno.Error(), "Could not connect to %s (%s).", noun, errno.Error())
		}
		if errors.As(err, &opErr) && (opErr.Op == "remote error" || opErr.Op == "local error") {
			problem := opErr.Op + ": " + opErr.Err.Error()
			return connErr(ReasonWorkspaceUnreachable, problem, "The TLS connection to %s failed (%s).", noun, problem)
		}
		return connErr(ReasonWorkspaceUnreachable, "no valid HTTP answer", "%s did not send a valid HTTP answer.", subject)
	case errors.As(err, &tokenErr):
		// oauth2 got a success answer it could not read a token from.
		return connErr(ReasonWorkspaceError, "no access token in the answer", "%s answered without a usable access token: try again later.", tokenEndpoint(where, azure))
	case unreadableAnswer(err):
		// An answer whose body the SDK could not read, or not as the Files
		// API's JSON (only a listing reads one); the SDK's error can quote
		// it.
		return connErr(ReasonWorkspaceUnreachable, "the answer was not a Files API answer",
			"%s answered the Files API request with something that is not a Files API answer (an HTML page, malformed JSON or an unreadable body): check that the workspace URL is the workspace's own.", subject)
	default:
		return fmt.Errorf("databricks: %s of %s in %s: %w", ck.op, ck.target, ck.host, &RequestError{Request: request, Problem: truncate(ck.hidden(ck.redact(err.Error())), 500)})
	}
}

// unreadableAnswer reports whether err is the SDK's failure to read an
// answer's body ("response body: …", e.g. a broken gzip encoding) or a
// success answer's body as JSON ("failed to unmarshal response body: …").
// fail asks only after the error kinds that can carry an answer's text.
func unreadableAnswer(err error) bool {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	return errors.Is(err, httpclient.ErrHTMLContent) || errors.As(err, &syntaxErr) || errors.As(err, &typeErr) ||
		strings.Contains(err.Error(), "response body: ")
}

// where returns the host[:port] the failed request went to, the workspace
// unless the error names another, and whether that is the Azure authority.
// It reads only URLs this package built: no redirect is followed.
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
	case errors.As(err, &respErr):
		if _, raw, ok := strings.Cut(respErr.Request, " "); ok {
			if u, perr := url.Parse(raw); perr == nil && u.Host != "" {
				where = u.Host
			}
		}
		azure = respErr.azure
	case errors.As(err, &urlErr):
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			where = u.Host
		}
	}
	return where, azure
}

// request names the failed request, e.g. "HEAD https://host/api/2.0/fs/…".
func (ck *check) request(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			return strings.ToUpper(urlErr.Op) + " " + withoutQuery(u)
		}
	}
	var tokenErr *tokenRequestError
	if errors.As(err, &tokenErr) {
		return "POST " + tokenErr.url
	}
	if ck.req != "" {
		return ck.req
	}
	return "https://" + ck.host
}

// timedOut reports whether err came of running out of time: the deadline
// passed (its timer may not have fired yet), a timeout of the network, or
// the SDK's rate limiter refusing to wait for a request the deadline would
// cut short, which it reports in an error of its own text only.
func (ck *check) timedOut(err error) bool {
	if errors.Is(context.Cause(ck.ctx), errTimedOut) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if d, ok := ck.ctx.Deadline(); ok && !time.Now().Before(d) {
		return true
	}
	var (
		netErr net.Error
		apiErr *apierr.APIError
	)
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	// The SDK wraps the limiter's error as "failed in rate limiter: …"
	// before any request is sent, so no answer's text is involved; an
	// answer's text, which could say the same, comes as an APIError or
	// an unreadable answer.
	return !errors.As(err, &apiErr) && !unreadableAnswer(err) && strings.Contains(err.Error(), "failed in rate limiter: ")
}

// apiFailure explains an error answer of the Files API.
func (ck *check) apiFailure(resp *ResponseError) error {
	code := ""
	if resp.Code != "" {
		code = " " + resp.Code
	}
	switch resp.StatusCode {
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
		return &storage.ConnectionError{Reason: ReasonCredentialsRefused, Message: msg, Err: resp}
	case http.StatusForbidden:
		return &storage.ConnectionError{
			Reason: ReasonCredentialsRefused,
			Message: fmt.Sprintf("The workspace %s accepted the credentials but denied access to %s (HTTP 403%s): grant the %s READ VOLUME on the volume and USE CATALOG and USE SCHEMA on its parents.",
				ck.host, ck.target, code, ck.principal()),
			Err: resp,
		}
	default:
		return &storage.ConnectionError{
			Reason: ReasonWorkspaceError,
			Message: fmt.Sprintf("The workspace %s answered HTTP %d%s to the Files API request for %s: try again later, or ask the workspace administrator.",
				ck.host, resp.StatusCode, code, ck.target),
			Err: resp,
		}
	}
}

// redirected explains a redirect answer. It is permanent: a check is
// answered by the host the storage names, with the credentials sent there,
// or not at all.
func (ck *check) redirected(e *ResponseError, where string) error {
	who, hint := "The workspace "+where, "set host to the workspace's own URL"
	if e.token {
		who = tokenEndpoint(where, e.azure)
	}
	if e.azure {
		hint = "the identity provider must answer at its token endpoint"
	}
	to := ""
	if e.Location != "" {
		to = " to " + e.Location
	}
	return &storage.ConnectionError{
		Reason:  ReasonRedirected,
		Message: fmt.Sprintf("%s answered with a redirect%s (HTTP %d), which this service does not follow: %s.", who, to, e.StatusCode, hint),
		Err:     e,
	}
}

// tokenFailure explains an error answer of a token endpoint.
func (ck *check) tokenFailure(e *ResponseError, where string) error {
	detail := e.status()
	refused := e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	switch e.Code {
	case "invalid_client", "unauthorized_client", "invalid_grant", "invalid_request", "invalid_scope", "access_denied":
		refused = true
	}
	if !refused {
		return &storage.ConnectionError{
			Reason:  ReasonWorkspaceError,
			Message: fmt.Sprintf("%s failed (%s): try again later.", tokenEndpoint(where, e.azure), detail),
			Err:     e,
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
	return &storage.ConnectionError{Reason: ReasonCredentialsRefused, Message: msg, Err: e}
}

// tokenEndpoint names the token endpoint at where, for the start of a
// sentence.
func tokenEndpoint(where string, azure bool) string {
	if azure {
		return "The Azure AD authority " + where
	}
	return "The token endpoint of the workspace " + where
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
