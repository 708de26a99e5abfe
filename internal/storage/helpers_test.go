package storage_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Values used by the tests. The secrets are distinctive so that a leak is
// found by a plain substring search.
const (
	testHost         = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"
	testToken        = "dapi-TOKEN-must-never-leak-0123456789"
	testClientSecret = "CLIENT-SECRET-must-never-leak-9876543210"
)

// fields is a request body under construction: field name → raw JSON value.
type fields map[string]string

// baseFields is a minimal valid pat request.
func baseFields() fields {
	return fields{
		"project": "1",
		"host":    jsonString(testHost),
		"catalog": `"main"`,
		"schema":  `"default"`,
		"volume":  `"landing"`,
		"token":   jsonString(testToken),
	}
}

// with returns a copy with the given name/raw-value pairs set.
func (f fields) with(kv ...string) fields {
	out := make(fields, len(f)+len(kv)/2)
	for k, v := range f {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// without returns a copy without the given fields.
func (f fields) without(names ...string) fields {
	out := f.with()
	for _, n := range names {
		delete(out, n)
	}
	return out
}

// body renders the fields as a JSON object, keys sorted.
func (f fields) body() []byte {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(jsonString(k))
		b.WriteString(": ")
		b.WriteString(f[k])
	}
	b.WriteString("}")
	return []byte(b.String())
}

func jsonString(s string) string {
	out, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// decode runs the decoder without a host policy.
func decode(t *testing.T, body []byte) (storage.Request, error) {
	t.Helper()
	return storage.Decoder{}.DecodeRequest(body)
}

// mustDecode decodes a body that must be valid.
func mustDecode(t *testing.T, body []byte) storage.Request {
	t.Helper()
	req, err := decode(t, body)
	if err != nil {
		t.Fatalf("DecodeRequest(%s): unexpected error %v (%#v)", body, err, err)
	}
	return req
}

// validationFields decodes a body that must fail validation and returns the
// field errors.
func validationFields(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	_, err := decode(t, body)
	if err == nil {
		t.Fatalf("DecodeRequest(%s): no error, want a validation error", body)
	}
	var verr *storage.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("DecodeRequest(%s): error %v (%T) is not a *ValidationError", body, err, err)
	}
	if errors.Is(err, storage.ErrMalformed) {
		t.Fatalf("DecodeRequest(%s): validation error also wraps ErrMalformed", body)
	}
	if len(verr.Fields) == 0 {
		t.Fatalf("DecodeRequest(%s): validation error with no fields", body)
	}
	return verr.Fields
}

// wantOnly asserts that exactly one field is reported, with messages that
// start with the wanted prefixes (one message each).
func wantOnly(t *testing.T, got map[string][]string, field string, msgPrefix string) {
	t.Helper()
	if len(got) != 1 || len(got[field]) != 1 {
		t.Fatalf("validation errors = %v, want exactly one error on %q", got, field)
	}
	if !strings.HasPrefix(got[field][0], msgPrefix) {
		t.Fatalf("%s error = %q, want it to start with %q", field, got[field][0], msgPrefix)
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameKeys[V any](t *testing.T, what string, got map[string]V, want ...string) {
	t.Helper()
	sort.Strings(want)
	if g := keysOf(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("%s keys = %v, want %v", what, g, want)
	}
}

// eventBodies returns the body of every sample event, keyed by file name.
func eventBodies(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no sample events found in ../../events")
	}
	out := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Body *string `json:"body"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if ev.Body != nil {
			out[filepath.Base(f)] = *ev.Body
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
