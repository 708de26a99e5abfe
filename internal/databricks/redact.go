package databricks

// This file keeps secrets and the text a server chose out of errors: the
// vetted error types, the filters that read an answer's fields, and the
// secret matching and redaction of last resort.

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
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
	s := e.Request + ": " + e.status()
	if e.Location != "" {
		s += " redirecting to " + e.Location
	}
	return s
}

// status renders the status and codes, e.g. "HTTP 401 invalid_client
// AADSTS7000215", for messages too.
func (e *ResponseError) status() string {
	s := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.AzureCode != 0 {
		s += fmt.Sprintf(" AADSTS%d", e.AzureCode)
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

func (ck *check) hidden(s string) string {
	if ck.hide == nil {
		return s
	}
	return ck.hide(s)
}

func withoutQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment, c.User = "", false, "", "", nil
	return c.String()
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
	} else if !hostguard.ValidDNSName(host) {
		return ""
	}
	if p := u.Port(); p != "" && len(p) <= 5 {
		host += ":" + p
	}
	return host
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
