package apierror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestBodyJSON(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		detail     string
		fields     map[string][]string
		wantDetail string
		wantKeys   []string
	}{
		{"validation", 400, "Validation error", map[string][]string{"volume": {"This field is required."}},
			"Validation error", []string{"detail", "exc_info", "id", "status_code", "validation_errors", "version"}},
		{"not found", 404, "Not found.", nil,
			"Not found.", []string{"detail", "exc_info", "id", "status_code", "version"}},
		{"empty fields are omitted", 400, "Bad", map[string][]string{},
			"Bad", []string{"detail", "exc_info", "id", "status_code", "version"}},
		{"default detail", http.StatusMethodNotAllowed, "", nil,
			"Method Not Allowed", []string{"detail", "exc_info", "id", "status_code", "version"}},
		{"server error", 500, "", nil,
			"Internal Server Error", []string{"detail", "exc_info", "id", "status_code", "version"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := apierror.New(c.status, "2.0.1", c.detail, c.fields).JSON()
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(out, &raw); err != nil {
				t.Fatalf("not a JSON object: %v: %s", err, out)
			}
			keys := make([]string, 0, len(raw))
			for k := range raw {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if !reflect.DeepEqual(keys, c.wantKeys) {
				t.Fatalf("keys = %v, want %v", keys, c.wantKeys)
			}
			if string(raw["exc_info"]) != "null" {
				t.Errorf("exc_info = %s, want null", raw["exc_info"])
			}
			var b struct {
				ID               string              `json:"id"`
				StatusCode       int                 `json:"status_code"`
				Version          string              `json:"version"`
				Detail           string              `json:"detail"`
				ValidationErrors map[string][]string `json:"validation_errors"`
			}
			if err := json.Unmarshal(out, &b); err != nil {
				t.Fatal(err)
			}
			if !uuidRE.MatchString(b.ID) {
				t.Errorf("id = %q, want a random UUID", b.ID)
			}
			if b.StatusCode != c.status || b.Version != "2.0.1" || b.Detail != c.wantDetail {
				t.Errorf("status_code/version/detail = %d/%q/%q", b.StatusCode, b.Version, b.Detail)
			}
			if len(c.fields) > 0 && !reflect.DeepEqual(b.ValidationErrors, c.fields) {
				t.Errorf("validation_errors = %v, want %v", b.ValidationErrors, c.fields)
			}
		})
	}
}

func TestNewGivesEachErrorItsOwnID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := apierror.New(500, "v", "x", nil).ID
		if seen[id] {
			t.Fatalf("id %s repeated", id)
		}
		seen[id] = true
	}
}

func TestDetailIsEscapedJSON(t *testing.T) {
	detail := "Quote \" backslash \\ newline \n <tag> & ünïcode"
	out := apierror.New(400, "v", detail, map[string][]string{"non_field_errors": {detail}}).JSON()
	var b struct {
		Detail           string              `json:"detail"`
		ValidationErrors map[string][]string `json:"validation_errors"`
	}
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("not JSON: %v: %s", err, out)
	}
	if b.Detail != detail || b.ValidationErrors["non_field_errors"][0] != detail {
		t.Fatalf("detail did not survive: %q", b.Detail)
	}
}

// validationErrorKeys lists the keys of validation_errors in the order the
// body has them.
func validationErrorKeys(t *testing.T, body []byte) []string {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	dec := json.NewDecoder(bytes.NewReader(outer["validation_errors"]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("validation_errors = %s, want an object", outer["validation_errors"])
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

// Label Studio lists a request's problems in its serializer's field order,
// then the other keys, non_field_errors last; encoding/json would sort them.
func TestValidationErrorsInSerializerOrder(t *testing.T) {
	cases := []struct {
		name string
		keys []string // the wanted order
	}{
		{"required fields", []string{"project", "host", "catalog", "schema", "volume", "token"}},
		{"every request field", []string{"type", "synchronizable", "presign", "last_sync", "last_sync_count",
			"last_sync_job", "status", "traceback", "meta", "title", "description", "created_at", "project",
			"host", "catalog", "schema", "volume", "prefix", "regex_filter", "auth_type", "token", "client_id",
			"client_secret", "tenant_id", "recursive_scan", "use_blob_urls", "verify_tls", "request_timeout_s",
			"stream_chunk_bytes", "presign_ttl"}},
		{"other keys after", []string{"volume", "credentials_secret_id", "id", "limit", "non_field_errors"}},
		{"non_field_errors alone", []string{"non_field_errors"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields := map[string][]string{}
			for i, k := range c.keys {
				fields[k] = []string{fmt.Sprintf("message %d <&>", i)}
			}
			for _, body := range [][]byte{
				apierror.New(400, "v", "Validation error", fields).JSON(),
				apierror.FromError(&storage.ValidationError{Fields: fields}, "v").JSON(),
			} {
				if got := validationErrorKeys(t, body); !reflect.DeepEqual(got, c.keys) {
					t.Fatalf("validation_errors keys = %v\nwant %v", got, c.keys)
				}
				// The body still reads back as a map, into Body itself too.
				var b apierror.Body
				if err := json.Unmarshal(body, &b); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(map[string][]string(b.ValidationErrors), fields) {
					t.Fatalf("validation_errors = %v, want %v", b.ValidationErrors, fields)
				}
			}
		})
	}
}

// TestForCoversEveryKind: each kind of error answers with its kind's status
// and a detail of its own, never the internal error's text.
func TestForCoversEveryKind(t *testing.T) {
	examples := map[core.Kind]error{
		core.KindInternal:             errors.New("dynamodb: internal name"),
		core.KindMalformed:            fmt.Errorf("%w: expected a JSON object, got array", storage.ErrMalformed),
		core.KindTooLarge:             storage.ErrTooLarge,
		core.KindInvalid:              &storage.ValidationError{Fields: map[string][]string{"volume": {"This field is required."}}},
		core.KindForbidden:            &core.PermissionError{TokenID: "t", Project: 3},
		core.KindConnectionRefused:    &storage.ConnectionError{Reason: "volume_not_found", Message: "No such volume."},
		core.KindWorkspaceUnavailable: &storage.ConnectionError{Reason: storage.ReasonTimedOut, Message: "Timed out."},
		core.KindNotFound:             core.ErrNotFound,
		core.KindConflict:             core.ErrConflict,
		core.KindKeyReused:            core.ErrIdempotencyConflict,
		core.KindKeyOfDeletedStorage:  core.ErrKeyOfDeletedStorage,
		core.KindWrongFunction:        &core.WrongFunctionError{Operation: "update"},
		core.KindPersistence:          fmt.Errorf("%w: ThrottlingException", core.ErrPersistence),
		core.KindTimeout:              context.DeadlineExceeded,
		core.KindAccessUnavailable:    fmt.Errorf("%w: Label Studio is down", core.ErrAccessUnavailable),
		core.KindLinkRefused:          core.ErrLinkRefused,
		core.KindWorkspaceRefused:     core.ErrWorkspaceRefused,
		core.KindWorkspaceBusy:        core.ErrWorkspaceBusy,
		core.KindWorkspaceFailed:      core.ErrWorkspaceFailed,
		core.KindSyncUnavailable:      core.ErrSyncUnavailable,
		core.KindWebhookRefused:       core.ErrWebhookRefused,
	}
	details := map[string]core.Kind{}
	for _, kind := range core.Kinds() {
		t.Run(kind.String(), func(t *testing.T) {
			err, ok := examples[kind]
			if !ok {
				t.Fatalf("no example error of kind %s", kind)
			}
			if core.KindOf(err) != kind {
				t.Fatalf("the example is of kind %s", core.KindOf(err))
			}
			status, detail, _ := apierror.For(err)
			if status != kind.Status() || detail == "" || strings.Contains(detail, "dynamodb") {
				t.Errorf("For = %d %q, want status %d and a detail of the service's own", status, detail, kind.Status())
			}
			if other, taken := details[detail]; taken && kind != core.KindPersistence {
				t.Errorf("kinds %s and %s share the detail %q", kind, other, detail)
			}
			details[detail] = kind
		})
	}
}
