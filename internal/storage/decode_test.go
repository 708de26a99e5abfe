package storage_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The messages are Django REST framework's, which Label Studio clients show.
const (
	msgRequired = "This field is required."
	msgNull     = "This field may not be null."
	msgBlank    = "This field may not be blank."
	msgString   = "Not a valid string."
	msgInteger  = "A valid integer is required."
	msgBoolean  = "Must be a valid boolean."
	msgDatetime = "Datetime has wrong format."
)

func TestDecodeRequestMinimalFillsDefaults(t *testing.T) {
	req := mustDecode(t, baseFields().body())
	s := req.Settings

	if s.Project != 1 || s.Host != testHost || s.Catalog != "main" || s.Schema != "default" || s.Volume != "landing" {
		t.Fatalf("required fields = %d %q %q %q %q", s.Project, s.Host, s.Catalog, s.Schema, s.Volume)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"auth_type", s.AuthType, storage.AuthPAT},
		{"verify_tls", s.VerifyTLS, true},
		{"synchronizable", s.Synchronizable, true},
		{"status", s.Status, "initialized"},
		{"request_timeout_s", s.RequestTimeoutS, int64(storage.DefaultRequestTimeoutS)},
		{"stream_chunk_bytes", s.StreamChunkBytes, int64(storage.DefaultStreamChunkBytes)},
		{"presign_ttl", s.PresignTTL, int64(storage.DefaultPresignTTL)},
		{"recursive_scan", s.RecursiveScan, false},
		{"use_blob_urls", s.UseBlobURLs, false},
		{"presign", s.Presign, false},
		{"prefix", s.Prefix, (*string)(nil)},
		{"regex_filter", s.RegexFilter, (*string)(nil)},
		{"client_id", s.ClientID, (*string)(nil)},
		{"tenant_id", s.TenantID, (*string)(nil)},
		{"title", s.Title, (*string)(nil)},
		{"description", s.Description, (*string)(nil)},
		{"last_sync", s.LastSync, (*time.Time)(nil)},
		{"last_sync_count", s.LastSyncCount, (*int64)(nil)},
		{"last_sync_job", s.LastSyncJob, (*string)(nil)},
		{"traceback", s.Traceback, (*string)(nil)},
		{"meta", s.Meta, json.RawMessage("{}")},
		{"secrets", req.Secrets, storage.Secrets{Token: testToken}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	// The documented defaults themselves.
	if storage.DefaultRequestTimeoutS <= 0 || storage.DefaultStatus != "initialized" || storage.DefaultAuthType != storage.AuthPAT {
		t.Errorf("unexpected defaults: timeout %d, status %q, auth %q", storage.DefaultRequestTimeoutS, storage.DefaultStatus, storage.DefaultAuthType)
	}
}

// The sample create event sets every optional field; each must come through.
func TestDecodeRequestEveryFieldOfSampleEvent(t *testing.T) {
	body, ok := eventBodies(t)["http-create-pat.json"]
	if !ok {
		t.Fatal("events/http-create-pat.json has no body")
	}
	req := mustDecode(t, []byte(body))
	s := req.Settings
	wantSync := time.Date(2025, 11, 20, 8, 15, 0, 0, time.UTC)
	checks := []struct {
		name      string
		got, want any
	}{
		{"project", s.Project, int64(1)},
		{"host", s.Host, "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"},
		{"catalog", s.Catalog, "main"},
		{"schema", s.Schema, "default"},
		{"volume", s.Volume, "landing"},
		{"prefix", s.Prefix, ptr("images")},
		{"regex_filter", s.RegexFilter, ptr(`.*\.(jpe?g|png)$`)},
		{"auth_type", s.AuthType, storage.AuthPAT},
		{"recursive_scan", s.RecursiveScan, true},
		{"use_blob_urls", s.UseBlobURLs, true},
		{"verify_tls", s.VerifyTLS, true},
		{"request_timeout_s", s.RequestTimeoutS, int64(15)},
		{"stream_chunk_bytes", s.StreamChunkBytes, int64(8388608)},
		{"presign", s.Presign, false},
		{"presign_ttl", s.PresignTTL, int64(1)},
		{"synchronizable", s.Synchronizable, true},
		{"status", s.Status, "initialized"},
		{"title", s.Title, ptr("Landing images (Databricks)")},
		{"description", s.Description, ptr("Product photos landed by the nightly ingestion job.")},
		{"last_sync", s.LastSync, &wantSync},
		{"last_sync_count", s.LastSyncCount, ptr(int64(128))},
		{"last_sync_job", s.LastSyncJob, ptr("job-20251120-0815")},
		{"traceback", s.Traceback, (*string)(nil)},
		{"secrets", req.Secrets, storage.Secrets{Token: "dapi-local-test-token"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	assertJSONEqual(t, "meta", s.Meta, `{"team": "vision", "source": "local-dev", "labels": ["cat", "dog"]}`)
}

func TestDecodeRequestRequiredFields(t *testing.T) {
	for _, field := range []string{"catalog", "schema", "volume", "host", "project"} {
		cases := []struct {
			name string
			raw  *string // nil: leave the field out
			want string
		}{
			{"missing", nil, msgRequired},
			{"null", ptr("null"), msgNull},
			{"bool", ptr("true"), msgString},
			{"array", ptr(`["main"]`), msgString},
			{"object", ptr(`{"name": "main"}`), msgString},
		}
		if field == "project" {
			cases = []struct {
				name string
				raw  *string
				want string
			}{
				{"missing", nil, msgRequired},
				{"null", ptr("null"), msgNull},
				{"empty string", ptr(`""`), msgNull},
				{"string", ptr(`"one"`), "Incorrect type. Expected pk value, received str."},
				{"bool", ptr("true"), "Incorrect type. Expected pk value, received bool."},
				{"array", ptr("[1]"), "Incorrect type. Expected pk value, received list."},
				{"object", ptr(`{"id": 1}`), "Incorrect type. Expected pk value, received dict."},
				{"fraction below 1", ptr("0.5"), `Invalid pk "0.5" - object does not exist.`},
				{"fraction string", ptr(`"1.5"`), "Incorrect type. Expected pk value, received str."},
				{"zero", ptr("0"), `Invalid pk "0" - object does not exist.`},
				{"negative", ptr("-3"), `Invalid pk "-3" - object does not exist.`},
			}
		} else {
			cases = append(cases,
				struct {
					name string
					raw  *string
					want string
				}{"empty", ptr(`""`), msgBlank},
				struct {
					name string
					raw  *string
					want string
				}{"spaces", ptr(`"   "`), msgBlank},
			)
		}
		for _, c := range cases {
			t.Run(field+"/"+c.name, func(t *testing.T) {
				f := baseFields().without(field)
				if c.raw != nil {
					f = f.with(field, *c.raw)
				}
				got := validationFields(t, f.body())
				if len(got) != 1 || !reflect.DeepEqual(got[field], []string{c.want}) {
					t.Fatalf("validation errors = %v, want only %s: [%q]", got, field, c.want)
				}
			})
		}
	}
}

func TestDecodeRequestEmptyObjectListsEveryRequiredField(t *testing.T) {
	got := validationFields(t, []byte(`{}`))
	want := map[string][]string{
		"catalog": {msgRequired},
		"schema":  {msgRequired},
		"volume":  {msgRequired},
		"host":    {msgRequired},
		"project": {msgRequired},
		// auth_type defaults to pat, which needs a token.
		"token": {`This field is required when auth_type is "pat".`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("validation errors = %v, want %v", got, want)
	}
}

func TestDecodeRequestAuthTypes(t *testing.T) {
	noToken := baseFields().without("token")
	cs := jsonString(testClientSecret)
	cases := []struct {
		name string
		f    fields
		// On success:
		wantAuth     storage.AuthType
		wantClientID *string
		wantTenantID *string
		wantSecrets  storage.Secrets
		// On failure: field → exact messages.
		wantErrs map[string][]string
	}{
		{name: "default is pat", f: baseFields(), wantAuth: storage.AuthPAT, wantSecrets: storage.Secrets{Token: testToken}},
		{name: "pat explicit", f: baseFields().with("auth_type", `"pat"`), wantAuth: storage.AuthPAT, wantSecrets: storage.Secrets{Token: testToken}},
		{name: "pat without token", f: noToken.with("auth_type", `"pat"`),
			wantErrs: map[string][]string{"token": {`This field is required when auth_type is "pat".`}}},
		{name: "pat token empty", f: baseFields().with("token", `""`),
			wantErrs: map[string][]string{"token": {msgBlank}}},
		{name: "pat token null", f: baseFields().with("token", `null`),
			wantErrs: map[string][]string{"token": {msgNull}}},
		{name: "pat token number", f: baseFields().with("token", `12345`),
			wantAuth: storage.AuthPAT, wantSecrets: storage.Secrets{Token: "12345"}},
		{name: "pat token boolean", f: baseFields().with("token", `true`),
			wantErrs: map[string][]string{"token": {msgString}}},
		{name: "dbx_sp", f: noToken.with("auth_type", `"dbx_sp"`, "client_id", `"sp-client"`, "client_secret", cs),
			wantAuth: storage.AuthDatabricksSP, wantClientID: ptr("sp-client"), wantSecrets: storage.Secrets{ClientSecret: testClientSecret}},
		{name: "dbx_sp missing client_secret", f: noToken.with("auth_type", `"dbx_sp"`, "client_id", `"sp-client"`),
			wantErrs: map[string][]string{"client_secret": {`This field is required when auth_type is "dbx_sp".`}}},
		{name: "dbx_sp missing client_id", f: noToken.with("auth_type", `"dbx_sp"`, "client_secret", cs),
			wantErrs: map[string][]string{"client_id": {`This field is required when auth_type is "dbx_sp".`}}},
		{name: "dbx_sp missing both", f: noToken.with("auth_type", `"dbx_sp"`),
			wantErrs: map[string][]string{
				"client_id":     {`This field is required when auth_type is "dbx_sp".`},
				"client_secret": {`This field is required when auth_type is "dbx_sp".`},
			}},
		{name: "dbx_sp blank client_id", f: noToken.with("auth_type", `"dbx_sp"`, "client_id", `"  "`, "client_secret", cs),
			wantErrs: map[string][]string{"client_id": {msgBlank}}},
		{name: "azure_ad_sp", f: noToken.with("auth_type", `"azure_ad_sp"`, "client_id", `"az-client"`, "client_secret", cs, "tenant_id", `"tenant-1"`),
			wantAuth: storage.AuthAzureADSP, wantClientID: ptr("az-client"), wantTenantID: ptr("tenant-1"), wantSecrets: storage.Secrets{ClientSecret: testClientSecret}},
		{name: "azure_ad_sp missing tenant", f: noToken.with("auth_type", `"azure_ad_sp"`, "client_id", `"az-client"`, "client_secret", cs),
			wantErrs: map[string][]string{"tenant_id": {`This field is required when auth_type is "azure_ad_sp".`}}},
		{name: "azure_ad_sp missing everything", f: noToken.with("auth_type", `"azure_ad_sp"`),
			wantErrs: map[string][]string{
				"client_id":     {`This field is required when auth_type is "azure_ad_sp".`},
				"client_secret": {`This field is required when auth_type is "azure_ad_sp".`},
				"tenant_id":     {`This field is required when auth_type is "azure_ad_sp".`},
			}},
		{name: "unknown auth_type", f: baseFields().with("auth_type", `"basic"`),
			wantErrs: map[string][]string{"auth_type": {`"basic" is not a valid choice.`}}},
		{name: "auth_type is case sensitive", f: baseFields().with("auth_type", `"PAT"`),
			wantErrs: map[string][]string{"auth_type": {`"PAT" is not a valid choice.`}}},
		{name: "auth_type null", f: baseFields().with("auth_type", `null`),
			wantErrs: map[string][]string{"auth_type": {msgNull}}},
		{name: "auth_type number", f: baseFields().with("auth_type", `1`),
			wantErrs: map[string][]string{"auth_type": {`"1" is not a valid choice.`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.wantErrs != nil {
				if got := validationFields(t, c.f.body()); !reflect.DeepEqual(got, c.wantErrs) {
					t.Fatalf("validation errors = %v, want %v", got, c.wantErrs)
				}
				return
			}
			req := mustDecode(t, c.f.body())
			if req.AuthType != c.wantAuth {
				t.Errorf("auth_type = %q, want %q", req.AuthType, c.wantAuth)
			}
			if !reflect.DeepEqual(req.ClientID, c.wantClientID) {
				t.Errorf("client_id = %v, want %v", deref(req.ClientID), deref(c.wantClientID))
			}
			if !reflect.DeepEqual(req.TenantID, c.wantTenantID) {
				t.Errorf("tenant_id = %v, want %v", deref(req.TenantID), deref(c.wantTenantID))
			}
			if req.Secrets != c.wantSecrets {
				t.Errorf("secrets do not match what was sent")
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestDecodeRequestStringLengths(t *testing.T) {
	for _, field := range []string{"title", "last_sync_job"} {
		cases := []struct {
			name  string
			value string
			ok    bool
		}{
			{"empty", "", true},
			{"256 ascii", strings.Repeat("A", 256), true},
			// Limits count characters, not bytes, as Django does.
			{"256 multibyte", strings.Repeat("é", 256), true},
			{"257 ascii", strings.Repeat("A", 257), false},
			{"257 multibyte", strings.Repeat("é", 257), false},
		}
		for _, c := range cases {
			t.Run(field+"/"+c.name, func(t *testing.T) {
				body := baseFields().with(field, jsonString(c.value)).body()
				if !c.ok {
					got := validationFields(t, body)
					want := map[string][]string{field: {"Ensure this field has no more than 256 characters."}}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("validation errors = %v, want %v", got, want)
					}
					return
				}
				req := mustDecode(t, body)
				got := req.Title
				if field == "last_sync_job" {
					got = req.LastSyncJob
				}
				if got == nil || *got != c.value {
					t.Fatalf("%s = %v, want %q", field, got, c.value)
				}
			})
		}
	}
}

func TestDecodeRequestNullableStrings(t *testing.T) {
	get := map[string]func(storage.Request) *string{
		"title":         func(r storage.Request) *string { return r.Title },
		"description":   func(r storage.Request) *string { return r.Description },
		"last_sync_job": func(r storage.Request) *string { return r.LastSyncJob },
		"traceback":     func(r storage.Request) *string { return r.Traceback },
		"regex_filter":  func(r storage.Request) *string { return r.RegexFilter },
	}
	long := strings.Repeat("line of a traceback\n", 2000) + "end"
	for field, fn := range get {
		t.Run(field, func(t *testing.T) {
			if got := fn(mustDecode(t, baseFields().with(field, "null").body())); got != nil {
				t.Errorf("null: %s = %q, want nil", field, *got)
			}
			if got := fn(mustDecode(t, baseFields().with(field, jsonString("x y")).body())); got == nil || *got != "x y" {
				t.Errorf("string: %s = %v, want \"x y\"", field, got)
			}
			if field == "description" || field == "traceback" {
				if got := fn(mustDecode(t, baseFields().with(field, jsonString(long)).body())); got == nil || *got != long {
					t.Errorf("long value not kept")
				}
			}
			for _, bad := range []string{"true", "false", `["x"]`, `{"a": "b"}`} {
				wantOnly(t, validationFields(t, baseFields().with(field, bad).body()), field, msgString)
			}
		})
	}
}

func TestDecodeRequestIntegers(t *testing.T) {
	type getter func(storage.Request) *int64
	lastSyncCount := getter(func(r storage.Request) *int64 { return r.LastSyncCount })
	project := getter(func(r storage.Request) *int64 { return &r.Project })
	timeout := getter(func(r storage.Request) *int64 { return &r.RequestTimeoutS })
	cases := []struct {
		field string
		raw   string
		get   getter
		want  *int64 // nil with wantMsg "": null accepted
		msg   string // prefix of the only message on failure
	}{
		{"last_sync_count", "0", lastSyncCount, ptr(int64(0)), ""},
		{"last_sync_count", "2147483647", lastSyncCount, ptr(int64(2147483647)), ""},
		{"last_sync_count", "2147483648", lastSyncCount, nil, "Ensure this value is less than or equal to 2147483647."},
		{"last_sync_count", "-1", lastSyncCount, nil, "Ensure this value is greater than or equal to 0."},
		{"last_sync_count", "null", lastSyncCount, nil, ""},
		{"last_sync_count", "5.0", lastSyncCount, ptr(int64(5)), ""},
		{"last_sync_count", "1e2", lastSyncCount, ptr(int64(100)), ""},
		{"last_sync_count", "5.5", lastSyncCount, nil, msgInteger},
		{"last_sync_count", "1e-1", lastSyncCount, nil, msgInteger},
		{"last_sync_count", `"5"`, lastSyncCount, ptr(int64(5)), ""},
		{"last_sync_count", "true", lastSyncCount, nil, msgInteger},
		{"last_sync_count", "false", lastSyncCount, nil, msgInteger},
		{"last_sync_count", "[5]", lastSyncCount, nil, msgInteger},
		// Python reads 1e400 as inf, which int() refuses.
		{"last_sync_count", "1e400", lastSyncCount, nil, msgInteger},
		{"project", "5.0", project, ptr(int64(5)), ""},
		{"project", "9223372036854775807", project, ptr(int64(9223372036854775807)), ""},
		{"project", "9223372036854775808", project, nil, `Invalid pk "9223372036854775808" - object does not exist.`},
		{"project", "1e30", project, nil, `Invalid pk "1e+30" - object does not exist.`},
		{"project", "-1e400", project, nil, "Incorrect type. Expected pk value, received float."},
		{"project", `"7"`, project, ptr(int64(7)), ""},
		{"project", "false", project, nil, "Incorrect type. Expected pk value, received bool."},
		{"request_timeout_s", "1", timeout, ptr(int64(1)), ""},
		{"request_timeout_s", fmt.Sprint(storage.MaxRequestTimeoutS), timeout, ptr(int64(storage.MaxRequestTimeoutS)), ""},
		{"request_timeout_s", fmt.Sprint(storage.MaxRequestTimeoutS + 1), timeout, nil, "Ensure this value is less than or equal to"},
		{"request_timeout_s", "0", timeout, nil, "Ensure this value is greater than or equal to 1."},
		{"request_timeout_s", `"ten"`, timeout, nil, msgInteger},
		{"request_timeout_s", "null", timeout, nil, msgNull},
		{"stream_chunk_bytes", "1.5", nil, nil, msgInteger},
		{"presign_ttl", `"one"`, nil, nil, msgInteger},
	}
	for _, c := range cases {
		t.Run(c.field+"="+c.raw, func(t *testing.T) {
			body := baseFields().with(c.field, c.raw).body()
			if c.msg != "" {
				wantOnly(t, validationFields(t, body), c.field, c.msg)
				return
			}
			got := c.get(mustDecode(t, body))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("%s = %v, want %v", c.field, got, c.want)
			}
		})
	}
}

func TestDecodeRequestDatetimes(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, us int) *time.Time {
		v := time.Date(y, mo, d, h, mi, s, us*1000, time.UTC)
		return &v
	}
	accepted := []struct {
		in   string
		want *time.Time
	}{
		{"2025-11-20T08:15:00Z", utc(2025, 11, 20, 8, 15, 0, 0)},
		{"2025-11-20T08:15:00.123456Z", utc(2025, 11, 20, 8, 15, 0, 123456)},
		{"2025-11-20T08:15:00.1Z", utc(2025, 11, 20, 8, 15, 0, 100000)},
		// Sub-microsecond digits are dropped (Python datetimes hold µs).
		{"2025-11-20T08:15:00.1234569Z", utc(2025, 11, 20, 8, 15, 0, 123456)},
		{"2025-11-20T08:15:00+02:00", utc(2025, 11, 20, 6, 15, 0, 0)},
		{"2025-11-20T08:15:00-05:30", utc(2025, 11, 20, 13, 45, 0, 0)},
		{"2025-11-20T08:15Z", utc(2025, 11, 20, 8, 15, 0, 0)},
		{"2025-11-20T08:15+01:00", utc(2025, 11, 20, 7, 15, 0, 0)},
		// Without a zone the time is UTC, Label Studio's zone.
		{"2025-11-20T08:15:00", utc(2025, 11, 20, 8, 15, 0, 0)},
		{"2025-11-20T08:15:00.5", utc(2025, 11, 20, 8, 15, 0, 500000)},
		{"2025-11-20T08:15", utc(2025, 11, 20, 8, 15, 0, 0)},
		{"2025-11-20 08:15:00Z", utc(2025, 11, 20, 8, 15, 0, 0)},
		{"2025-11-20 08:15:00", utc(2025, 11, 20, 8, 15, 0, 0)},
		{"2025-11-20 08:15", utc(2025, 11, 20, 8, 15, 0, 0)},
		{"2024-02-29T00:00:00Z", utc(2024, 2, 29, 0, 0, 0, 0)},
		// A date alone is midnight; the basic format is ISO 8601 too.
		{"2025-11-20", utc(2025, 11, 20, 0, 0, 0, 0)},
		{"20251120T081500Z", utc(2025, 11, 20, 8, 15, 0, 0)},
	}
	for _, c := range accepted {
		t.Run("ok/"+c.in, func(t *testing.T) {
			req := mustDecode(t, baseFields().with("last_sync", jsonString(c.in)).body())
			if req.LastSync == nil || !req.LastSync.Equal(*c.want) || req.LastSync.Location() != time.UTC {
				t.Fatalf("last_sync = %v, want %v in UTC", req.LastSync, c.want)
			}
		})
	}
	t.Run("null", func(t *testing.T) {
		if req := mustDecode(t, baseFields().with("last_sync", "null").body()); req.LastSync != nil {
			t.Fatalf("last_sync = %v, want nil", req.LastSync)
		}
	})
	refused := []string{
		"yesterday", "", " ", "2025/11/20 08:15:00",
		"2025-11-20T25:00:00Z", "2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z", "2025-11-20T08:15:00+25:00",
		"2025-11-20T08:15:00Z trailing", "1764028681",
		// Times that fall outside years 1…9999 once in UTC: Python cannot
		// hold them and JSON cannot render them.
		"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
	}
	for _, in := range refused {
		t.Run("refused/"+in, func(t *testing.T) {
			wantOnly(t, validationFields(t, baseFields().with("last_sync", jsonString(in)).body()), "last_sync", msgDatetime)
		})
	}
	for _, raw := range []string{"1764028681", "true", `["2025-11-20T08:15:00Z"]`} {
		t.Run("wrong type/"+raw, func(t *testing.T) {
			got := validationFields(t, baseFields().with("last_sync", raw).body())
			if len(got) != 1 || len(got["last_sync"]) != 1 {
				t.Fatalf("validation errors = %v, want one error on last_sync", got)
			}
		})
	}
}

func TestDecodeRequestStatus(t *testing.T) {
	for _, s := range []string{"initialized", "queued", "in_progress", "failed", "completed", "completed_with_errors"} {
		if req := mustDecode(t, baseFields().with("status", jsonString(s)).body()); req.Status != s {
			t.Errorf("status %q decoded as %q", s, req.Status)
		}
	}
	for _, bad := range []struct{ raw, msg string }{
		{`"done"`, `"done" is not a valid choice.`},
		{`"INITIALIZED"`, `"INITIALIZED" is not a valid choice.`},
		{`""`, `"" is not a valid choice.`},
		{`null`, msgNull},
		{`3`, `"3" is not a valid choice.`},
	} {
		got := validationFields(t, baseFields().with("status", bad.raw).body())
		if want := map[string][]string{"status": {bad.msg}}; !reflect.DeepEqual(got, want) {
			t.Errorf("status %s: validation errors = %v, want %v", bad.raw, got, want)
		}
	}
}

func TestDecodeRequestMetaKeptExactly(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"object", `{"team": "vision", "n": 1, "nested": {"a": [1, 2, {"b": null}]}}`, `{"team":"vision","n":1,"nested":{"a":[1,2,{"b":null}]}}`},
		{"array", `[1, "two", 3.5, null, true]`, `[1,"two",3.5,null,true]`},
		{"string", `"just a string"`, `"just a string"`},
		// Numbers keep their exact text: no float rounding, no reformatting.
		{"decimal", `1.50`, `1.50`},
		{"big integer", `12345678901234567890123`, `12345678901234567890123`},
		{"exponent", `1E+2`, `1E+2`},
		{"boolean", `false`, `false`},
		{"empty object", `{}`, `{}`},
		{"html characters", `{"q": "<a & b>"}`, `{"q":"<a & b>"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := mustDecode(t, baseFields().with("meta", c.raw).body())
			if string(req.Meta) != c.want {
				t.Fatalf("meta = %s, want %s", req.Meta, c.want)
			}
			// And the response renders the same JSON value.
			out, err := json.Marshal(storage.Storage{Settings: req.Settings})
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, "rendered meta", got["meta"], c.raw)
		})
	}
	t.Run("null", func(t *testing.T) {
		req := mustDecode(t, baseFields().with("meta", "null").body())
		if string(req.Meta) != "null" {
			t.Fatalf("meta = %s, want null", req.Meta)
		}
		out, _ := json.Marshal(storage.Storage{Settings: req.Settings})
		if !bytes.Contains(out, []byte(`"meta":null`)) {
			t.Fatalf("rendered storage %s lacks \"meta\":null", out)
		}
	})
}

// assertJSONEqual compares two JSON texts as values, numbers by their text.
func assertJSONEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	norm := func(b []byte) any {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %q is not JSON: %v", what, b, err)
		}
		return v
	}
	if g, w := norm(got), norm([]byte(want)); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

func TestDecodeRequestBooleans(t *testing.T) {
	defaults := map[string]bool{
		"recursive_scan": false,
		"use_blob_urls":  false,
		"verify_tls":     true,
		"presign":        false,
		"synchronizable": true,
	}
	get := func(r storage.Request, field string) bool {
		switch field {
		case "recursive_scan":
			return r.RecursiveScan
		case "use_blob_urls":
			return r.UseBlobURLs
		case "verify_tls":
			return r.VerifyTLS
		case "presign":
			return r.Presign
		case "synchronizable":
			return r.Synchronizable
		}
		t.Fatalf("unknown field %s", field)
		return false
	}
	for field, def := range defaults {
		t.Run(field, func(t *testing.T) {
			if got := get(mustDecode(t, baseFields().body()), field); got != def {
				t.Errorf("default = %v, want %v", got, def)
			}
			for _, v := range []bool{true, false} {
				if got := get(mustDecode(t, baseFields().with(field, fmt.Sprint(v)).body()), field); got != v {
					t.Errorf("%v decoded as %v", v, got)
				}
			}
			for _, bad := range []string{`"maybe"`, `2`, `"TRUE "`, `""`, `[]`, `{}`} {
				wantOnly(t, validationFields(t, baseFields().with(field, bad).body()), field, msgBoolean)
			}
			wantOnly(t, validationFields(t, baseFields().with(field, "null").body()), field, msgNull)
		})
	}
}

func TestDecodeRequestIgnoresUnknownAndReadOnlyFields(t *testing.T) {
	plain := mustDecode(t, baseFields().body())
	extra := mustDecode(t, baseFields().with(
		"id", "999",
		"created_at", `"2020-01-01T00:00:00Z"`,
		"type", `"s3"`,
		"bucket", `"label-studio-images"`,
		"unknown", `{"deeply": [1, 2, {"nested": true}]}`,
		"Catalog", `"ignored: names are case sensitive"`,
	).body())
	if !reflect.DeepEqual(plain, extra) {
		t.Fatalf("unknown / read-only fields changed the request:\n got %#v\nwant %#v", extra.Settings, plain.Settings)
	}
	// Read-only fields sent with wrong types are not validated either.
	mustDecode(t, baseFields().with("id", `"abc"`, "created_at", "false", "type", "[]").body())
}

func TestDecodeRequestHost(t *testing.T) {
	const mustHTTPS = "The workspace URL must use https://."
	cases := []struct {
		in   string
		want string // normalised; "" means refused
		msg  string // exact message when refused; "" means any message
	}{
		{"HTTPS://Dbc-X.cloud.databricks.com:443/", "https://dbc-x.cloud.databricks.com", ""},
		{"https://dbc-x.cloud.databricks.com", "https://dbc-x.cloud.databricks.com", ""},
		{"https://dbc-x.cloud.databricks.com/", "https://dbc-x.cloud.databricks.com", ""},
		{"https://adb-1234567890123456.7.azuredatabricks.net:8443", "https://adb-1234567890123456.7.azuredatabricks.net:8443", ""},
		{"https://ADB-1.7.AzureDatabricks.NET:8443/", "https://adb-1.7.azuredatabricks.net:8443", ""},
		{"https://127.0.0.1:9443", "https://127.0.0.1:9443", ""},
		{"https://[::1]:8443", "https://[::1]:8443", ""},
		{"https://[::1]", "https://[::1]", ""},
		{"http://x", "", mustHTTPS},
		{"http://dbc-x.cloud.databricks.com", "", mustHTTPS},
		{"ftp://dbc-x.cloud.databricks.com", "", mustHTTPS},
		{"dbc-x.cloud.databricks.com", "", ""},
		{"//dbc-x.cloud.databricks.com", "", ""},
		{"https://", "", ""},
		{"https:///path", "", ""},
		{"https:dbc-x.cloud.databricks.com", "", ""},
		{"https://user@dbc-x.cloud.databricks.com", "", ""},
		{"https://user:pass@dbc-x.cloud.databricks.com", "", ""},
		{"https://@dbc-x.cloud.databricks.com", "", ""},
		{"https://dbc-x.cloud.databricks.com/path", "", ""},
		{"https://dbc-x.cloud.databricks.com//", "", ""},
		{"https://dbc-x.cloud.databricks.com/?o=123", "", ""},
		{"https://dbc-x.cloud.databricks.com?o=123", "", ""},
		{"https://dbc-x.cloud.databricks.com?", "", ""},
		{"https://dbc-x.cloud.databricks.com#frag", "", ""},
		{"https://dbc-x.cloud.databricks.com#", "", ""},
		{"https://dbc-x.cloud.databricks.com:", "", ""},
		{"https://dbc-x.cloud.databricks.com:0", "", ""},
		{"https://dbc-x.cloud.databricks.com:65536", "", ""},
		{"https://dbc-x.cloud.databricks.com:port", "", ""},
		{"https://:443", "", ""},
		{"https://dbc x.cloud.databricks.com", "", ""},
		// Trimmed first, as Django REST framework's CharField does.
		{" https://dbc-x.cloud.databricks.com", "https://dbc-x.cloud.databricks.com", ""},
		{"https://dbc-x.cloud.databricks.com\n", "https://dbc-x.cloud.databricks.com", ""},
		{"https://dbc-x.cloud.databricks.com\n/", "", ""},
		{`https://dbc-x.cloud.databricks.com\evil`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			body := baseFields().with("host", jsonString(c.in)).body()
			if c.want != "" {
				if req := mustDecode(t, body); req.Host != c.want {
					t.Fatalf("host = %q, want %q", req.Host, c.want)
				}
				return
			}
			got := validationFields(t, body)
			if len(got) != 1 || len(got["host"]) != 1 {
				t.Fatalf("validation errors = %v, want one error on host", got)
			}
			if c.msg != "" && got["host"][0] != c.msg {
				t.Fatalf("host error = %q, want %q", got["host"][0], c.msg)
			}
			if strings.Contains(got["host"][0], "pass") {
				t.Fatalf("host error %q echoes the URL's password", got["host"][0])
			}
		})
	}
}

type fakeHostPolicy struct {
	refuse error
	seen   []string
}

func (p *fakeHostPolicy) CheckHost(hostname string) error {
	p.seen = append(p.seen, hostname)
	return p.refuse
}

func TestDecodeRequestHostPolicy(t *testing.T) {
	body := baseFields().with("host", `"HTTPS://Dbc-X.cloud.databricks.com:8443/"`).body()

	allow := &fakeHostPolicy{}
	req, err := storage.Decoder{Hosts: allow}.DecodeRequest(body)
	if err != nil {
		t.Fatalf("allowed host refused: %v", err)
	}
	if req.Host != "https://dbc-x.cloud.databricks.com:8443" {
		t.Errorf("host = %q", req.Host)
	}
	// The policy sees the bare, lower-cased hostname.
	if !reflect.DeepEqual(allow.seen, []string{"dbc-x.cloud.databricks.com"}) {
		t.Errorf("policy saw %q, want [dbc-x.cloud.databricks.com]", allow.seen)
	}

	const refusal = "This workspace host is not allowed: it is not a Databricks workspace."
	deny := &fakeHostPolicy{refuse: errors.New(refusal)}
	_, err = storage.Decoder{Hosts: deny}.DecodeRequest(body)
	var verr *storage.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("refused host: error %v is not a *ValidationError", err)
	}
	if want := map[string][]string{"host": {refusal}}; !reflect.DeepEqual(verr.Fields, want) {
		t.Fatalf("validation errors = %v, want %v", verr.Fields, want)
	}

	// A refused host is reported together with the other problems.
	_, err = storage.Decoder{Hosts: deny}.DecodeRequest(baseFields().without("volume").body())
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	sameKeys(t, "validation errors", verr.Fields, "host", "volume")
}

func TestDecodeRequestUnityCatalogNames(t *testing.T) {
	accepted := []string{"main", "my_catalog", "my-catalog", "a..b", "Ünïcödé", "x.y", strings.Repeat("n", 255)}
	refused := []string{"a/b", "/main", "main/", "..", ".", `a\b`, "../etc", "tab\there", "n\nl", strings.Repeat("n", 256)}
	for _, field := range []string{"catalog", "schema", "volume"} {
		for _, name := range accepted {
			req := mustDecode(t, baseFields().with(field, jsonString(name)).body())
			got := map[string]string{"catalog": req.Catalog, "schema": req.Schema, "volume": req.Volume}[field]
			if got != name {
				t.Errorf("%s %q decoded as %q", field, name, got)
			}
		}
		for _, name := range refused {
			got := validationFields(t, baseFields().with(field, jsonString(name)).body())
			if len(got) != 1 || len(got[field]) != 1 {
				t.Errorf("%s %q: validation errors = %v, want one error on %s", field, name, got, field)
			}
		}
	}
}

func TestDecodeRequestPrefix(t *testing.T) {
	cases := []struct {
		raw  string
		want *string
		bad  bool
	}{
		{`"/a/b/"`, ptr("a/b"), false},
		{`"a/b"`, ptr("a/b"), false},
		{`"images"`, ptr("images"), false},
		{`"a b/c-d_e.f"`, ptr("a b/c-d_e.f"), false},
		{`"a..b/c"`, ptr("a..b/c"), false},
		{`5`, ptr("5"), false},
		{`"/"`, nil, false},
		{`""`, nil, false},
		{`null`, nil, false},
		{`"a/../b"`, nil, true},
		{`"../a"`, nil, true},
		{`"/.."`, nil, true},
		{`".."`, nil, true},
		{`"a/.."`, nil, true},
		{`"./a"`, nil, true},
		{`"a//b"`, nil, true},
		{`"a\\b"`, nil, true},
		{`"a\nb"`, nil, true},
		{`true`, nil, true},
		{`["a"]`, nil, true},
	}
	for _, c := range cases {
		t.Run(c.raw, func(t *testing.T) {
			body := baseFields().with("prefix", c.raw).body()
			if c.bad {
				got := validationFields(t, body)
				if len(got) != 1 || len(got["prefix"]) != 1 {
					t.Fatalf("validation errors = %v, want one error on prefix", got)
				}
				return
			}
			req := mustDecode(t, body)
			if !reflect.DeepEqual(req.Prefix, c.want) {
				t.Fatalf("prefix = %v, want %v", deref(req.Prefix), deref(c.want))
			}
		})
	}
}

// The sample event with every field wrong reports the fields the events
// README lists, with the listed messages.
func TestDecodeRequestSampleEveryFieldWrong(t *testing.T) {
	body, ok := eventBodies(t)["http-invalid-every-field.json"]
	if !ok {
		t.Fatal("events/http-invalid-every-field.json has no body")
	}
	got := validationFields(t, []byte(body))
	want := map[string]string{
		"catalog":           msgRequired,
		"schema":            msgBlank,
		"host":              "The workspace URL must use https://.",
		"project":           `Invalid pk "-3" - object does not exist.`,
		"auth_type":         `"basic" is not a valid choice.`,
		"title":             "Ensure this field has no more than 256 characters.",
		"last_sync":         msgDatetime,
		"last_sync_count":   "Ensure this value is greater than or equal to 0.",
		"status":            `"done" is not a valid choice.`,
		"request_timeout_s": msgInteger,
		"volume":            "Not a valid string.",
		"verify_tls":        "Must be a valid boolean.",
	}
	sameKeys(t, "validation errors", got, keysOf(want)...)
	for field, msg := range want {
		if len(got[field]) != 1 || !strings.HasPrefix(got[field][0], msg) {
			t.Errorf("%s: %q, want one message starting %q", field, got[field], msg)
		}
	}
}

// Every field wrong at once: all of them are reported in one error.
func TestDecodeRequestReportsEveryProblemAtOnce(t *testing.T) {
	body := fields{
		// catalog missing
		"schema":             `""`,
		"volume":             `true`,
		"host":               `"http://x"`,
		"project":            `-3`,
		"auth_type":          `"basic"`,
		"token":              `true`,
		"client_id":          `""`,
		"client_secret":      `null`,
		"tenant_id":          `" "`,
		"prefix":             `"../x"`,
		"regex_filter":       `false`,
		"recursive_scan":     `"x"`,
		"use_blob_urls":      `2`,
		"verify_tls":         `"maybe"`,
		"request_timeout_s":  `"ten"`,
		"stream_chunk_bytes": `1.5`,
		"presign":            `null`,
		"presign_ttl":        `"one"`,
		"synchronizable":     `"yes please"`,
		"status":             `"done"`,
		"title":              jsonString(strings.Repeat("A", 300)),
		"description":        `[1]`,
		"last_sync":          `"yesterday"`,
		"last_sync_count":    `-1`,
		"last_sync_job":      jsonString(strings.Repeat("j", 257)),
		"traceback":          `[]`,
		"meta":               `{"meta": "accepts any JSON"}`,
		"id":                 `"read-only, ignored"`,
	}.body()
	got := validationFields(t, body)
	sameKeys(t, "validation errors", got,
		"catalog", "schema", "volume", "host", "project", "auth_type", "token", "client_id",
		"client_secret", "tenant_id", "prefix", "regex_filter", "recursive_scan", "use_blob_urls",
		"verify_tls", "request_timeout_s", "stream_chunk_bytes", "presign", "presign_ttl",
		"synchronizable", "status", "title", "description", "last_sync", "last_sync_count",
		"last_sync_job", "traceback")
	for field, msgs := range got {
		if len(msgs) != 1 {
			t.Errorf("%s has %d messages %q, want exactly one", field, len(msgs), msgs)
		}
	}
	// The error text names the fields but no values.
	_, err := decode(t, body)
	msg := err.Error()
	for _, field := range []string{"catalog", "token", "last_sync_job"} {
		if !strings.Contains(msg, field) {
			t.Errorf("error %q does not name %s", msg, field)
		}
	}
}

func TestDecodeRequestMalformedBodies(t *testing.T) {
	valid := string(baseFields().body())
	cases := []struct {
		name string
		body string
		// detail the message must contain (case-insensitive), if any
		mention string
	}{
		{"not JSON", "catalog=main&schema=default", ""},
		{"JSON array", "[1,2,3]", "expected a JSON object, got array"},
		{"JSON string", `"{\"catalog\": \"main\"}"`, "expected a JSON object, got string"},
		{"JSON number", "42", "expected a JSON object, got number"},
		{"JSON boolean", "true", "expected a JSON object"},
		{"JSON null", "null", "expected a JSON object, got null"},
		{"empty", "", "empty"},
		{"only whitespace", " \n\t ", "empty"},
		{"truncated", `{"catalog": "main",`, ""},
		{"trailing comma", `{"catalog": "main",}`, ""},
		{"single quotes", `{'catalog': 'main'}`, ""},
		{"trailing garbage", valid + " x", "after the JSON object"},
		{"two objects", valid + valid, "after the JSON object"},
		{"trailing brace", valid + "}", "after the JSON object"},
		{"trailing bracket", valid + " ]", "after the JSON object"},
		{"trailing comma after object", valid + ",", "after the JSON object"},
		{"trailing null", valid + " null", "after the JSON object"},
		{"NUL byte", "\x00", ""},
		{"BOM", "\ufeff" + valid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := decode(t, []byte(c.body))
			if err == nil {
				t.Fatalf("DecodeRequest(%q) = %+v, want an error", c.body, req.Settings)
			}
			if !errors.Is(err, storage.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			var verr *storage.ValidationError
			if errors.As(err, &verr) {
				t.Fatalf("malformed body reported as a validation error: %v", err)
			}
			if c.mention != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.mention)) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

func TestDecodeRequestAcceptsSurroundingWhitespace(t *testing.T) {
	valid := string(baseFields().body())
	for _, body := range []string{valid + "\n", "\r\n\t " + valid + " \r\n"} {
		mustDecode(t, []byte(body))
	}
}

// A malformed body can hold a secret: the error never echoes it.
func TestDecodeRequestMalformedDoesNotEchoBody(t *testing.T) {
	for _, body := range []string{
		`{"token": "` + testToken,
		`{"token": "` + testToken + `" "catalog": 1}`,
		`{"token": "` + testToken + `"}}`,
		`["` + testToken + `"]`,
		`"` + testToken + `"`,
		`{"token": ` + testToken + `}`,
	} {
		_, err := decode(t, []byte(body))
		if err == nil || !errors.Is(err, storage.ErrMalformed) {
			t.Fatalf("DecodeRequest(%q) = %v, want ErrMalformed", body, err)
		}
		if strings.Contains(err.Error(), "TOKEN-must") {
			t.Errorf("error %q echoes the token", err)
		}
	}
}

func TestValidationErrorMessageNamesFields(t *testing.T) {
	e := &storage.ValidationError{Fields: map[string][]string{"b": {"x"}, "a": {"y"}}}
	if msg := e.Error(); msg != "invalid request: a, b" {
		t.Fatalf("Error() = %q, want %q", msg, "invalid request: a, b")
	}
}

func TestSecretsValuesHoldOnlyWhatWasGiven(t *testing.T) {
	cases := []struct {
		s    storage.Secrets
		want map[string]string
	}{
		{storage.Secrets{}, map[string]string{}},
		{storage.Secrets{Token: "t"}, map[string]string{"token": "t"}},
		{storage.Secrets{ClientSecret: "c"}, map[string]string{"client_secret": "c"}},
		{storage.Secrets{Token: "t", ClientSecret: "c"}, map[string]string{"token": "t", "client_secret": "c"}},
	}
	for _, c := range cases {
		if got := c.s.Values(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Values() = %v keys, want %v keys", keysOf(got), keysOf(c.want))
		}
	}
}

func TestNormaliseHostReturnsBareHostname(t *testing.T) {
	cases := []struct{ in, norm, host string }{
		{"HTTPS://Dbc-X.cloud.databricks.com:443/", "https://dbc-x.cloud.databricks.com", "dbc-x.cloud.databricks.com"},
		{"https://h.example:8443", "https://h.example:8443", "h.example"},
		{"https://[2001:DB8::1]:8443", "https://[2001:db8::1]:8443", "2001:db8::1"},
	}
	for _, c := range cases {
		norm, host, err := storage.NormaliseHost(c.in)
		if err != nil || norm != c.norm || host != c.host {
			t.Errorf("NormaliseHost(%q) = %q, %q, %v; want %q, %q", c.in, norm, host, err, c.norm, c.host)
		}
	}
}

// Names are shown to people (Label Studio's storage list, the volume path in
// messages), so characters that reorder or hide what they read are refused:
// "\u202egpj.exe" reads as "exe.jpg", and "main\u200b" looks like "main".
func TestDecodeRequestRefusesSpoofingCharacters(t *testing.T) {
	const msg = "Must not contain bidirectional control characters or zero-width characters."
	tests := []struct {
		name  string
		value string
	}{
		{"LRE", "a\u202ab"},
		{"RLE", "a\u202bb"},
		{"PDF", "a\u202cb"},
		{"LRO", "a\u202db"},
		{"RLO", "\u202egpj.exe"},
		{"LRI", "a\u2066b"},
		{"RLI", "a\u2067b"},
		{"FSI", "a\u2068b"},
		{"PDI", "a\u2069b"},
		{"LRM", "a\u200eb"},
		{"RLM", "a\u200fb"},
		{"ALM", "a\u061cb"},
		{"ZWSP", "main\u200b"},
		{"ZWNJ", "a\u200cb"},
		{"ZWJ", "a\u200db"},
		{"BOM", "\ufeffmain"},
	}
	for _, field := range []string{"catalog", "schema", "volume", "prefix"} {
		for _, tt := range tests {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				values := []string{tt.value}
				if field == "prefix" {
					values = append(values, "images/"+tt.value, tt.value+"/images")
				}
				for _, v := range values {
					got := validationFields(t, baseFields().with(field, jsonString(v)).body())
					if want := map[string][]string{field: {msg}}; !reflect.DeepEqual(got, want) {
						t.Errorf("%s %q: validation errors = %v, want %v", field, v, got, want)
					}
				}
			})
		}
	}
	// Letters of right-to-left scripts and joiners' neighbours stay valid.
	for _, field := range []string{"catalog", "schema", "volume", "prefix"} {
		for _, v := range []string{"עברית", "العربية", "mixed_עב_ab", "a\u00adb"} {
			mustDecode(t, baseFields().with(field, jsonString(v)).body())
		}
	}
}
