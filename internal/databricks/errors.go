package databricks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/httpclient"

	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// ResponseError is an error answer of the workspace or of a token endpoint,
// in this package's words. A hostile or merely echoing server can put the
// check's credentials into any text it sends back (an error description, a
// status line, a Location), and no filter can catch every encoding of them,
// so none of that text is kept: only the status, an error code that is a
// plain identifier, Entra ID's numeric code and, for a redirect, the host it
// named when that is a plain host name. Unlike the SDK's and oauth2's errors
// it holds no request either, whose headers or body carry the credentials.
type ResponseError struct {
	// Request is this check's method and URL, without query, e.g.
	// "HEAD https://host/api/2.0/fs/directories/Volumes/a/b/c".
	Request    string
	StatusCode int
	// Code is the Databricks error_code or the OAuth error when it is
	// [A-Za-z_]{1,64} and no piece of a secret of the check; else empty.
	Code string
	// AzureCode is Entra ID's error code, 7000215 for AADSTS7000215; 0 when
	// absent.
	AzureCode int
	// Location is the host[:port] a redirect pointed to when it is a DNS
	// name or an IP address and holds no secret of the check; else empty.
	Location string

	token bool // an answer of a token endpoint
	azure bool // an answer of the Azure authority
}

// Error renders the request, status, codes and redirect target.
func (e *ResponseError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Request, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.AzureCode != 0 {
		s += fmt.Sprintf(" AADSTS%d", e.AzureCode)
	}
	if e.Location != "" {
		s += " redirecting to " + e.Location
	}
	return s
}

func (e *ResponseError) redirect() bool { return e.StatusCode >= 300 && e.StatusCode < 400 }

// RequestError is a request of the check that got no usable answer. Its
// Problem is this package's description, never the text of the underlying
// error, which can quote what the server sent (a malformed status line, a
// certificate's names).
type RequestError struct {
	// Request is the method and URL, without query.
	Request string
	Problem string
}

func (e *RequestError) Error() string { return e.Request + ": " + e.Problem }

// check is the state of one CheckConnection or ListFiles call, for turning
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
	// req names the request under way, for failures that do not name it
	// ("GET https://host/api/…"); empty when unknown.
	req string
	// hide, when not nil, rewrites the requests and texts an error keeps,
	// to take out paths the workspace chose (the names of subdirectories).
	hide func(string) string
}

func (ck *check) hidden(s string) string {
	if ck.hide == nil {
		return s
	}
	return ck.hide(s)
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

func withoutQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment, c.User = "", false, "", "", nil
	return c.String()
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

// apiResponse reduces the SDK's error answer in err, which keeps the request
// (and its Authorization header) and the whole answer, to a vetted
// *ResponseError. Its callers know err holds one; should it not, the result
// names the workspace only.
func (ck *check) apiResponse(err error) *ResponseError {
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) {
		return &ResponseError{Request: "https://" + ck.host}
	}
	req := ""
	if w := apiErr.ResponseWrapper; w != nil && w.Response != nil && w.Response.Request != nil {
		req = w.Response.Request.Method + " " + withoutQuery(w.Response.Request.URL)
	}
	return ck.vetted(&ResponseError{Request: req, StatusCode: apiErr.StatusCode, Code: plainCode(apiErr.ErrorCode)})
}

// vetted returns a copy of e without a code or redirect host that holds, or
// is a piece of, a secret of the check, and with its request hidden. Those fields passed a syntax filter
// where the answer was read, but a secret can match that syntax too.
func (ck *check) vetted(e *ResponseError) *ResponseError {
	v := *e
	v.Request = ck.hidden(v.Request)
	if ck.mentionsSecret(v.Code) {
		v.Code = ""
	}
	if ck.mentionsSecret(v.Location) {
		v.Location = ""
	}
	return &v
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
	detail := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.Code != "" {
		detail += " " + e.Code
	}
	if e.AzureCode != 0 {
		detail += fmt.Sprintf(" AADSTS%d", e.AzureCode)
	}
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

// certProblem describes a certificate verification failure without the
// certificate's names, which the server chose.
func certProblem(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return "x509: certificate signed by unknown authority"
	case errors.As(err, &hostname):
		return "x509: certificate is not valid for " + hostname.Host
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "x509: certificate has expired or is not yet valid"
	default:
		return "x509: certificate is not valid"
	}
}

// plainCode returns code when it is a plain identifier, [A-Za-z_]{1,64}, as
// OAuth errors and Databricks error codes are; else "".
func plainCode(code string) string {
	if code == "" || len(code) > 64 {
		return ""
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '_' {
			return ""
		}
	}
	return code
}

// azureCode returns the first of Entra ID's error_codes in an error answer's
// body; 0 when there is none.
func azureCode(body []byte) int {
	var b struct {
		ErrorCodes []int `json:"error_codes"`
	}
	if json.Unmarshal(body, &b) != nil || len(b.ErrorCodes) == 0 || b.ErrorCodes[0] <= 0 || b.ErrorCodes[0] > 1e9 {
		return 0
	}
	return b.ErrorCodes[0]
}

// redirectHost returns the host[:port] of a Location, resolved against the
// URL of the request, when it is a DNS name (in lower case) or an IP address
// (without zone); "" otherwise. Path and query are never kept: a server can
// put anything there.
func redirectHost(base *url.URL, location string) string {
	if location == "" {
		return ""
	}
	u, err := base.Parse(location)
	if err != nil || u.Host == "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if addr, err := netip.ParseAddr(host); err == nil {
		host = addr.WithZone("").String()
		if addr.Is6() {
			host = "[" + host + "]"
		}
	} else if !dnsName(host) {
		return ""
	}
	if p := u.Port(); p != "" && len(p) <= 5 {
		host += ":" + p
	}
	return host
}

// dnsName reports whether h is a lower-case DNS name of letters, digits and
// hyphens.
func dnsName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// secretForms returns the secrets of the check as a server could echo them:
// as sent (raw in a bearer header, URL-encoded in a form body or Basic
// credential, base64-encoded in a Basic credential) and as commonly
// re-encoded. Only failures need them.
func (ck *check) secretForms() []string {
	id := ck.conn.ClientID
	var forms []string
	for _, s := range []string{ck.conn.Secrets.Token, ck.conn.Secrets.ClientSecret} {
		if s == "" {
			continue
		}
		forms = append(forms, s, url.QueryEscape(s), url.PathEscape(s))
		if j, err := json.Marshal(s); err == nil {
			forms = append(forms, string(j[1:len(j)-1]))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			forms = append(forms,
				enc.EncodeToString([]byte(s)),
				enc.EncodeToString([]byte(id+":"+s)),
				enc.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(s))))
		}
	}
	return forms
}

// minPiece is the shortest string mentionsSecret treats as a possible piece
// of a secret.
const minPiece = 4

// mentionsSecret reports whether s holds a form of a secret of the check, or
// is a piece of one, in any letter case.
func (ck *check) mentionsSecret(s string) bool {
	if s == "" {
		return false
	}
	s = strings.ToLower(s)
	for _, f := range ck.secretForms() {
		f = strings.ToLower(f)
		if strings.Contains(s, f) || (len(s) >= minPiece && strings.Contains(f, s)) {
			return true
		}
	}
	return false
}

// redact replaces every form of a secret of the check in s, in any letter
// case. It is the last resort for errors of unknown cause, whose text this
// package does not control.
func (ck *check) redact(s string) string {
	for _, f := range ck.secretForms() {
		s = regexp.MustCompile("(?i)"+regexp.QuoteMeta(f)).ReplaceAllLiteralString(s, "[REDACTED]")
	}
	return s
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
