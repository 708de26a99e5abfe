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
	"regexp"
	"slices"
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
	msgPkType     = "Incorrect type. Expected pk value, received %s."
	msgPkMissing  = "Invalid pk \"%s\" - object does not exist."
	msgIntLength  = "String value too large."
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
	// Django REST framework's IntegerField refuses longer strings.
	maxIntegerString = 1000
)

var statusChoices = []string{"initialized", "queued", "in_progress", "failed", "completed", "completed_with_errors"}

// ErrMalformed is wrapped by DecodeRequest when the body is not a JSON object.
var ErrMalformed = errors.New("malformed request body")

// ValidationError lists every field problem of a request at once, keyed by
// field name (non_field_errors for problems of no single field). Names
// gives the fields in the order Label Studio lists them.
type ValidationError struct {
	Fields map[string][]string
}

// Names returns the fields with problems in the order Label Studio lists
// them (see SortFieldNames).
func (e *ValidationError) Names() []string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	SortFieldNames(names)
	return names
}

func (e *ValidationError) Error() string {
	return "invalid request: " + strings.Join(e.Names(), ", ")
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
	r := p.request(d.Hosts)
	if p.errs.Fields["auth_type"] == nil {
		p.requireForAuth(r.AuthType, r.Secrets, r.ClientID, r.TenantID)
	}
	if p.errs.Fields != nil {
		return Request{}, &p.errs
	}
	return r, nil
}

// request parses every field of a request with its field's rules: a field
// left out gets its default, or a "required" problem. The cross-field
// rules (requireForAuth) are the caller's, run over the whole storage.
// The create decodes a body with it, and an update the fields it gives.
func (p *parser) request(hosts HostPolicy) Request {
	var r Request
	s := &r.Settings

	s.Catalog = p.name("catalog")
	s.Schema = p.name("schema")
	s.Volume = p.name("volume")
	s.Host = p.host("host", hosts)
	s.Project = p.project("project")

	s.AuthType = AuthType(p.choice("auth_type", []string{string(AuthPAT), string(AuthDatabricksSP), string(AuthAzureADSP)}, string(DefaultAuthType)))
	r.Secrets.Token = p.credential("token")
	r.Secrets.ClientSecret = p.credential("client_secret")
	s.ClientID = optional(p.credential("client_id"))
	s.TenantID = optional(p.credential("tenant_id"))

	s.Prefix = p.prefix("prefix")
	s.RegexFilter = p.nullableString("regex_filter", 0)
	s.RecursiveScan = p.boolean("recursive_scan", false)
	s.UseBlobURLs = p.boolean("use_blob_urls", false)
	s.VerifyTLS = p.boolean("verify_tls", true)
	s.RequestTimeoutS = p.integer("request_timeout_s", 1, MaxRequestTimeoutS, DefaultRequestTimeoutS)
	s.StreamChunkBytes = p.integer("stream_chunk_bytes", MinStreamChunkBytes, MaxStreamChunkBytes, DefaultStreamChunkBytes)
	s.Presign = p.boolean("presign", false)
	s.PresignTTL = p.integer("presign_ttl", 1, MaxPresignTTL, DefaultPresignTTL)
	s.Synchronizable = p.boolean("synchronizable", true)
	s.Status = p.choice("status", statusChoices, DefaultStatus)
	s.Title = p.nullableString("title", maxTitleLength)
	s.Description = p.nullableString("description", 0)
	s.LastSync = p.datetime("last_sync")
	s.LastSyncCount = p.nullableInteger("last_sync_count", 0, maxLastSyncCount)
	s.LastSyncJob = p.nullableString("last_sync_job", maxLastSyncJob)
	s.Meta = p.anyJSON("meta")
	s.Traceback = p.nullableString("traceback", 0)
	return r
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

// str reads a text field as Django REST framework's CharField does: a JSON
// string, or a number as Python's str() writes it (5 → "5", 1.5 → "1.5");
// booleans, lists and objects are refused.
func (p *parser) str(name string) (string, bool) {
	v, _, _ := p.raw(name)
	switch kindOf(v) {
	case pyStr, pyInt, pyFloat:
		return pyText(v), true
	}
	p.errs.add(name, msgString)
	return "", false
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
	if problem := credentialProblem(s); problem != "" {
		p.errs.add(field, problem)
		return ""
	}
	return s
}

// credentialProblem says what is wrong with a credential's text, if
// anything: the rules of a credential field, for values from the body and
// values handed over beside it alike.
func credentialProblem(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return msgBlank
	case len(s) > maxCredentialLength:
		return fmt.Sprintf(msgMaxLength, maxCredentialLength)
	case hasControl(s):
		return "Must not contain control characters."
	}
	return ""
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
	if b, ok := pyBool(v); ok {
		return b
	}
	p.errs.add(field, msgBoolean)
	return def
}

// Django REST framework's BooleanField spellings.
var (
	trueStrings  = []string{"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1"}
	falseStrings = []string{"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0"}
)

// pyBool reads a boolean as Django REST framework's BooleanField does:
// true and false, the numbers 1 and 0 (1.0 and 0.0 too), and the strings
// of trueStrings and falseStrings.
func pyBool(v json.RawMessage) (value, ok bool) {
	switch kindOf(v) {
	case pyBoolean:
		return v[0] == 't', true
	case pyInt, pyFloat:
		f, _ := strconv.ParseFloat(string(v), 64)
		return f == 1, f == 1 || f == 0
	case pyStr:
		s := pyText(v)
		if slices.Contains(trueStrings, s) {
			return true, true
		}
		return false, slices.Contains(falseStrings, s)
	}
	return false, false
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
	// Django REST framework looks up Python's text of any value, so a
	// number or a list is "not a valid choice" rather than "not a string".
	v, _, _ := p.raw(field)
	s := pyText(v)
	if kindOf(v) == pyStr && slices.Contains(choices, s) {
		return s
	}
	p.errs.add(field, fmt.Sprintf(msgChoice, truncate(s, 64)))
	return def
}

// project reads the project as Django REST framework's
// PrimaryKeyRelatedField does: an integer, an integral float, or a string
// Python's int() reads (" 5 ", but not "1.0"). Other values are of the
// wrong type; an id below 1 or beyond the database's range names no
// project. (Django would truncate a fractional float to a project id; that
// is refused here as a float.)
func (p *parser) project(field string) int64 {
	v, present, null := p.raw(field)
	switch {
	case !present:
		p.errs.add(field, msgRequired)
		return 0
	case null:
		p.errs.add(field, msgNull)
		return 0
	}
	kind := kindOf(v)
	text := pyText(v)
	var n int64
	var overflow int
	switch kind {
	case pyStr:
		if text == "" {
			p.errs.add(field, msgNull)
			return 0
		}
		var ok bool
		if n, overflow, ok = parsePyInt(text); !ok {
			p.errs.add(field, fmt.Sprintf(msgPkType, "str"))
			return 0
		}
	case pyInt:
		n, overflow, _ = parsePyInt(text)
	case pyFloat:
		f, _ := strconv.ParseFloat(string(v), 64)
		switch {
		case math.IsInf(f, 0) || f != math.Trunc(f):
			p.errs.add(field, fmt.Sprintf(msgPkType, "float"))
			return 0
		case f >= math.MaxInt64:
			overflow = 1
		case f < math.MinInt64:
			overflow = -1
		default:
			n = int64(f)
		}
	default:
		p.errs.add(field, fmt.Sprintf(msgPkType, kind))
		return 0
	}
	if overflow != 0 || n < 1 {
		p.errs.add(field, fmt.Sprintf(msgPkMissing, truncate(text, 64)))
		return 0
	}
	return n
}

func (p *parser) integer(field string, lo, hi, def int64) int64 {
	_, present, null := p.raw(field)
	switch {
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

// intValue reads an integer as Django REST framework's IntegerField does:
// Python's text of the value (a string as it is, a number as str() writes
// it) without a trailing ".0…" and spaces, read by Python's int(). So 5,
// 5.0, "5", " 5 " and "5.0" are 5; 5.5, 1e16 (str() writes "1e+16"),
// "abc", booleans, lists and objects are refused.
func (p *parser) intValue(field string, lo, hi int64) (int64, bool) {
	v, _, _ := p.raw(field)
	var text string
	switch kindOf(v) {
	case pyStr:
		text = pyText(v)
		if utf8.RuneCountInString(text) > maxIntegerString {
			p.errs.add(field, msgIntLength)
			return 0, false
		}
	case pyInt, pyFloat:
		text = pyText(v)
	default:
		p.errs.add(field, msgInteger)
		return 0, false
	}
	n, overflow, ok := parsePyInt(stripDecimal(text))
	switch {
	case !ok:
		p.errs.add(field, msgInteger)
		return 0, false
	case overflow > 0 || (overflow == 0 && n > hi):
		p.errs.add(field, fmt.Sprintf(msgMaxValue, hi))
		return 0, false
	case overflow < 0 || n < lo:
		p.errs.add(field, fmt.Sprintf(msgMinValue, lo))
		return 0, false
	}
	return n, true
}

// stripDecimal removes what Django REST framework's IntegerField removes
// before int(): a match of \.0*\s*$ ("5.00 " → "5").
func stripDecimal(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s
	}
	if rest := strings.TrimLeft(s[i+1:], "0"); strings.TrimLeftFunc(rest, pyIsSpace) != "" {
		return s
	}
	return s[:i]
}

// parsePyInt reads s as Python's int(s) does: surrounding whitespace, an
// optional sign, decimal digits with single underscores between them.
// overflow is 1 or -1 for a value beyond int64, with n then meaningless.
// (Python also reads non-ASCII decimal digits; those are refused here.)
func parsePyInt(s string) (n int64, overflow int, ok bool) {
	s = strings.TrimFunc(s, pyIsSpace)
	negative := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		negative = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, 0, false
	}
	var u uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			continue
		case c < '0' || c > '9':
			return 0, 0, false
		case overflow == 0:
			d := uint64(c - '0')
			if u > (math.MaxUint64-d)/10 {
				overflow = 1
			} else {
				u = u*10 + d
			}
		}
	}
	switch {
	case overflow == 0 && !negative && u <= math.MaxInt64:
		return int64(u), 0, true
	case overflow == 0 && negative && u <= 1<<63:
		return int64(-u), 0, true // -u wraps to the right value for 1<<63
	case negative:
		return 0, -1, true
	}
	return 0, 1, true
}

// pyIsSpace reports whether Python's str.isspace() holds for r.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func (p *parser) datetime(field string) *time.Time {
	v, present, null := p.raw(field)
	if !present || null {
		return nil
	}
	// Django REST framework's DateTimeField tries to parse any value, and
	// says the same of a wrong type as of unparsable text.
	if kindOf(v) == pyStr {
		if t, ok := parseDatetime(pyText(v)); ok {
			return &t
		}
	}
	p.errs.add(field, msgDatetime)
	return nil
}

// parseDatetime reads s as Django's parse_datetime, which Django REST
// framework's DateTimeField uses: Python's datetime.fromisoformat, then
// Django's own pattern. A time without a zone is taken as UTC, the zone
// Label Studio runs in. The result is in UTC, to the microsecond, and
// within years 1…9999 (Python cannot hold others, nor JSON render them).
func parseDatetime(s string) (time.Time, bool) {
	t, ok := parseISOFormat(s)
	if !ok {
		t, ok = parseDjangoDatetime(s)
	}
	if !ok {
		return time.Time{}, false
	}
	t = t.UTC().Truncate(time.Microsecond)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// parseISOFormat reads what Python's datetime.fromisoformat reads: YYYY-MM-DD
// or YYYYMMDD, alone (midnight) or followed by any one character and a time
// HH[:MM[:SS[.f…]]] or HH[MM[SS[.f…]]] (the fraction after "." or ",", any
// number of digits, beyond six dropped), then optionally Z or an offset
// of the same form as the time, under 24 hours. Not read: week dates
// (2026-W48-6), and what CPython 3.11 takes by mistake (a stray last
// character of the time before an offset, "T100+01" as 10:00).
func parseISOFormat(s string) (time.Time, bool) {
	var date, rest string
	switch {
	case len(s) >= 10 && s[4] == '-' && s[7] == '-':
		date, rest = s[:4]+s[5:7]+s[8:10], s[10:]
	case len(s) >= 8 && s[4] != '-':
		date, rest = s[:8], s[8:]
	default:
		return time.Time{}, false
	}
	var ymd [3]int
	for i, width := range []int{4, 2, 2} {
		n, ok := fixedDigits(date[:width])
		if !ok {
			return time.Time{}, false
		}
		ymd[i], date = n, date[width:]
	}
	if rest == "" {
		return civilTime(ymd[0], ymd[1], ymd[2], 0, 0, 0, 0, time.UTC)
	}
	_, size := utf8.DecodeRuneInString(rest) // the separator: any character
	clock := rest[size:]
	var offset time.Duration // east of UTC
	if i := strings.IndexAny(clock, "Z+-"); i >= 0 {
		zone := clock[i:]
		clock = clock[:i]
		switch zone[0] {
		case 'Z':
			if zone != "Z" {
				return time.Time{}, false
			}
		default:
			hms, us, ok := parseClock(zone[1:])
			if !ok {
				return time.Time{}, false
			}
			offset = time.Duration(hms[0])*time.Hour + time.Duration(hms[1])*time.Minute +
				time.Duration(hms[2])*time.Second + time.Duration(us)*time.Microsecond
			if offset >= 24*time.Hour {
				return time.Time{}, false
			}
			if zone[0] == '-' {
				offset = -offset
			}
		}
	}
	hms, us, ok := parseClock(clock)
	if !ok {
		return time.Time{}, false
	}
	t, ok := civilTime(ymd[0], ymd[1], ymd[2], hms[0], hms[1], hms[2], us, time.UTC)
	return t.Add(-offset), ok
}

// parseClock reads HH[:MM[:SS[.f…]]] or HH[MM[SS[.f…]]] as Python's
// fromisoformat does, returning the fraction in microseconds.
func parseClock(s string) (hms [3]int, us int, ok bool) {
	colons := false
	for i := range 3 {
		if len(s) < 2 {
			return hms, 0, false
		}
		n, ok := fixedDigits(s[:2])
		if !ok {
			return hms, 0, false
		}
		hms[i], s = n, s[2:]
		if s == "" {
			return hms, 0, true
		}
		if i == 0 {
			colons = s[0] == ':'
		}
		switch {
		case colons && s[0] == ':' && i < 2:
			s = s[1:]
		case (s[0] == '.' || s[0] == ',') && i == 2:
			digits := s[1:]
			end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
			if digits == "" || end >= 0 { // no digits, or something after them
				return hms, 0, false
			}
			digits = (digits + "00000")[:6]
			us, _ = strconv.Atoi(digits)
			return hms, us, true
		case colons || i == 2:
			return hms, 0, false
		}
	}
	return hms, 0, false
}

// djangoDatetime is Django's datetime_re, the pattern parse_datetime falls
// back on, with Python's \d as ASCII digits, \s as Python's whitespace and
// $ also matching before a final newline.
var djangoDatetime = regexp.MustCompile(
	`^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[T ]([0-9]{1,2}):([0-9]{1,2})` +
		`(?::([0-9]{1,2})(?:[.,]([0-9]{1,6})[0-9]{0,6})?)?` +
		`[\t\n\v\f\r \x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*` +
		`(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?\n?$`)

func parseDjangoDatetime(s string) (time.Time, bool) {
	m := djangoDatetime.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	var v [6]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1]) // an absent second is 0
	}
	us := 0
	if m[7] != "" {
		us, _ = strconv.Atoi((m[7] + "00000")[:6])
	}
	zone := time.UTC
	if tz := m[8]; tz != "" && tz != "Z" {
		hours, _ := strconv.Atoi(tz[1:3])
		minutes := 0
		if len(tz) > 3 {
			minutes, _ = strconv.Atoi(tz[len(tz)-2:])
		}
		offset := hours*60 + minutes
		if offset >= 24*60 {
			return time.Time{}, false
		}
		if tz[0] == '-' {
			offset = -offset
		}
		zone = time.FixedZone("", offset*60)
	}
	return civilTime(v[0], v[1], v[2], v[3], v[4], v[5], us, zone)
}

// civilTime builds a time from its fields, refusing what Python's datetime
// refuses (month 13, 30 February, hour 24, year 0 …).
func civilTime(year, month, day, hour, minute, second, us int, zone *time.Location) (time.Time, bool) {
	if year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, us*1000, zone)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

func fixedDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// anyJSON keeps any JSON value exactly. Left out, it is {} (Label Studio's
// default); an explicit null stays null.
func (p *parser) anyJSON(field string) json.RawMessage {
	v, present, null := p.raw(field)
	switch {
	case !present:
		return json.RawMessage("{}")
	case null:
		return json.RawMessage("null")
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

// pyKind is the Python type Python's json module makes of a JSON value,
// which decides how Django REST framework's fields treat it.
type pyKind int

const (
	pyStr pyKind = iota
	pyInt
	pyFloat
	pyBoolean
	pyNone
	pyList
	pyDict
)

// String returns the Python type's name, as Django REST framework's
// messages show it.
func (k pyKind) String() string {
	return [...]string{"str", "int", "float", "bool", "NoneType", "list", "dict"}[k]
}

// kindOf tells the Python type of a JSON value (a number is an int unless
// it has a fraction or an exponent).
func kindOf(v json.RawMessage) pyKind {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return pyNone
	}
	switch v[0] {
	case '"':
		return pyStr
	case 't', 'f':
		return pyBoolean
	case 'n':
		return pyNone
	case '[':
		return pyList
	case '{':
		return pyDict
	}
	if bytes.ContainsAny(v, ".eE") {
		return pyFloat
	}
	return pyInt
}

// pyText is Python's str() of a JSON value as Python's json module reads
// it: a string as it is, 5 → "5", 1.50 → "1.5", 1e16 → "1e+16", true →
// "True", null → "None", lists and objects as their repr.
func pyText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch kindOf(v) {
	case pyStr:
		// v is a string of a document already parsed: without escapes and
		// with valid UTF-8 (which Unmarshal would replace), it is its text.
		if len(v) >= 2 && v[len(v)-1] == '"' {
			if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
				return string(inner)
			}
		}
		var s string
		_ = json.Unmarshal(v, &s)
		return s
	case pyInt:
		if strings.Trim(string(v), "-0") == "" {
			return "0" // -0
		}
		return string(v)
	case pyFloat:
		f, _ := strconv.ParseFloat(string(v), 64) // ±Inf beyond the range, as Python
		return pyFloatText(f)
	case pyBoolean:
		if v[0] == 't' {
			return "True"
		}
		return "False"
	case pyNone:
		return "None"
	}
	var b strings.Builder
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if pyRepr(dec, &b) != nil {
		return string(v)
	}
	return b.String()
}

// pyFloatText is Python's repr of a float: the shortest digits that read
// back the same, positional with ".0" for exponents -4 … 15, scientific
// with at least two exponent digits otherwise, "inf" beyond the range.
func pyFloatText(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return sci
	}
	fixed := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(fixed, ".") {
		fixed += ".0"
	}
	return fixed
}

// pyRepr writes Python's repr of the next JSON value of dec.
func pyRepr(dec *json.Decoder, b *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		open, closing := byte('['), byte(']')
		if t == '{' {
			open, closing = '{', '}'
		}
		b.WriteByte(open)
		for first := true; dec.More(); first = false {
			if !first {
				b.WriteString(", ")
			}
			if open == '{' {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				keyText, _ := key.(string)
				b.WriteString(pyQuote(keyText))
				b.WriteString(": ")
			}
			if err := pyRepr(dec, b); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte(closing)
	case string:
		b.WriteString(pyQuote(t))
	case json.Number:
		raw, _ := json.Marshal(t)
		b.WriteString(pyText(raw))
	case bool:
		b.WriteString(map[bool]string{true: "True", false: "False"}[t])
	case nil:
		b.WriteString("None")
	}
	return nil
}

// pyQuote is Python's repr of a str: in single quotes unless it holds a
// single quote and no double quote, with unprintable characters escaped.
func pyQuote(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}
