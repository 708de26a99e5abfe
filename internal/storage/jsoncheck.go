package storage

// The checks every JSON body goes through before it is decoded, whichever
// way it arrives (HTTP, SQS, EventBridge, a direct invocation): it must be
// text Label Studio's parser reads, and what is stored of it must be text
// Label Studio's clients can read back.

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply a body may nest arrays and objects; the
// top-level object is level 1, so a field of it (meta) may nest 63 levels.
//
// Go's decoder reads up to 10,000 levels, but what is stored is read back by
// Label Studio's clients: Python's json module gives up near 1,000 levels
// (RecursionError under the default recursion limit, fewer when called deep
// in a stack), Ruby's JSON stops at 100 and Rust's serde_json at 128. A list
// response wraps a storage in two more levels (the array, the storage), so
// 64 keeps every stored meta readable by all of them with room to spare,
// and is far beyond what meta and debug information need.
const MaxJSONDepth = 64

// ParseError is a body Label Studio's JSON parser would refuse (or that its
// clients could not read back). Its message is the detail Label Studio
// answers with ("JSON parse error - …"); it wraps ErrMalformed.
type ParseError struct {
	Problem string
}

func (e *ParseError) Error() string { return "JSON parse error - " + e.Problem }

// Unwrap makes a ParseError an ErrMalformed.
func (e *ParseError) Unwrap() error { return ErrMalformed }

// CheckJSON refuses a body that is not UTF-8 text, as Label Studio's parser
// (Python's UTF-8 codec, before any JSON is read) does and with its message,
// or that nests arrays and objects deeper than MaxJSONDepth. It does not
// check the JSON syntax; the decoders do. The errors are *ParseError.
func CheckJSON(body []byte) error {
	if problem := utf8Problem(body); problem != "" {
		return &ParseError{Problem: problem}
	}
	if at := tooDeepAt(body); at >= 0 {
		return &ParseError{Problem: fmt.Sprintf("arrays and objects may be nested at most %d levels deep: %s",
			MaxJSONDepth, pyPosition(body, at))}
	}
	return nil
}

// utf8Problem describes the first invalid UTF-8 sequence of b as Python's
// UTF-8 codec does ("'utf-8' codec can't decode byte 0xff in position 12:
// invalid start byte"), or returns "" when b is valid. Positions are byte
// offsets; a truncated sequence spans the bytes Python names.
func utf8Problem(b []byte) string {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			continue
		}
		var n int
		lo, hi := byte(0x80), byte(0xbf) // the second byte's range
		switch {
		case c >= 0xc2 && c <= 0xdf:
			n = 2
		case c >= 0xe0 && c <= 0xef:
			n = 3
			switch c {
			case 0xe0:
				lo = 0xa0 // shorter forms are overlong
			case 0xed:
				hi = 0x9f // beyond are surrogates
			}
		case c >= 0xf0 && c <= 0xf4:
			n = 4
			switch c {
			case 0xf0:
				lo = 0x90
			case 0xf4:
				hi = 0x8f // beyond is above U+10FFFF
			}
		default:
			return codecProblem(b, i, 1, "invalid start byte")
		}
		for k := 1; k < n; k++ {
			if i+k >= len(b) {
				return codecProblem(b, i, k, "unexpected end of data")
			}
			next := b[i+k]
			if k > 1 {
				lo, hi = 0x80, 0xbf
			}
			if next < lo || next > hi {
				return codecProblem(b, i, k, "invalid continuation byte")
			}
		}
		i += n
	}
	return ""
}

// codecProblem words a UnicodeDecodeError of the n bytes at b[start:].
func codecProblem(b []byte, start, n int, reason string) string {
	if n == 1 {
		return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", b[start], start, reason)
	}
	return fmt.Sprintf("'utf-8' codec can't decode bytes in position %d-%d: %s", start, start+n-1, reason)
}

// tooDeepAt returns the byte offset of the bracket that opens level
// MaxJSONDepth+1, or -1 when the body nests no deeper than MaxJSONDepth.
// Brackets inside strings do not count.
func tooDeepAt(b []byte) int {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++ // the escaped character, whatever it is
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > MaxJSONDepth {
				return i
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return -1
}

// pyPosition locates a byte offset of valid UTF-8 text as Python's JSON
// errors do: "line 1 column 65 (char 64)", in characters.
func pyPosition(b []byte, offset int) string {
	before := b[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return fmt.Sprintf("line %d column %d (char %d)", line, utf8.RuneCount(before[lineStart:])+1, utf8.RuneCount(before))
}
