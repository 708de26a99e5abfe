package storage

// Python emulation: how Python reads and prints the JSON values Label
// Studio's serializers see (bools, ints, floats, str() and repr()).

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
