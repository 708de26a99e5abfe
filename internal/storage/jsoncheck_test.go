package storage_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// nested is a body whose meta nests depth levels of objects or arrays.
func nested(depth int, open, closing string) []byte {
	meta := strings.Repeat(open, depth) + strings.Repeat(closing, depth)
	return baseFields().with("meta", meta).body()
}

// A body Label Studio's parser cannot read, or that nests deeper than its
// clients can read back, is refused before anything is decoded, with Label
// Studio's "JSON parse error - …" detail (a 400).
func TestCheckJSON(t *testing.T) {
	valid := string(baseFields().body())
	cases := []struct {
		name string
		body []byte
		want string // the whole message, "" when accepted
	}{
		{"valid", []byte(valid), ""},
		{"multibyte text", []byte(`{"title": "été ✓ 𝄞"}`), ""},
		{"escaped surrogates are text", []byte(`{"title": "\ud800"}`), ""},
		{"invalid start byte", []byte(`{"title": "ab` + "\xff" + `"}`),
			"JSON parse error - 'utf-8' codec can't decode byte 0xff in position 13: invalid start byte"},
		{"lone continuation byte", []byte("{\"t\": \"\x80\"}"),
			"JSON parse error - 'utf-8' codec can't decode byte 0x80 in position 7: invalid start byte"},
		{"overlong encoding", []byte("{\"t\": \"\xc0\xaf\"}"),
			"JSON parse error - 'utf-8' codec can't decode byte 0xc0 in position 7: invalid start byte"},
		{"invalid continuation byte", []byte("{\"t\": \"\xe2x\"}"),
			"JSON parse error - 'utf-8' codec can't decode byte 0xe2 in position 7: invalid continuation byte"},
		{"invalid third byte", []byte("{\"t\": \"\xe2\x82x\"}"),
			"JSON parse error - 'utf-8' codec can't decode bytes in position 7-8: invalid continuation byte"},
		{"encoded surrogate", []byte("{\"t\": \"\xed\xa0\x80\"}"),
			"JSON parse error - 'utf-8' codec can't decode byte 0xed in position 7: invalid continuation byte"},
		{"beyond U+10FFFF", []byte("{\"t\": \"\xf4\x90\x80\x80\"}"),
			"JSON parse error - 'utf-8' codec can't decode byte 0xf4 in position 7: invalid continuation byte"},
		{"unexpected end of data", []byte(valid + "\xe2\x82"),
			"JSON parse error - 'utf-8' codec can't decode bytes in position " + strconv.Itoa(len(valid)) + "-" + strconv.Itoa(len(valid)+1) + ": unexpected end of data"},
		// Python decodes the whole body before it reads any JSON.
		{"bad byte after bad syntax", []byte("{,\xff"),
			"JSON parse error - 'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"},
		{"64 levels", []byte(strings.Repeat("[", 64) + strings.Repeat("]", 64)), ""},
		{"meta 63 levels", nested(storage.MaxJSONDepth-1, "[", "]"), ""},
		{"brackets in strings do not count", []byte(`{"title": "` + strings.Repeat(`[{\"`, 200) + `"}`), ""},
		{"65 levels", []byte(strings.Repeat("[", 65) + strings.Repeat("]", 65)),
			"JSON parse error - arrays and objects may be nested at most 64 levels deep: line 1 column 65 (char 64)"},
		{"10,000 levels in meta", nested(10000, `{"a":`, "}"),
			"JSON parse error - arrays and objects may be nested at most 64 levels deep: "},
		{"columns count characters", []byte("{\"é\":\n  " + strings.Repeat("[", 64)),
			"JSON parse error - arrays and objects may be nested at most 64 levels deep: line 2 column 66 (char 71)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := storage.CheckJSON(c.body)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckJSON = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckJSON = nil, want %q", c.want)
			}
			if !errors.Is(err, storage.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) || (!strings.HasSuffix(c.want, ": ") && err.Error() != c.want) {
				t.Fatalf("CheckJSON = %q, want %q", err, c.want)
			}
		})
	}
}

// The decoders refuse what CheckJSON refuses, so no caller can store it.
func TestDecodersCheckJSON(t *testing.T) {
	for name, body := range map[string][]byte{
		"invalid UTF-8": []byte(`{"title": "` + "\xff" + `"}`),
		"too deep":      nested(storage.MaxJSONDepth, "[", "]"),
	} {
		t.Run(name, func(t *testing.T) {
			want := storage.CheckJSON(body)
			if want == nil {
				t.Fatal("CheckJSON accepts the body")
			}
			if _, err := (storage.Decoder{}).DecodeRequest(body); err == nil || err.Error() != want.Error() {
				t.Errorf("DecodeRequest = %v, want %v", err, want)
			}
			if _, err := (storage.Decoder{}).DecodeUpdate(body); err == nil || err.Error() != want.Error() {
				t.Errorf("DecodeUpdate = %v, want %v", err, want)
			}
		})
	}
}

// CheckJSON reports an encoding problem exactly when the bytes are not
// UTF-8, on random bytes around the encoding's edges (Python's wording of
// it is checked against Python by the integration tests).
func TestCheckJSONFindsEveryInvalidUTF8(t *testing.T) {
	alphabet := []byte{'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	rng := rand.New(rand.NewPCG(18, 23))
	for range 100000 {
		b := make([]byte, 1+rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		err := storage.CheckJSON(b)
		if reported := err != nil && strings.Contains(err.Error(), "'utf-8' codec"); reported == utf8.Valid(b) {
			t.Fatalf("% x: CheckJSON = %v, utf8.Valid = %v", b, err, utf8.Valid(b))
		}
	}
}
