package storage_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

func mustUpdate(t *testing.T, body string) storage.Update {
	t.Helper()
	u, err := storage.Decoder{}.DecodeUpdate([]byte(body))
	if err != nil {
		t.Fatalf("DecodeUpdate(%s): %v", body, err)
	}
	return u
}

// An empty update over a stored storage gives back the same settings and
// secrets, for every field the sample events set.
func TestEmptyUpdateKeepsEverything(t *testing.T) {
	for name, body := range eventBodies(t) {
		req, err := storage.Decoder{}.DecodeRequest([]byte(body))
		if err != nil {
			continue // the invalid samples
		}
		t.Run(name, func(t *testing.T) {
			merged, err := mustUpdate(t, `{}`).Apply(req.Settings, req.Secrets)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if !reflect.DeepEqual(merged.Settings, req.Settings) || merged.Secrets != req.Secrets {
				t.Errorf("an empty update changed the storage:\n got %+v\nwant %+v", merged.Settings, req.Settings)
			}
		})
	}
}

// Giving every field of a stored storage again, as its JSON, changes
// nothing: the update's fields are decoded as the create decodes them.
func TestUpdateWithTheStoredFieldsChangesNothing(t *testing.T) {
	req := mustDecode(t, baseFields().with("title", `"T"`, "prefix", `"a/b"`, "meta", `{"k": [1, 2.50]}`, "last_sync", `"2025-01-02T03:04:05.123456Z"`).body())
	merged, err := mustUpdate(t, string(baseFields().with("title", `"T"`, "prefix", `"/a/b/"`, "meta", `{"k": [1, 2.50]}`, "last_sync", `"2025-01-02T03:04:05.123456Z"`).body())).Apply(req.Settings, req.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(merged, req) {
		t.Errorf("got %+v, want %+v", merged.Settings, req.Settings)
	}
}

func TestUpdateReplacesOnlyItsFields(t *testing.T) {
	req := mustDecode(t, baseFields().with("title", `"Old"`, "prefix", `"a/b"`).body())
	merged, err := mustUpdate(t, `{"title": null, "verify_tls": "false", "meta": null}`).Apply(req.Settings, req.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Title != nil || merged.VerifyTLS || *merged.Prefix != "a/b" || merged.Secrets.Token != testToken || string(merged.Meta) != "null" {
		t.Errorf("merged = %+v", merged.Settings)
	}
	if !merged.NeedsCheck(req.Settings, req.Secrets) {
		t.Errorf("verify_tls changed, but no check is needed")
	}
	title, err := mustUpdate(t, `{"title": "x", "request_timeout_s": 3}`).Apply(req.Settings, req.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if title.NeedsCheck(req.Settings, req.Secrets) {
		t.Errorf("only title and timeout changed, yet a check is needed")
	}
}

// The given fields' problems and the merged storage's are listed at once,
// with the create's messages; fields left out are never "required".
func TestUpdateProblems(t *testing.T) {
	req := mustDecode(t, baseFields().body())
	for name, c := range map[string]struct {
		body string
		want map[string]string
	}{
		"fields and auth at once": {`{"catalog": "", "request_timeout_s": 99, "auth_type": "dbx_sp"}`, map[string]string{
			"catalog": "This field may not be blank.", "request_timeout_s": "Ensure this value is less than or equal to 20.",
			"client_id": `This field is required when auth_type is "dbx_sp".`, "client_secret": `This field is required when auth_type is "dbx_sp".`}},
		"null host":     {`{"host": null}`, map[string]string{"host": "This field may not be null."}},
		"bad integer":   {`{"presign_ttl": "x"}`, map[string]string{"presign_ttl": "A valid integer is required."}},
		"bad auth type": {`{"auth_type": "basic"}`, map[string]string{"auth_type": `"basic" is not a valid choice.`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mustUpdate(t, c.body).Apply(req.Settings, req.Secrets)
			var verr *storage.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			got := map[string]string{}
			for k, v := range verr.Fields {
				got[k] = strings.Join(v, " ")
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems = %v, want %v", got, c.want)
			}
		})
	}
}

func TestUpdateMayNotMoveTheStorage(t *testing.T) {
	stored := storage.Storage{ID: 1, Type: storage.StorageType, Settings: storage.Settings{Project: 7}}
	for body, refused := range map[string]bool{
		`{"project": 7}`: false, `{"project": "7"}`: false, `{"type": "databricks"}`: false,
		`{"project": 8}`: true, `{"project": 7.0}`: true, `{"project": "x"}`: true, `{"project": null}`: true, `{"type": "s3"}`: true,
	} {
		if err := mustUpdate(t, body).CheckImmutable(stored); (err != nil) != refused {
			t.Errorf("%s: CheckImmutable = %v, want refused %v", body, err, refused)
		}
	}
}

func TestDecodeUpdateRefusesNonObjects(t *testing.T) {
	for _, body := range []string{"", "[]", "null", `"x"`, "{} {}", "{"} {
		if _, err := (storage.Decoder{}).DecodeUpdate([]byte(body)); !errors.Is(err, storage.ErrMalformed) {
			t.Errorf("DecodeUpdate(%q) = %v, want ErrMalformed", body, err)
		}
	}
}

// Stored credentials are bound to the host, the auth type and (azure_ad_sp)
// the tenant they were entered for: an update that changes one of them
// must give the secret again.
func TestStoredCredentialsStayWithTheirHost(t *testing.T) {
	pat := mustDecode(t, baseFields().body())
	azure := mustDecode(t, baseFields().without("token").with("auth_type", `"azure_ad_sp"`, "client_id", `"c"`,
		"tenant_id", `"t1"`, "client_secret", jsonString(testClientSecret)).body())
	const (
		newHost  = "Give the token again: stored credentials are not sent to a new host."
		newHostS = "Give the client_secret again: stored credentials are not sent to a new host."
		tenant   = "Give the client_secret again: stored credentials are not sent to a new tenant."
		mode     = "Give the client_secret again: stored credentials are not used with another auth_type."
	)
	for _, c := range []struct {
		name   string
		stored storage.Request
		body   string
		field  string // "" when allowed
		msg    string
	}{
		{"pat, new host", pat, `{"host": "https://evil.example.com"}`, "token", newHost},
		{"pat, new host with the token", pat, `{"host": "https://evil.example.com", "token": "dapi-x"}`, "", ""},
		{"pat, same host written otherwise", pat, `{"host": "HTTPS://DBC-A1B2C3D4-E5F6.cloud.databricks.com:443/"}`, "", ""},
		{"pat, other fields", pat, `{"volume": "other", "prefix": "x"}`, "", ""},
		{"azure, new host", azure, `{"host": "https://evil.example.com"}`, "client_secret", newHostS},
		{"azure, new tenant", azure, `{"tenant_id": "t2"}`, "client_secret", tenant},
		{"azure, new tenant with the secret", azure, `{"tenant_id": "t2", "client_secret": "s2"}`, "", ""},
		{"azure to dbx_sp", azure, `{"auth_type": "dbx_sp"}`, "client_secret", mode},
		{"azure, new client id", azure, `{"client_id": "c2"}`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := mustUpdate(t, c.body).Apply(c.stored.Settings, c.stored.Secrets)
			if c.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var verr *storage.ValidationError
			if !errors.As(err, &verr) || !reflect.DeepEqual(verr.Fields, map[string][]string{c.field: {c.msg}}) {
				t.Fatalf("err = %v (%v), want %s: %q", err, verr, c.field, c.msg)
			}
		})
	}
}

func TestDecodeProbe(t *testing.T) {
	for _, c := range []struct {
		body   string
		id     int64
		limit  int64
		fields []string // problems
	}{
		{`{"id": 4}`, 4, 0, nil},
		{`{"id": " 4 ", "limit": "5.0"}`, 4, 5, nil},
		{`{"id": null, "limit": null, "project": 1, "host": "https://h.cloud.databricks.com", "catalog": "c", "schema": "s", "volume": "v", "token": "t"}`, 0, 0, nil},
		{`{"id": "x"}`, 0, 0, []string{"id"}},
		{`{"id": 0}`, 0, 0, []string{"id"}},
		{`{"id": true}`, 0, 0, []string{"id"}},
		{`{"id": 4, "limit": 1001}`, 0, 0, []string{"limit"}},
		{`{"id": 4, "limit": 0}`, 0, 0, []string{"limit"}},
		{`{"id": 4, "limit": 1.5}`, 0, 0, []string{"limit"}},
	} {
		p, err := storage.Decoder{}.DecodeProbe([]byte(c.body), 1000)
		var verr *storage.ValidationError
		switch {
		case c.fields == nil && err != nil:
			t.Errorf("%s: %v", c.body, err)
		case c.fields != nil && (!errors.As(err, &verr) || !reflect.DeepEqual(verr.Names(), c.fields)):
			t.Errorf("%s: err = %v, want problems on %v", c.body, err, c.fields)
		case c.fields == nil && (p.ID != c.id || p.Limit != c.limit):
			t.Errorf("%s: id %d limit %d, want %d %d", c.body, p.ID, p.Limit, c.id, c.limit)
		}
	}
}

// Handed-over credentials are checked as body fields are.
func TestDecodeRequestWithCredentials(t *testing.T) {
	body := baseFields().without("token").body()
	req, err := storage.Decoder{}.DecodeRequestWithCredentials(body, map[string]string{"token": testToken})
	if err != nil || req.Secrets.Token != testToken {
		t.Fatalf("got %v", err)
	}
	_, err = storage.Decoder{}.DecodeRequestWithCredentials(body, map[string]string{"token": " "})
	var verr *storage.ValidationError
	if !errors.As(err, &verr) || verr.Fields["token"][0] != "This field may not be blank." {
		t.Errorf("blank handed-over token: %v", err)
	}
	if _, err := (storage.Decoder{}).DecodeRequestWithCredentials(body, nil); !errors.As(err, &verr) || verr.Fields["token"] == nil {
		t.Errorf("no token at all: %v", err)
	}
}

func TestDecodeInteger(t *testing.T) {
	for raw, want := range map[string]int64{`7`: 7, `"7"`: 7, `7.0`: 7, `" 7 "`: 7} {
		if n, err := storage.DecodeInteger("id", []byte(raw), 1, 100); err != nil || n != want {
			t.Errorf("%s: %d %v", raw, n, err)
		}
	}
	for _, raw := range []string{``, `null`, `0`, `"x"`, `true`, `7.5`, `[7]`} {
		if _, err := storage.DecodeInteger("id", []byte(raw), 1, 100); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}
