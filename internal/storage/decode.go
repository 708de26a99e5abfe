package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Messages worded as Django REST framework words them, so clients that show
// Label Studio's errors show ours the same way.
const (
	msgRequired   = "This field is required."
	msgNull       = "This field may not be null."
	msgBlank      = "This field may not be blank."
	msgString     = "Not a valid string."
	msgInteger    = "A valid integer is required."
	msgBoolean    = "Must be a valid boolean."
	msgDatetime   = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
	msgMaxLength  = "Ensure this field has no more than %d characters."
	msgMinValue   = "Ensure this value is greater than or equal to %d."
	msgMaxValue   = "Ensure this value is less than or equal to %d."
	msgChoice     = "\"%s\" is not a valid choice."
	msgRequiredBy = "This field is required when auth_type is \"%s\"."
	msgSpoofing   = "Must not contain bidirectional control characters or zero-width characters."
)

// Limits on free-text fields, from Label Studio's model.
const (
	maxTitleLength      = 256
	maxLastSyncJob      = 256
	maxNameLength       = 255
	maxPrefixLength     = 1024
	maxCredentialLength = 4096
	maxLastSyncCount    = math.MaxInt32
)

var statusChoices = []string{"initialized", "queued", "in_progress", "failed", "completed", "completed_with_errors"}

// ErrMalformed is wrapped by DecodeRequest when the body is not a JSON object.
var ErrMalformed = errors.New("malformed request body")

// ValidationError lists every field problem of a request at once, keyed by
// field name (non_field_errors for problems of no single field).
type ValidationError struct {
	Fields map[string][]string
}

func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	return "invalid request: " + strings.Join(names, ", ")
}

func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	e.Fields[field] = append(e.Fields[field], msg)
}

// HostPolicy decides whether a workspace hostname may be used at all. The
// connection-time checks (what it resolves to) happen in the dialer.
type HostPolicy interface {
	CheckHost(hostname string) error
}

// Decoder turns request bodies into validated requests.
type Decoder struct {
	// Hosts, when set, refuses hostnames outside the allowed workspaces.
	Hosts HostPolicy
}

// DecodeRequest parses and validates a create or validate request body. It
// returns an error wrapping ErrMalformed when the body is not a JSON object,
// and a *ValidationError listing every field problem otherwise.
func (d Decoder) DecodeRequest(body []byte) (Request, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return Request{}, fmt.Errorf("%w: expected a JSON object, got %s", ErrMalformed, typeErr.Value)
		}
		return Request{}, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if fields == nil {
		return Request{}, fmt.Errorf("%w: expected a JSON object, got null", ErrMalformed)
	}
	// Only JSON whitespace may follow the object. (dec.More and dec.Token
	// both miss a stray closing '}' or ']'.)
	if rest := body[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return Request{}, fmt.Errorf("%w: unexpected data after the JSON object", ErrMalformed)
	}

	p := parser{fields: fields}
	var r Request
	s := &r.Settings

	s.Catalog = p.name("catalog")
	s.Schema = p.name("schema")
	s.Volume = p.name("volume")
	s.Host = p.host("host", d.Hosts)
	s.Project = p.integer("project", true, 1, math.MaxInt64, 0)

	s.AuthType = AuthType(p.choice("auth_type", []string{string(AuthPAT), string(AuthDatabricksSP), string(AuthAzureADSP)}, string(DefaultAuthType)))
	r.Secrets.Token = p.credential("token")
	r.Secrets.ClientSecret = p.credential("client_secret")
	s.ClientID = optional(p.credential("client_id"))
	s.TenantID = optional(p.credential("tenant_id"))
	if p.errs.Fields["auth_type"] == nil {
		p.requireForAuth(s.AuthType, r.Secrets, s.ClientID, s.TenantID)
	}

	s.Prefix = p.prefix("prefix")
	s.RegexFilter = p.nullableString("regex_filter", 0)
	s.RecursiveScan = p.boolean("recursive_scan", false)
	s.UseBlobURLs = p.boolean("use_blob_urls", false)
	s.VerifyTLS = p.boolean("verify_tls", true)
	s.RequestTimeoutS = p.integer("request_timeout_s", false, 1, MaxRequestTimeoutS, DefaultRequestTimeoutS)
	s.StreamChunkBytes = p.integer("stream_chunk_bytes", false, MinStreamChunkBytes, MaxStreamChunkBytes, DefaultStreamChunkBytes)
	s.Presign = p.boolean("presign", false)
	s.PresignTTL = p.integer("presign_ttl", false, 1, MaxPresignTTL, DefaultPresignTTL)
	s.Synchronizable = p.boolean("synchronizable", true)
	s.Status = p.choice("status", statusChoices, DefaultStatus)
	s.Title = p.nullableString("title", maxTitleLength)
	s.Description = p.nullableString("description", 0)
	s.LastSync = p.datetime("last_sync")
	s.LastSyncCount = p.nullableInteger("last_sync_count", 0, maxLastSyncCount)
	s.LastSyncJob = p.nullableString("last_sync_job", maxLastSyncJob)
	s.Meta = p.anyJSON("meta")
	s.Traceback = p.nullableString("traceback", 0)

	if p.errs.Fields != nil {
		return Request{}, &p.errs
	}
	return r, nil
}

// jsonProblem describes a syntax error without echoing the body, which may
// hold secrets.
func jsonProblem(err error) string {
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("JSON parse error at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	}
	if errors.Is(err, io.EOF) {
		return "the body is empty"
	}
	return "JSON parse error: " + err.Error()
}

type parser struct {
	fields map[string]json.RawMessage
	errs   ValidationError
}

// raw returns a field's value; present is false when the key is absent, and
// null is true for an explicit JSON null.
func (p *parser) raw(name string) (value json.RawMessage, present, null bool) {
	v, ok := p.fields[name]
	if !ok {
		return nil, false, false
	}
	return v, true, bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

func (p *parser) str(name string) (string, bool) {
	v, _, _ := p.raw(name)
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		p.errs.add(name, msgString)
		return "", false
	}
	return s, true
}

// name parses a required Unity Catalog identifier. Identifiers become path
// segments of /Volumes/<catalog>/<schema>/<volume>, so anything that could
// step out of that path is refused.
func (p *parser) name(field string) string {
	_, present, null := p.raw(field)
	switch {
	case !present:
		p.errs.add(field, msgRequired)
		return ""
	case null:
		p.errs.add(field, msgNull)
		return ""
	}
	s, ok := p.str(field)
	if !ok {
		return ""
	}
	switch {
	case strings.TrimSpace(s) == "":
		p.errs.add(field, msgBlank)
	case utf8.RuneCountInString(s) > maxNameLength:
		p.errs.add(field, fmt.Sprintf(msgMaxLength, maxNameLength))
	case strings.ContainsAny(s, "/\\") || s == "." || s == ".." || hasControl(s):
		p.errs.add(field, "Must be a single Unity Catalog name: no slashes, control characters, \".\" or \"..\".")
	case hasSpoofing(s):
		p.errs.add(field, msgSpoofing)
	}
	return s
}

func (p *parser) host(field string, policy HostPolicy) string {
	_, present, null := p.raw(field)
	switch {
	case !present:
		p.errs.add(field, msgRequired)
		return ""
	case null:
		p.errs.add(field, msgNull)
		return ""
	}
	s, ok := p.str(field)
	if !ok {
		return ""
	}
	if strings.TrimSpace(s) == "" {
		p.errs.add(field, msgBlank)
		return ""
	}
	normalised, hostname, err := NormaliseHost(s)
	if err != nil {
		p.errs.add(field, err.Error())
		return ""
	}
	if policy != nil {
		if err := policy.CheckHost(hostname); err != nil {
			p.errs.add(field, err.Error())
			return ""
		}
	}
	return normalised
}

// HostFormatError says, in a sentence fit for a client, why a workspace URL
// is not acceptable.
type HostFormatError string

func (e HostFormatError) Error() string { return string(e) }

// NormaliseHost checks that raw is https://<hostname>[:port] with at most a
// trailing slash, and returns it lower-cased, without the default port and
// trailing slash, together with the bare hostname.
func NormaliseHost(raw string) (normalised, hostname string, err error) {
	const shape = "Enter a valid workspace URL of the form https://<workspace-host>[:port], with no path, query, fragment or user info."
	if hasControl(raw) || strings.ContainsAny(raw, " \\") {
		return "", "", HostFormatError(shape)
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.Host == "" {
		return "", "", HostFormatError(shape)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return "", "", HostFormatError("The workspace URL must use https://.")
	}
	if u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", "", HostFormatError(shape)
	}
	hostname = strings.ToLower(u.Hostname())
	port := u.Port()
	if hostname == "" || strings.HasSuffix(u.Host, ":") {
		return "", "", HostFormatError(shape)
	}
	if port != "" {
		n, convErr := strconv.Atoi(port)
		if convErr != nil || n < 1 || n > 65535 {
			return "", "", HostFormatError("The workspace URL has an invalid port.")
		}
		if n == 443 {
			port = ""
		} else {
			port = strconv.Itoa(n)
		}
	}
	hostport := hostname
	if strings.Contains(hostname, ":") {
		hostport = "[" + hostname + "]"
	}
	if port != "" {
		hostport = net.JoinHostPort(hostname, port)
	}
	return "https://" + hostport, hostname, nil
}

func (p *parser) credential(field string) string {
	_, present, null := p.raw(field)
	if !present {
		return ""
	}
	if null {
		p.errs.add(field, msgNull)
		return ""
	}
	s, ok := p.str(field)
	if !ok {
		return ""
	}
	switch {
	case strings.TrimSpace(s) == "":
		p.errs.add(field, msgBlank)
		return ""
	case len(s) > maxCredentialLength:
		p.errs.add(field, fmt.Sprintf(msgMaxLength, maxCredentialLength))
		return ""
	case hasControl(s):
		p.errs.add(field, "Must not contain control characters.")
		return ""
	}
	return s
}

func (p *parser) requireForAuth(mode AuthType, secrets Secrets, clientID, tenantID *string) {
	need := func(field string, have bool) {
		if !have && p.errs.Fields[field] == nil {
			p.errs.add(field, fmt.Sprintf(msgRequiredBy, mode))
		}
	}
	switch mode {
	case AuthPAT:
		need("token", secrets.Token != "")
	case AuthDatabricksSP:
		need("client_id", clientID != nil)
		need("client_secret", secrets.ClientSecret != "")
	case AuthAzureADSP:
		need("client_id", clientID != nil)
		need("client_secret", secrets.ClientSecret != "")
		need("tenant_id", tenantID != nil)
	}
}

func (p *parser) prefix(field string) *string {
	s := p.nullableString(field, maxPrefixLength)
	if s == nil {
		return nil
	}
	trimmed := strings.Trim(*s, "/")
	if trimmed == "" {
		return nil
	}
	for _, segment := range strings.Split(trimmed, "/") {
		if segment == "" || segment == "." || segment == ".." || hasControl(segment) || strings.Contains(segment, "\\") {
			p.errs.add(field, "Must be a relative path under the volume: no empty, \".\" or \"..\" segments, backslashes or control characters.")
			return nil
		}
	}
	if hasSpoofing(trimmed) {
		p.errs.add(field, msgSpoofing)
		return nil
	}
	return &trimmed
}

func (p *parser) nullableString(field string, maxLen int) *string {
	_, present, null := p.raw(field)
	if !present || null {
		return nil
	}
	s, ok := p.str(field)
	if !ok {
		return nil
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		p.errs.add(field, fmt.Sprintf(msgMaxLength, maxLen))
		return nil
	}
	return &s
}

func (p *parser) boolean(field string, def bool) bool {
	v, present, null := p.raw(field)
	if !present {
		return def
	}
	if null {
		p.errs.add(field, msgNull)
		return def
	}
	switch string(bytes.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	p.errs.add(field, msgBoolean)
	return def
}

func (p *parser) choice(field string, choices []string, def string) string {
	_, present, null := p.raw(field)
	if !present {
		return def
	}
	if null {
		p.errs.add(field, msgNull)
		return def
	}
	s, ok := p.str(field)
	if !ok {
		return def
	}
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	p.errs.add(field, fmt.Sprintf(msgChoice, truncate(s, 64)))
	return def
}

func (p *parser) integer(field string, required bool, lo, hi, def int64) int64 {
	_, present, null := p.raw(field)
	switch {
	case !present && required:
		p.errs.add(field, msgRequired)
		return 0
	case !present:
		return def
	case null:
		p.errs.add(field, msgNull)
		return def
	}
	n, ok := p.intValue(field, lo, hi)
	if !ok {
		return def
	}
	return n
}

func (p *parser) nullableInteger(field string, lo, hi int64) *int64 {
	_, present, null := p.raw(field)
	if !present || null {
		return nil
	}
	n, ok := p.intValue(field, lo, hi)
	if !ok {
		return nil
	}
	return &n
}

// intValue accepts JSON numbers with an integral value (5 and 5.0, as Django
// REST framework does) and refuses strings, booleans and fractions.
func (p *parser) intValue(field string, lo, hi int64) (int64, bool) {
	v, _, _ := p.raw(field)
	text := string(bytes.TrimSpace(v))
	if text == "" || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) {
		p.errs.add(field, msgInteger)
		return 0, false
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(text, 64)
		switch {
		case ferr != nil && !errors.Is(ferr, strconv.ErrRange):
			p.errs.add(field, msgInteger)
			return 0, false
		case f != math.Trunc(f):
			p.errs.add(field, msgInteger)
			return 0, false
		case f < float64(lo):
			p.errs.add(field, fmt.Sprintf(msgMinValue, lo))
			return 0, false
		case f > float64(hi) || f >= math.MaxInt64:
			p.errs.add(field, fmt.Sprintf(msgMaxValue, hi))
			return 0, false
		}
		n = int64(f)
	}
	if n < lo {
		p.errs.add(field, fmt.Sprintf(msgMinValue, lo))
		return 0, false
	}
	if n > hi {
		p.errs.add(field, fmt.Sprintf(msgMaxValue, hi))
		return 0, false
	}
	return n, true
}

// Layouts Django REST framework's DateTimeField accepts (ISO 8601); a time
// without a zone is taken as UTC, the zone Label Studio runs in.
var datetimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
}

func (p *parser) datetime(field string) *time.Time {
	_, present, null := p.raw(field)
	if !present || null {
		return nil
	}
	s, ok := p.str(field)
	if !ok {
		return nil
	}
	for _, layout := range datetimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC().Truncate(time.Microsecond)
			if t.Year() < 1 || t.Year() > 9999 {
				// Outside Python's datetime range, and a time JSON cannot
				// render: the storage would be saved but never shown.
				break
			}
			return &t
		}
	}
	p.errs.add(field, msgDatetime)
	return nil
}

func (p *parser) anyJSON(field string) json.RawMessage {
	v, present, null := p.raw(field)
	if !present || null {
		return nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, v); err != nil {
		p.errs.add(field, "Value must be valid JSON.")
		return nil
	}
	return compact.Bytes()
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// hasSpoofing reports whether s holds a character that changes what a person
// reads without showing itself: a bidirectional control (U+061C, U+200E,
// U+200F, U+202A–U+202E, U+2066–U+2069), with which "\u202egpj.exe" reads
// "exe.jpg", or a zero-width character (U+200B–U+200D, U+FEFF), with which
// two different names look the same. Names and prefixes are shown in Label
// Studio and in messages; unicode.IsControl does not cover these (they are
// format characters, category Cf).
func hasSpoofing(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.Is(unicode.Bidi_Control, r) || (r >= '\u200b' && r <= '\u200d') || r == '\ufeff'
	}) >= 0
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
