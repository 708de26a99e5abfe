package storage_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The tests of this file pin what Django REST framework, under Label
// Studio's serializers, accepts and how it renders (see "How Label Studio's
// serializers treat input" in the shared reference).

// intField reads an integer field of a request.
func intField(t *testing.T, r storage.Request, field string) int64 {
	t.Helper()
	switch field {
	case "project":
		return r.Project
	case "request_timeout_s":
		return r.RequestTimeoutS
	case "stream_chunk_bytes":
		return r.StreamChunkBytes
	case "presign_ttl":
		return r.PresignTTL
	case "last_sync_count":
		if r.LastSyncCount == nil {
			t.Fatal("last_sync_count = nil")
		}
		return *r.LastSyncCount
	}
	t.Fatalf("no integer field %s", field)
	return 0
}

func TestDecodeRequestIntegersAsDRFReadsThem(t *testing.T) {
	accepted := []struct {
		field, raw string
		want       int64
	}{
		{"request_timeout_s", `"1"`, 1},
		{"request_timeout_s", `" 5 "`, 5},
		{"request_timeout_s", `"1.0"`, 1},
		{"request_timeout_s", `1.0`, 1},
		{"request_timeout_s", `1E1`, 10},
		{"request_timeout_s", `"5."`, 5},
		{"request_timeout_s", `"3.000 "`, 3},
		{"request_timeout_s", `"\t4\n"`, 4},
		{"request_timeout_s", `"+7"`, 7},
		{"request_timeout_s", `"1_0"`, 10}, // Python's int() reads underscores
		{"request_timeout_s", `"0015"`, 15},
		{"stream_chunk_bytes", `"2048"`, 2048},
		{"stream_chunk_bytes", `2048.0`, 2048},
		{"presign_ttl", `"60"`, 60},
		{"presign_ttl", `" 60.0 "`, 60},
		// A PositiveSmallIntegerField on PostgreSQL: 0 to 32767.
		{"presign_ttl", `0`, 0},
		{"presign_ttl", `32767`, 32767},
		{"last_sync_count", `"0"`, 0},
		{"last_sync_count", `"2147483647"`, 2147483647},
		{"last_sync_count", `"5.0"`, 5},
		{"last_sync_count", `"-0"`, 0},
		{"project", `"1"`, 1},
		{"project", `" 5 "`, 5},
		{"project", `"+3"`, 3},
		{"project", `1.0`, 1},
		// Django's int() truncates a float pk.
		{"project", `1.5`, 1},
		{"project", `7.99`, 7},
		{"project", `"9223372036854775807"`, 9223372036854775807},
	}
	for _, c := range accepted {
		t.Run("ok/"+c.field+"="+c.raw, func(t *testing.T) {
			req := mustDecode(t, baseFields().with(c.field, c.raw).body())
			if got := intField(t, req, c.field); got != c.want {
				t.Fatalf("%s = %d, want %d", c.field, got, c.want)
			}
		})
	}

	const pkType = "Incorrect type. Expected pk value, received "
	refused := []struct {
		field, raw, msg string
	}{
		{"request_timeout_s", `"1.5"`, msgInteger},
		{"request_timeout_s", `"1.01"`, msgInteger},
		{"request_timeout_s", `"abc"`, msgInteger},
		{"request_timeout_s", `""`, msgInteger},
		{"request_timeout_s", `" "`, msgInteger},
		{"request_timeout_s", `".0"`, msgInteger},
		{"request_timeout_s", `"1e1"`, msgInteger},
		{"request_timeout_s", `"0x10"`, msgInteger},
		{"request_timeout_s", `"1 0"`, msgInteger},
		{"request_timeout_s", `"- 1"`, msgInteger},
		{"request_timeout_s", `"1__0"`, msgInteger},
		{"request_timeout_s", `"_1"`, msgInteger},
		{"request_timeout_s", `true`, msgInteger},
		{"request_timeout_s", `false`, msgInteger},
		{"request_timeout_s", `[1]`, msgInteger},
		{"request_timeout_s", `{"n": 1}`, msgInteger},
		{"request_timeout_s", `"0"`, "Ensure this value is greater than or equal to 1."},
		{"request_timeout_s", `"99999999999999999999999"`, "Ensure this value is less than or equal to"},
		{"request_timeout_s", `"-99999999999999999999999"`, "Ensure this value is greater than or equal to 1."},
		// Python's str() writes 1e16 as "1e+16", which int() refuses.
		{"stream_chunk_bytes", `1e16`, msgInteger},
		{"stream_chunk_bytes", `"1024.5"`, msgInteger},
		{"presign_ttl", `"-1"`, "Ensure this value is greater than or equal to 0."},
		{"presign_ttl", `32768`, "Ensure this value is less than or equal to 32767."},
		{"last_sync_count", `"-1"`, "Ensure this value is greater than or equal to 0."},
		{"last_sync_count", `"2147483648"`, "Ensure this value is less than or equal to 2147483647."},
		{"last_sync_count", jsonString(strings.Repeat("1", 1001)), "String value too large."},
		{"project", `"1.0"`, pkType + "str."}, // a pk is read by int() alone
		{"project", `"abc"`, pkType + "str."},
		{"project", `" "`, pkType + "str."},
		{"project", `""`, msgNull},
		{"project", `true`, pkType + "bool."},
		{"project", `[1]`, pkType + "list."},
		{"project", `{"id": 1}`, pkType + "dict."},
		{"project", `"1.5"`, pkType + "str."},
		{"project", `0.5`, `Invalid pk "0.5" - object does not exist.`},
		{"project", `1e400`, pkType + "float."},
		{"project", `0`, `Invalid pk "0" - object does not exist.`},
		{"project", `"-1"`, `Invalid pk "-1" - object does not exist.`},
		{"project", `-1.0`, `Invalid pk "-1.0" - object does not exist.`},
		{"project", `"9223372036854775808"`, `Invalid pk "9223372036854775808" - object does not exist.`},
	}
	for _, c := range refused {
		t.Run("refused/"+c.field+"="+c.raw, func(t *testing.T) {
			wantOnly(t, validationFields(t, baseFields().with(c.field, c.raw).body()), c.field, c.msg)
		})
	}
}

func TestDecodeRequestBooleansAsDRFReadsThem(t *testing.T) {
	boolFields := []string{"recursive_scan", "use_blob_urls", "verify_tls", "presign", "synchronizable"}
	get := func(r storage.Request, field string) bool {
		return map[string]bool{
			"recursive_scan": r.RecursiveScan, "use_blob_urls": r.UseBlobURLs, "verify_tls": r.VerifyTLS,
			"presign": r.Presign, "synchronizable": r.Synchronizable,
		}[field]
	}
	spellings := map[bool][]string{
		true: {`true`, `1`, `1.0`, `1e0`, `"true"`, `"True"`, `"TRUE"`, `"t"`, `"T"`, `"yes"`, `"Yes"`, `"YES"`,
			`"y"`, `"Y"`, `"on"`, `"On"`, `"ON"`, `"1"`},
		false: {`false`, `0`, `0.0`, `-0`, `"false"`, `"False"`, `"FALSE"`, `"f"`, `"F"`, `"no"`, `"No"`, `"NO"`,
			`"n"`, `"N"`, `"off"`, `"Off"`, `"OFF"`, `"0"`},
	}
	refused := []string{`2`, `-1`, `0.5`, `"maybe"`, `"tRUE"`, `"yES"`, `" true"`, `"true "`, `"1.0"`,
		`"0.0"`, `""`, `"null"`, `"None"`, `[]`, `[true]`, `{}`}
	for _, field := range boolFields {
		for want, raws := range spellings {
			for _, raw := range raws {
				// Send the opposite of the default too, so a spelling that is
				// ignored cannot pass.
				t.Run(field+"="+raw, func(t *testing.T) {
					if got := get(mustDecode(t, baseFields().with(field, raw).body()), field); got != want {
						t.Fatalf("%s %s decoded as %v, want %v", field, raw, got, want)
					}
				})
			}
		}
		for _, raw := range refused {
			t.Run(field+"/refused="+raw, func(t *testing.T) {
				wantOnly(t, validationFields(t, baseFields().with(field, raw).body()), field, msgBoolean)
			})
		}
	}
}

func TestDecodeRequestNumbersAsText(t *testing.T) {
	// Python's str() of the number Python's json module reads.
	texts := []struct{ raw, want string }{
		{`5`, "5"},
		{`-7`, "-7"},
		{`-0`, "0"},
		{`1.5`, "1.5"},
		{`1.50`, "1.5"},
		{`2.0`, "2.0"},
		{`-0.0`, "-0.0"},
		{`1e2`, "100.0"},
		{`1E+2`, "100.0"},
		{`0.0001`, "0.0001"},
		{`0.00001`, "1e-05"},
		{`1.5e-7`, "1.5e-07"},
		{`123456789012345.6`, "123456789012345.6"},
		{`1e15`, "1000000000000000.0"},
		{`1e16`, "1e+16"},
		{`1.25e100`, "1.25e+100"},
		{`0.1`, "0.1"},
		{`12345678901234567890123`, "12345678901234567890123"},
		{`1e400`, "inf"},
	}
	textFields := map[string]func(storage.Request) *string{
		"title":         func(r storage.Request) *string { return r.Title },
		"description":   func(r storage.Request) *string { return r.Description },
		"regex_filter":  func(r storage.Request) *string { return r.RegexFilter },
		"last_sync_job": func(r storage.Request) *string { return r.LastSyncJob },
		"traceback":     func(r storage.Request) *string { return r.Traceback },
		"client_id":     func(r storage.Request) *string { return r.ClientID },
		"tenant_id":     func(r storage.Request) *string { return r.TenantID },
	}
	for field, get := range textFields {
		for _, c := range texts {
			t.Run(field+"="+c.raw, func(t *testing.T) {
				got := get(mustDecode(t, baseFields().with(field, c.raw).body()))
				if got == nil || *got != c.want {
					t.Fatalf("%s %s = %v, want %q", field, c.raw, deref(got), c.want)
				}
			})
		}
	}

	// Names, prefix and the secrets take numbers as text too, and keep their
	// own rules after that.
	others := []struct {
		field, raw string
		get        func(storage.Request) string
		want       string
	}{
		{"catalog", `42`, func(r storage.Request) string { return r.Catalog }, "42"},
		{"schema", `1.5`, func(r storage.Request) string { return r.Schema }, "1.5"},
		{"volume", `7`, func(r storage.Request) string { return r.Volume }, "7"},
		{"prefix", `2025`, func(r storage.Request) string { return deref(r.Prefix) }, "2025"},
		{"token", `12345`, func(r storage.Request) string { return r.Secrets.Token }, "12345"},
		{"client_secret", `9.5`, func(r storage.Request) string { return r.Secrets.ClientSecret }, "9.5"},
	}
	for _, c := range others {
		t.Run(c.field+"="+c.raw, func(t *testing.T) {
			if got := c.get(mustDecode(t, baseFields().with(c.field, c.raw).body())); got != c.want {
				t.Fatalf("%s %s = %q, want %q", c.field, c.raw, got, c.want)
			}
		})
	}
	t.Run("host=5", func(t *testing.T) {
		got := validationFields(t, baseFields().with("host", `5`).body())
		wantOnly(t, got, "host", "Enter a valid workspace URL")
	})

	// Booleans, lists and objects stay refused, secrets included, and no
	// message repeats what was sent.
	for _, field := range []string{"title", "description", "regex_filter", "last_sync_job", "traceback",
		"prefix", "catalog", "schema", "volume", "host", "token", "client_secret", "client_id", "tenant_id"} {
		for _, raw := range []string{`true`, `false`, `["` + testToken + `"]`, `{"v": "` + testToken + `"}`} {
			t.Run(field+"/refused="+raw, func(t *testing.T) {
				got := validationFields(t, baseFields().with(field, raw).body())
				wantOnly(t, got, field, msgString)
				if got[field][0] != msgString {
					t.Fatalf("%s error = %q, want exactly %q", field, got[field][0], msgString)
				}
			})
		}
	}
}

func TestDecodeRequestChoicesNameAnyValue(t *testing.T) {
	cases := []struct{ field, raw, shown string }{
		{"status", `3`, "3"},
		{"status", `1.0`, "1.0"},
		{"status", `true`, "True"},
		{"status", `false`, "False"},
		{"status", `["queued"]`, "['queued']"},
		{"status", `{"a": 1, "b": [null, "it's"]}`, `{'a': 1, 'b': [None, "it's"]}`},
		{"auth_type", `1`, "1"},
		{"auth_type", `true`, "True"},
		{"auth_type", `[]`, "[]"},
	}
	for _, c := range cases {
		t.Run(c.field+"="+c.raw, func(t *testing.T) {
			got := validationFields(t, baseFields().with(c.field, c.raw).body())
			want := map[string][]string{c.field: {fmt.Sprintf("%q is not a valid choice.", c.shown)}}
			if c.shown == `{'a': 1, 'b': [None, "it's"]}` {
				want[c.field] = []string{`"{'a': 1, 'b': [None, "it's"]}" is not a valid choice.`}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("validation errors = %q, want %q", got, want)
			}
		})
	}
}

func TestDecodeRequestLastSyncAsDRFReadsIt(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, us int) time.Time {
		return time.Date(y, mo, d, h, mi, s, us*1000, time.UTC)
	}
	accepted := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-28T10:00:00+0100", utc(2026, 11, 28, 9, 0, 0, 0)},
		{"2026-11-28T10:00:00-0530", utc(2026, 11, 28, 15, 30, 0, 0)},
		{"2026-11-28T10:00:00+01", utc(2026, 11, 28, 9, 0, 0, 0)},
		{"2026-11-28T10:00-03", utc(2026, 11, 28, 13, 0, 0, 0)},
		{"20261128T100000Z", utc(2026, 11, 28, 10, 0, 0, 0)},
		{"20261128T100000", utc(2026, 11, 28, 10, 0, 0, 0)},
		{"20261128T1000+0100", utc(2026, 11, 28, 9, 0, 0, 0)},
		{"20261128T100000.25Z", utc(2026, 11, 28, 10, 0, 0, 250000)},
		{"20261128", utc(2026, 11, 28, 0, 0, 0, 0)},
		{"2026-11-28", utc(2026, 11, 28, 0, 0, 0, 0)},
		{"2026-11-28T10", utc(2026, 11, 28, 10, 0, 0, 0)},
		{"2026-11-28T10:00:00,5Z", utc(2026, 11, 28, 10, 0, 0, 500000)},
		{"2026-11-28T10:00:00.1234567891Z", utc(2026, 11, 28, 10, 0, 0, 123456)},
		{"2026-11-28T10:00:00+01:00:30", utc(2026, 11, 28, 8, 59, 30, 0)},
		// Django's own pattern, tried after fromisoformat.
		{"2026-11-28 10:00:00 +01:00", utc(2026, 11, 28, 9, 0, 0, 0)},
		{"2026-1-5T8:05", utc(2026, 1, 5, 8, 5, 0, 0)},
		{"2026-11-28T10:00:00\n", utc(2026, 11, 28, 10, 0, 0, 0)},
	}
	for _, c := range accepted {
		t.Run("ok/"+c.in, func(t *testing.T) {
			req := mustDecode(t, baseFields().with("last_sync", jsonString(c.in)).body())
			if req.LastSync == nil || !req.LastSync.Equal(c.want) || req.LastSync.Location() != time.UTC {
				t.Fatalf("last_sync = %v, want %v in UTC", req.LastSync, c.want)
			}
		})
	}
	refused := []string{
		"2026-11-28T", "2026-11-28T10:", "2026-11-28T10:00:", "2026-11-28T10:00:00.",
		"2026-11-28T1000:00", "2026-11-28T10:0000", "2026-11-28T24:00", "2026-11-28T10:00+24",
		"2026-11-28T10:00:00+2400", "2026-11-28T10:00:00Zjunk", "2026-11-28T10:00:00+1",
		"2026-11-2", "2026-11-28T10:00:00:00", "2026-02-29", "20261328", "2026112",
	}
	for _, in := range refused {
		t.Run("refused/"+in, func(t *testing.T) {
			wantOnly(t, validationFields(t, baseFields().with("last_sync", jsonString(in)).body()), "last_sync", msgDatetime)
		})
	}
	// Wrong types get the same message as unparsable text.
	for _, raw := range []string{`1764028681`, `1.5`, `true`, `["2026-11-28T10:00:00Z"]`, `{}`} {
		t.Run("wrong type/"+raw, func(t *testing.T) {
			wantOnly(t, validationFields(t, baseFields().with("last_sync", raw).body()), "last_sync", msgDatetime)
		})
	}
}

func TestMetaIsAnObjectUnlessGiven(t *testing.T) {
	rendered := func(t *testing.T, s storage.Settings) string {
		t.Helper()
		out, err := json.Marshal(storage.Storage{Settings: s})
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		return string(got["meta"])
	}
	cases := []struct {
		name         string
		f            fields
		decoded, out string
	}{
		{"left out", baseFields(), `{}`, `{}`},
		{"null", baseFields().with("meta", "null"), `null`, `null`},
		{"empty object", baseFields().with("meta", "{}"), `{}`, `{}`},
		{"list", baseFields().with("meta", "[1]"), `[1]`, `[1]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := mustDecode(t, c.f.body())
			if string(req.Meta) != c.decoded {
				t.Errorf("decoded meta = %s, want %s", req.Meta, c.decoded)
			}
			if got := rendered(t, req.Settings); got != c.out {
				t.Errorf("rendered meta = %s, want %s", got, c.out)
			}
		})
	}
	t.Run("stored without meta", func(t *testing.T) {
		if got := rendered(t, storage.Settings{}); got != `{}` {
			t.Errorf("rendered meta = %s, want {}", got)
		}
	})
}

func TestStorageRendersTimesAsDRF(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	cases := []struct {
		name                string
		created             time.Time
		lastSync            *time.Time
		wantCreated         string
		wantLastSync        string // JSON
		wantSettingsCreated string
	}{
		{"milliseconds", time.Date(2025, 11, 24, 22, 58, 1, 123000000, time.UTC), nil,
			"2025-11-24T22:58:01.123000Z", `null`, ""},
		{"whole second", time.Date(2025, 11, 24, 22, 58, 1, 0, time.UTC),
			ptr(time.Date(2025, 11, 20, 8, 15, 0, 0, time.UTC)),
			"2025-11-24T22:58:01.000000Z", `"2025-11-20T08:15:00Z"`, ""},
		{"microseconds", time.Date(2025, 11, 24, 22, 58, 1, 123456000, time.UTC),
			ptr(time.Date(2025, 11, 20, 8, 15, 0, 120000000, time.UTC)),
			"2025-11-24T22:58:01.123456Z", `"2025-11-20T08:15:00.120000Z"`, ""},
		{"nanoseconds are dropped", time.Date(2025, 11, 24, 22, 58, 1, 999999999, time.UTC),
			ptr(time.Date(2025, 11, 20, 8, 15, 0, 999, time.UTC)),
			"2025-11-24T22:58:01.999999Z", `"2025-11-20T08:15:00Z"`, ""},
		{"other zones in UTC", time.Date(2025, 11, 25, 0, 58, 1, 5000, plus2),
			ptr(time.Date(2025, 11, 20, 10, 15, 0, 1000, plus2)),
			"2025-11-24T22:58:01.000005Z", `"2025-11-20T08:15:00.000001Z"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := storage.Storage{ID: 7, Type: storage.StorageType, CreatedAt: c.created, Settings: storage.Settings{LastSync: c.lastSync}}
			out, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if want := jsonString(c.wantCreated); string(got["created_at"]) != want {
				t.Errorf("created_at = %s, want %s", got["created_at"], want)
			}
			if string(got["last_sync"]) != c.wantLastSync {
				t.Errorf("last_sync = %s, want %s", got["last_sync"], c.wantLastSync)
			}
			// A storage inside a list and behind a pointer renders the same.
			for _, v := range []any{[]storage.Storage{s}, &s, storage.Record{Storage: s, SecretARN: "arn:x"}} {
				again, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(again, []byte(`"created_at":`+jsonString(c.wantCreated))) {
					t.Errorf("%T renders %s", v, again)
				}
			}
		})
	}
}

// The storage renders its fields in the order of Label Studio's serializer,
// id first; the secrets never.
func TestStorageRendersFieldsInSerializerOrder(t *testing.T) {
	req := mustDecode(t, baseFields().with("client_secret", jsonString(testClientSecret)).body())
	out, err := json.Marshal(storage.Storage{ID: 3, Type: storage.StorageType, Settings: req.Settings})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "type", "synchronizable", "presign", "last_sync", "last_sync_count", "last_sync_job",
		"status", "traceback", "meta", "title", "description", "created_at", "project", "host", "catalog",
		"schema", "volume", "prefix", "regex_filter", "auth_type", "client_id", "tenant_id", "recursive_scan",
		"use_blob_urls", "verify_tls", "request_timeout_s", "stream_chunk_bytes", "presign_ttl"}
	if got := objectKeys(t, out); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys = %v\nwant %v", got, want)
	}
}

// objectKeys lists the keys of a JSON object in the order they come.
func objectKeys(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not a JSON object", obj)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestValidationErrorNamesFieldsInSerializerOrder(t *testing.T) {
	cases := []struct {
		name   string
		fields []string
		want   string
	}{
		{"empty request", nil, "project, host, catalog, schema, volume, token"},
		{"serializer order", []string{"presign_ttl", "volume", "type", "token", "last_sync", "meta"},
			"type, last_sync, meta, volume, token, presign_ttl"},
		{"others after, non_field_errors last", []string{"non_field_errors", "limit", "id", "credentials_secret_id", "status"},
			"status, credentials_secret_id, id, limit, non_field_errors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.fields == nil {
				_, err = decode(t, []byte(`{}`))
			} else {
				verr := &storage.ValidationError{Fields: map[string][]string{}}
				for _, f := range c.fields {
					verr.Fields[f] = []string{"x"}
				}
				err = verr
			}
			if want := "invalid request: " + c.want; err == nil || err.Error() != want {
				t.Fatalf("Error() = %v, want %q", err, want)
			}
		})
	}
}

// Settings keep encoding/json's plain rendering, which the idempotency
// fingerprint hashes (embedded in a struct of its own), and the DynamoDB
// item of a storage keeps RFC 3339 times: neither goes through the
// storage's MarshalJSON.
func TestOtherRenderingsOfAStorageUnchanged(t *testing.T) {
	sync := time.Date(2025, 11, 20, 8, 15, 0, 120000000, time.UTC)
	created := time.Date(2025, 11, 24, 22, 58, 1, 123000000, time.UTC)
	settings := storage.Settings{Project: 1, Catalog: "main", LastSync: &sync}

	fingerprinted, err := json.Marshal(struct {
		storage.Settings
		HasToken bool `json:"has_token"`
	}{settings, true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"has_token":true`, `"last_sync":"2025-11-20T08:15:00.12Z"`, `"meta":null`, `"project":1,"host"`} {
		if !bytes.Contains(fingerprinted, []byte(want)) {
			t.Errorf("settings render %s, want %s in it", fingerprinted, want)
		}
	}

	item, err := attributevalue.MarshalMapWithOptions(storage.Storage{ID: 1, CreatedAt: created, Settings: settings},
		func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"created_at": "2025-11-24T22:58:01.123Z", "last_sync": "2025-11-20T08:15:00.12Z", "catalog": "main"} {
		if got, ok := item[name].(*types.AttributeValueMemberS); !ok || got.Value != want {
			t.Errorf("item[%s] = %#v, want %q", name, item[name], want)
		}
	}
}
