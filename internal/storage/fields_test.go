package storage_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// textField is a request field Label Studio's serializer reads with a
// CharField, and how to read it back from a decoded request.
type textField struct {
	name string
	get  func(storage.Request) *string
	// blank is the field's answer to a value blank after trimming: the
	// stored value ("" or nil for prefix) or, when required, an error.
	blankOK bool
}

func textFields() []textField {
	val := func(f func(storage.Request) string) func(storage.Request) *string {
		return func(r storage.Request) *string { s := f(r); return &s }
	}
	return []textField{
		{"title", func(r storage.Request) *string { return r.Title }, true},
		{"description", func(r storage.Request) *string { return r.Description }, true},
		{"regex_filter", func(r storage.Request) *string { return r.RegexFilter }, true},
		{"last_sync_job", func(r storage.Request) *string { return r.LastSyncJob }, true},
		{"traceback", func(r storage.Request) *string { return r.Traceback }, true},
		{"prefix", func(r storage.Request) *string { return r.Prefix }, true},
		{"catalog", val(func(r storage.Request) string { return r.Catalog }), false},
		{"schema", val(func(r storage.Request) string { return r.Schema }), false},
		{"volume", val(func(r storage.Request) string { return r.Volume }), false},
		{"host", val(func(r storage.Request) string { return r.Host }), false},
		{"client_id", func(r storage.Request) *string { return r.ClientID }, false},
		{"tenant_id", func(r storage.Request) *string { return r.TenantID }, false},
		{"token", val(func(r storage.Request) string { return r.Secrets.Token }), false},
		{"client_secret", val(func(r storage.Request) string { return r.Secrets.ClientSecret }), false},
	}
}

// Text fields read as Django REST framework's CharField reads them (Label
// Studio 1.23.2, measured): surrounding whitespace (Python's str.strip()
// set) is trimmed before any rule applies, a value blank after trimming is
// "" or "This field may not be blank.", and NUL characters and lone
// surrogates are refused with Django REST framework's messages.
func TestDecodeRequestTextFieldsAsCharField(t *testing.T) {
	for _, f := range textFields() {
		value := "x1"
		if f.name == "host" {
			value = testHost
		}
		cases := []struct {
			name, raw string
			want      *string  // the value read, when accepted
			errs      []string // the field's messages, when refused
		}{
			{"spaces around", jsonString("  " + value + "  "), &value, nil},
			{"Python whitespace around", `"\u001f\t\n\u00a0\u3000` + value + `\u0085\u2029 "`, &value, nil},
			{"NUL", jsonString("x\x001"), nil, []string{"Null characters are not allowed."}},
			{"NUL escaped", `"\u0000x"`, nil, []string{"Null characters are not allowed."}},
			{"lone high surrogate", `"x\ud800"`, nil, []string{"Surrogate characters are not allowed: U+D800."}},
			{"lone low surrogate", `"\udfffx"`, nil, []string{"Surrogate characters are not allowed: U+DFFF."}},
			{"reversed pair", `"\udc00\ud800"`, nil, []string{"Surrogate characters are not allowed: U+DC00."}},
			{"NUL and surrogate", `"\u0000\ud800"`, nil, []string{"Null characters are not allowed.", "Surrogate characters are not allowed: U+D800."}},
		}
		if f.blankOK {
			blank := ""
			want := &blank
			if f.name == "prefix" {
				want = nil // a prefix of nothing is the whole volume
			}
			cases = append(cases, struct {
				name, raw string
				want      *string
				errs      []string
			}{"blank after trimming", `"  \t\n "`, want, nil})
		} else {
			cases = append(cases, struct {
				name, raw string
				want      *string
				errs      []string
			}{"blank after trimming", `"  \t\n "`, nil, []string{"This field may not be blank."}})
		}
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				body := baseFields().with(f.name, c.raw).body()
				if c.errs != nil {
					got := validationFields(t, body)
					if want := map[string][]string{f.name: c.errs}; !reflect.DeepEqual(got, want) {
						t.Fatalf("validation errors = %q, want %q", got, want)
					}
					return
				}
				got := f.get(mustDecode(t, body))
				if !reflect.DeepEqual(got, c.want) {
					t.Fatalf("%s %s = %q, want %q", f.name, c.raw, deref(got), deref(c.want))
				}
			})
		}
	}
}

// A pair of surrogate escapes is one character, and an escaped backslash
// before "u" is no escape: both are text like any other.
func TestDecodeRequestSurrogatePairsAreText(t *testing.T) {
	for raw, want := range map[string]string{
		`"\ud83d\ude00"`:     "😀",
		`" a\uD83D\uDE00b "`: "a😀b",
		`"\\ud800"`:          `\ud800`,
		`"\\\ud83d\ude00"`:   `\😀`,
		`"x\u0041\u00e9\\u"`: `xAé\u`,
	} {
		req := mustDecode(t, baseFields().with("title", raw).body())
		if req.Title == nil || *req.Title != want {
			t.Errorf("title %s = %q, want %q", raw, deref(req.Title), want)
		}
	}
}

// Every validator of a CharField runs, as Django REST framework runs them:
// a value too long and holding a NUL gets both messages.
func TestDecodeRequestTextReportsEveryValidator(t *testing.T) {
	raw := jsonString(strings.Repeat("a", 256) + "\x00")
	got := validationFields(t, baseFields().with("title", raw).body())
	want := map[string][]string{"title": {"Ensure this field has no more than 256 characters.", "Null characters are not allowed."}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("validation errors = %q, want %q", got, want)
	}
	// The length counts what is left after trimming.
	req := mustDecode(t, baseFields().with("title", jsonString("  "+strings.Repeat("a", 256)+"  ")).body())
	if req.Title == nil || len(*req.Title) != 256 {
		t.Fatalf("title of 256 characters with spaces around = %q", deref(req.Title))
	}
}
