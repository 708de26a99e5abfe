package core_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Values used by the tests. The secrets are distinctive so that a leak is
// found by a plain substring search.
const (
	testHost         = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"
	testToken        = "dapi-TOKEN-must-never-leak-0123456789"
	testClientSecret = "CLIENT-SECRET-must-never-leak-9876543210"
)

// anyone is a caller that may manage every project.
var anyone = core.TrustedSource("test")

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

// body renders the fields as a JSON object.
func (f fields) body() []byte {
	out, err := json.Marshal(func() map[string]json.RawMessage {
		m := make(map[string]json.RawMessage, len(f))
		for k, v := range f {
			m[k] = json.RawMessage(v)
		}
		return m
	}())
	if err != nil {
		panic(err)
	}
	return out
}

func jsonString(s string) string {
	out, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// mustDecode decodes a body that must be valid.
func mustDecode(t *testing.T, body []byte) storage.Request {
	t.Helper()
	req, err := storage.Decoder{}.DecodeRequest(body)
	if err != nil {
		t.Fatalf("DecodeRequest(%s): unexpected error %v", body, err)
	}
	return req
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{testToken, testClientSecret} {
		if strings.Contains(out, s) {
			t.Errorf("%s leaks a secret: %s", what, out)
		}
	}
}

// assertCalls checks the calls the fakes saw against want. The connection
// check runs beside the AWS calls, so "check" may come anywhere before the
// first record write; every other call must happen in want's order.
func assertCalls(t *testing.T, got, want []string) {
	t.Helper()
	withoutCheck := func(calls []string) ([]string, int) {
		i := slices.Index(calls, "check")
		if i < 0 {
			return calls, -1
		}
		return slices.Delete(slices.Clone(calls), i, i+1), i
	}
	rest, at := withoutCheck(got)
	wantRest, wantAt := withoutCheck(want)
	if !slices.Equal(rest, wantRest) || (at < 0) != (wantAt < 0) {
		t.Errorf("calls = %v, want %v (the check may be anywhere before the record write)", got, want)
	}
	if write := slices.Index(got, "put-record"); write >= 0 && at > write {
		t.Errorf("calls = %v: a record was written before the connection check", got)
	}
}

// credentialsOf checks that a storage secret's values hold a file key of
// filecap.KeySize random bytes and returns the other values: the
// credentials.
func credentialsOf(t *testing.T, values map[string]string) map[string]string {
	t.Helper()
	key, err := base64.RawURLEncoding.DecodeString(values[filecap.SecretValue])
	if err != nil || len(key) != filecap.KeySize {
		t.Errorf("the secret's %s is not %d bytes of base64url", filecap.SecretValue, filecap.KeySize)
	}
	out := maps.Clone(values)
	delete(out, filecap.SecretValue)
	return out
}
