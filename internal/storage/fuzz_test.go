package storage_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// requestFields are the names a ValidationError may report: the settings'
// JSON names, the secrets, and non_field_errors.
var requestFields = func() map[string]bool {
	names := map[string]bool{"token": true, "client_secret": true, "non_field_errors": true}
	settings := reflect.TypeFor[storage.Settings]()
	for i := range settings.NumField() {
		name, _, _ := strings.Cut(settings.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}()

func FuzzDecodeRequest(f *testing.F) {
	bodies := eventBodies(f)
	names := make([]string, 0, len(bodies))
	for name := range bodies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f.Add([]byte(bodies[name]))
	}
	for _, seed := range []string{
		"", "null", "[]", "{}", `"x"`, "{}}", "{} ]", `{"a":1} {"b":2}`,
		string(baseFields().body()),
		string(baseFields().without("token").with("auth_type", `"dbx_sp"`, "client_id", `"c"`, "client_secret", `"s3cr3t-value"`).body()),
		string(baseFields().without("token").with("auth_type", `"azure_ad_sp"`, "client_id", `"c"`, "tenant_id", `"t"`, "client_secret", `"s3cr3t-value"`).body()),
		string(baseFields().with("host", `"HTTPS://Dbc-X.cloud.databricks.com:443/"`, "prefix", `"/a/b/"`, "project", "5.0").body()),
		string(baseFields().with("last_sync", `"0000-01-01T00:00:00+01:00"`).body()),
		string(baseFields().with("last_sync", `"9999-12-31T23:59:59.999999-12:00"`, "last_sync_count", "2147483647").body()),
		string(baseFields().with("meta", `{"a":[1,2,{"b":null}],"c":"\u003c\u003e"}`, "title", `"é\u0000"`).body()),
		string(baseFields().with("project", "1e400", "request_timeout_s", "-0", "presign_ttl", "1.0e1").body()),
		string(baseFields().with("host", `"https://[fe80::1%25en0]:8443"`).body()),
		`{"token": "tok", "token": 5}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := storage.Decoder{}.DecodeRequest(body)
		if err != nil {
			var verr *storage.ValidationError
			isValidation := errors.As(err, &verr)
			isMalformed := errors.Is(err, storage.ErrMalformed)
			if isValidation == isMalformed {
				t.Fatalf("error %v (%T): validation %v, malformed %v; want exactly one", err, err, isValidation, isMalformed)
			}
			if isValidation {
				if len(verr.Fields) == 0 {
					t.Fatal("validation error without fields")
				}
				for name, msgs := range verr.Fields {
					if !requestFields[name] || len(msgs) == 0 {
						t.Fatalf("validation error on unknown field %q or without messages: %v", name, msgs)
					}
				}
			}
			return
		}

		if req.Project < 1 {
			t.Fatalf("project = %d, want ≥ 1", req.Project)
		}
		if !strings.HasPrefix(req.Host, "https://") {
			t.Fatalf("host = %q, want https://…", req.Host)
		}
		if req.Catalog == "" || req.Schema == "" || req.Volume == "" {
			t.Fatalf("empty name: %q %q %q", req.Catalog, req.Schema, req.Volume)
		}
		out, err := json.Marshal(storage.Storage{Settings: req.Settings})
		if err != nil {
			t.Fatalf("a decoded request cannot be rendered: %v", err)
		}
		for _, key := range []string{`"token":`, `"client_secret":`} {
			if bytes.Contains(out, []byte(key)) {
				t.Fatalf("rendered storage has the key %s: %s", key, out)
			}
		}

		// The rendering must not depend on the secrets: decode the same body
		// with the secrets swapped for others and compare.
		secrets := map[string]string{"token": req.Secrets.Token, "client_secret": req.Secrets.ClientSecret}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("decoder accepted a body encoding/json refuses: %v", err)
		}
		for field, value := range secrets {
			if value != "" {
				raw[field], _ = json.Marshal("fuzz-replacement-secret")
			}
		}
		swapped, _ := json.Marshal(raw)
		req2, err := storage.Decoder{}.DecodeRequest(swapped)
		if err != nil {
			t.Fatalf("body with the secrets swapped refused: %v", err)
		}
		out2, err := json.Marshal(storage.Storage{Settings: req2.Settings})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("rendering depends on the secrets:\n%s\n%s", out, out2)
		}
		// And the secret values themselves do not appear, unless another
		// (non-secret) field holds the same text anyway.
		for field, value := range secrets {
			if value == "" || bytes.Contains(out2, []byte(value)) {
				continue
			}
			esc, _ := json.Marshal(value)
			if bytes.Contains(out, []byte(value)) || bytes.Contains(out, bytes.Trim(esc, `"`)) {
				t.Fatalf("rendered storage holds the %s: %s", field, out)
			}
		}
	})
}
