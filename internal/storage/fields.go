package storage

// The field parsers: each reads one request field as Django REST framework's
// field of that type does.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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

// text reads a text field as Django REST framework's CharField does with
// its default trim_whitespace: the value (see str) without the whitespace
// Python's str.strip() removes. Blank after trimming, it is "" — refused
// unless allowBlank, and then no validator runs. Otherwise every validator
// runs and reports, in Django REST framework's order: more than maxLen
// characters (no limit when 0), a NUL character, a lone surrogate. ok is
// false when a problem was reported.
func (p *parser) text(field string, maxLen int, allowBlank bool) (s string, ok bool) {
	if s, ok = p.str(field); !ok {
		return "", false
	}
	if s = strings.TrimFunc(s, pyIsSpace); s == "" {
		if !allowBlank {
			p.errs.add(field, msgBlank)
			return "", false
		}
		return "", true
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		p.errs.add(field, fmt.Sprintf(msgMaxLength, maxLen))
		ok = false
	}
	if strings.ContainsRune(s, 0) {
		p.errs.add(field, msgNullChar)
		ok = false
	}
	if r, found := loneSurrogate(p.fields[field]); found {
		p.errs.add(field, fmt.Sprintf(msgSurrogate, r))
		ok = false
	}
	return s, ok
}

// loneSurrogate finds the first \uD800–\uDFFF escape of a raw JSON string
// that is not half of a pair. Python's json module keeps such an escape as
// a surrogate character (which Django REST framework refuses); Go's
// decoder has already replaced it by U+FFFD, so it is looked for in the
// raw text.
func loneSurrogate(raw json.RawMessage) (rune, bool) {
	hex := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := hex(i)
		switch {
		case !ok:
			i++ // a one-character escape
		case r >= 0xd800 && r <= 0xdbff:
			if low, ok := hex(i + 6); ok && low >= 0xdc00 && low <= 0xdfff {
				i += 11 // a pair: one character
				continue
			}
			return r, true
		case r >= 0xdc00 && r <= 0xdfff:
			return r, true
		default:
			i += 5
		}
	}
	return 0, false
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
	s, ok := p.text(field, maxNameLength, false)
	if !ok {
		return ""
	}
	switch {
	case strings.ContainsAny(s, "/\\") || s == "." || s == ".." || hasControl(s):
		p.errs.add(field, "Must be a single Unity Catalog name: no slashes, control characters, \".\" or \"..\".")
	case hasSpoofing(s):
		p.errs.add(field, msgSpoofing)
	}
	return s
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
	s, ok := p.text(field, 0, false)
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
	s, ok := p.text(field, maxLen, true)
	if !ok {
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
// PrimaryKeyRelatedField does: an integer, a float, which Django's int()
// truncates (1.5 is project 1), or a string Python's int() reads (" 5 ",
// but not "1.0" or "1.5"). Other values are of the wrong type; an id below
// 1 or beyond the database's range names no project. (An infinite float,
// which int() cannot truncate, is refused as a float.)
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
		case math.IsInf(f, 0):
			p.errs.add(field, fmt.Sprintf(msgPkType, "float"))
			return 0
		case f >= math.MaxInt64:
			overflow = 1
		case f < math.MinInt64:
			overflow = -1
		default:
			n = int64(math.Trunc(f))
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
