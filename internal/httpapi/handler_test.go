package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
	"github.com/lsdbx/databricks-storage/openapi"
)

const (
	testToken        = "dapi-TOKEN-must-never-leak-0123456789"
	testClientSecret = "CLIENT-SECRET-must-never-leak-9876543210"
	testVersion      = "1.2.3-test"
	createPath       = "/api/storages/databricks/"
	validatePath     = "/api/storages/databricks/validate"
	internalText     = "dynamodb: ResourceNotFoundException: table lsdbx-prod-storages arn:aws:dynamodb:us-east-1:123456789012"
)

var (
	patBody = `{"project": 1, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", ` +
		`"schema": "default", "volume": "landing", "token": "` + testToken + `"}`
	spBody = `{"project": 3, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", ` +
		`"schema": "default", "volume": "landing", "prefix": "/images/", "auth_type": "dbx_sp", "client_id": "sp-client", ` +
		`"client_secret": "` + testClientSecret + `", "title": "Landing", "meta": {"team": "vision"}, "last_sync": "2025-11-20T08:15:00Z"}`
	createdAt = time.Date(2025, 11, 24, 23, 58, 1, 123456000, time.UTC)
	uuidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// fakeWorkflow records what reaches it and answers as configured.
type fakeWorkflow struct {
	mu          sync.Mutex
	createErr   error
	validateErr error
	getErr      error
	replayed    bool
	creates     []storage.Request
	keys        []string
	validates   []storage.Request
}

func (w *fakeWorkflow) Create(_ context.Context, caller core.Caller, req storage.Request, key string) (core.Created, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.creates = append(w.creates, req)
	w.keys = append(w.keys, key)
	if w.createErr != nil {
		return core.Created{}, w.createErr
	}
	return core.Created{
		Storage:  storage.Storage{ID: 7, Type: storage.StorageType, CreatedAt: createdAt, Settings: req.Settings},
		Replayed: w.replayed,
	}, nil
}

func (w *fakeWorkflow) ValidateExisting(context.Context, core.Caller, int64, storage.Update) error {
	return w.validateErr
}

func (w *fakeWorkflow) Get(_ context.Context, _ core.Caller, id int64) (storage.Storage, error) {
	return storage.Storage{ID: id, Type: storage.StorageType, CreatedAt: createdAt}, w.getErr
}

func (w *fakeWorkflow) List(context.Context, core.Caller, int64, string) ([]storage.Storage, error) {
	return nil, nil
}

func (w *fakeWorkflow) Update(_ context.Context, _ core.Caller, id int64, _ storage.Update) (storage.Storage, error) {
	return storage.Storage{ID: id, Type: storage.StorageType, CreatedAt: createdAt}, w.getErr
}

func (w *fakeWorkflow) Delete(context.Context, core.Caller, int64) error { return w.getErr }

func (w *fakeWorkflow) RotateFileKey(context.Context, core.Caller, int64) error { return w.getErr }

func (w *fakeWorkflow) Sync(_ context.Context, _ core.Caller, id int64) (storage.Storage, error) {
	return storage.Storage{ID: id, Type: storage.StorageType, CreatedAt: createdAt, Settings: storage.Settings{Status: "queued"}}, w.getErr
}

func (w *fakeWorkflow) PreviewFiles(context.Context, core.Caller, storage.Request, int) (storage.FileListing, error) {
	return storage.FileListing{}, w.getErr
}

func (w *fakeWorkflow) PreviewStoredFiles(context.Context, core.Caller, int64, storage.Update, int) (storage.FileListing, error) {
	return storage.FileListing{}, w.getErr
}

func (w *fakeWorkflow) Validate(_ context.Context, caller core.Caller, req storage.Request) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.validates = append(w.validates, req)
	return w.validateErr
}

type harness struct {
	wf   *fakeWorkflow
	logs *bytes.Buffer
	h    *httpapi.Handler
}

func newHarness() *harness {
	wf := &fakeWorkflow{}
	logs := &bytes.Buffer{}
	return &harness{
		wf:   wf,
		logs: logs,
		h: &httpapi.Handler{
			Auth:    allowAll{},
			Creator: wf,
			Manager: wf,
			Decoder: storage.Decoder{},
			OpenAPI: openapi.Document,
			Version: testVersion,
			Logger:  logging.New(logs, "DEBUG"),
		},
	}
}

// response is what the handler wrote, with one value per header.
type response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

func (h *harness) do(method, path string, headers map[string]string, body string) response {
	return h.doQuery(method, path, "", headers, body)
}

func (h *harness) doQuery(method, path, query string, headers map[string]string, body string) response {
	if headers == nil {
		headers = map[string]string{"content-type": "application/json"}
	}
	// Built by hand, as the Lambda adapter does, so that paths no client
	// would send (empty, unescaped) reach the handler too.
	r := (&http.Request{
		Method: method, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(body)),
	}).WithContext(logging.WithRequestID(context.Background(), "req-123"))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	resp := response{Status: w.Code, Headers: map[string]string{}, Body: w.Body.Bytes()}
	for k := range w.Header() {
		resp.Headers[k] = w.Header().Get(k)
	}
	return resp
}

func (h *harness) post(path, body string) response {
	return h.do(http.MethodPost, path, nil, body)
}

// errorBody checks Label Studio's error envelope and returns it.
type errorBody struct {
	ID               string              `json:"id"`
	StatusCode       int                 `json:"status_code"`
	Version          string              `json:"version"`
	Detail           string              `json:"detail"`
	ExcInfo          *string             `json:"exc_info"`
	ValidationErrors map[string][]string `json:"validation_errors"`
}

func checkError(t *testing.T, resp response, status int, withFields bool) errorBody {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status = %d, want %d; body %s", resp.Status, status, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &keys); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %s", err, resp.Body)
	}
	want := []string{"detail", "exc_info", "id", "status_code", "version"}
	if withFields {
		want = append(want, "validation_errors")
		sort.Strings(want)
	}
	if got := sortedKeys(keys); !reflect.DeepEqual(got, want) {
		t.Fatalf("error body keys = %v, want %v; body %s", got, want, resp.Body)
	}
	if string(keys["exc_info"]) != "null" {
		t.Errorf("exc_info = %s, want null", keys["exc_info"])
	}
	var b errorBody
	if err := json.Unmarshal(resp.Body, &b); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if !uuidRE.MatchString(b.ID) {
		t.Errorf("id = %q, want a UUID", b.ID)
	}
	if b.StatusCode != status {
		t.Errorf("status_code = %d, want %d", b.StatusCode, status)
	}
	if b.Version != testVersion {
		t.Errorf("version = %q, want %q", b.Version, testVersion)
	}
	if strings.TrimSpace(b.Detail) == "" {
		t.Errorf("detail is empty")
	}
	if withFields && len(b.ValidationErrors) == 0 {
		t.Errorf("validation_errors is empty")
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestRouting(t *testing.T) {
	cases := []struct {
		method, path string
		status       int
		wantCreate   bool
		wantValidate bool
		allow        string
	}{
		{"POST", "/api/storages/databricks/", 201, true, false, ""},
		{"POST", "/api/storages/databricks", 201, true, false, ""},
		{"POST", "/api/storages/databricks/validate", 200, false, true, ""},
		{"POST", "/api/storages/databricks/validate/", 200, false, true, ""},
		{"GET", "/api/storages/databricks/?project=1", 200, false, false, ""},
		{"GET", "/api/storages/databricks/", 400, false, false, ""},
		{"GET", "/api/storages/databricks/1", 200, false, false, ""},
		{"GET", "/api/storages/databricks/1/", 200, false, false, ""},
		{"PATCH", "/api/storages/databricks/1", 200, false, false, ""},
		{"PUT", "/api/storages/databricks/1", 200, false, false, ""},
		{"DELETE", "/api/storages/databricks/1", 204, false, false, ""},
		{"POST", "/api/storages/databricks/files", 200, false, false, ""},
		{"PUT", "/api/storages/databricks/", 405, false, false, "GET, POST, HEAD"},
		{"DELETE", "/api/storages/databricks/", 405, false, false, "GET, POST, HEAD"},
		{"PATCH", "/api/storages/databricks", 405, false, false, "GET, POST, HEAD"},
		{"GET", "/api/storages/databricks/validate", 405, false, false, "POST"},
		{"GET", "/api/storages/databricks/files", 405, false, false, "POST"},
		{"POST", "/api/storages/databricks/1", 405, false, false, "GET, PATCH, PUT, DELETE, HEAD"},
		{"POST", "/api/storages/s3/", 404, false, false, ""},
		{"GET", "/api/storages/databricks/0", 404, false, false, ""},
		{"GET", "/api/storages/databricks/-1", 404, false, false, ""},
		{"GET", "/api/storages/databricks/+1", 404, false, false, ""},
		{"GET", "/api/storages/databricks/abc", 404, false, false, ""},
		{"GET", "/api/storages/databricks/99999999999999999999", 404, false, false, ""},
		{"POST", "/api/storages/databricks/1/sync", 200, false, false, ""},
		{"GET", "/api/storages/databricks/1/sync", 405, false, false, "POST"},
		{"POST", "/api/storages/databricks/0/sync", 404, false, false, ""},
		{"POST", "/api/storages/databricksx", 404, false, false, ""},
		{"POST", "/api/storages/databricks//", 404, false, false, ""},
		{"POST", "/API/storages/databricks/", 404, false, false, ""},
		{"POST", "/", 404, false, false, ""},
		{"POST", "", 404, false, false, ""},
		{"GET", "/api/storages/s3/", 404, false, false, ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			h := newHarness()
			path, query, _ := strings.Cut(c.path, "?")
			resp := h.doQuery(c.method, path, query, nil, patBody)
			if resp.Status != c.status {
				t.Fatalf("status = %d, want %d; body %s", resp.Status, c.status, resp.Body)
			}
			if got := len(h.wf.creates) == 1; got != c.wantCreate || len(h.wf.creates) > 1 {
				t.Errorf("Create called %d times", len(h.wf.creates))
			}
			if got := len(h.wf.validates) == 1; got != c.wantValidate || len(h.wf.validates) > 1 {
				t.Errorf("Validate called %d times", len(h.wf.validates))
			}
			switch c.status {
			case 200:
				if c.wantValidate && string(resp.Body) != "{}" {
					t.Errorf("validate body = %s, want {}", resp.Body)
				}
				if ct := resp.Headers["Content-Type"]; ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			case 404:
				if b := checkError(t, resp, 404, false); b.Detail != "Not found." {
					t.Errorf("detail = %q, want \"Not found.\"", b.Detail)
				}
			case 405:
				b := checkError(t, resp, 405, false)
				if resp.Headers["Allow"] != c.allow {
					t.Errorf("Allow = %q, want %q", resp.Headers["Allow"], c.allow)
				}
				if !strings.Contains(b.Detail, c.method) {
					t.Errorf("detail %q does not name the method", b.Detail)
				}
			}
		})
	}
}

func TestContentType(t *testing.T) {
	cases := []struct {
		headers map[string]string
		status  int
	}{
		{map[string]string{"content-type": "application/json"}, 201},
		{map[string]string{"content-type": "application/json; charset=utf-8"}, 201},
		{map[string]string{"content-type": "Application/JSON"}, 201},
		{map[string]string{"content-type": "application/vnd.api+json"}, 201},
		{map[string]string{"Content-Type": "application/json"}, 201},
		{map[string]string{}, 415},
		{nil, 415},
		{map[string]string{"content-type": "text/plain"}, 415},
		{map[string]string{"content-type": "text/plain; charset=utf-8"}, 415},
		{map[string]string{"content-type": "application/x-www-form-urlencoded"}, 415},
		{map[string]string{"content-type": "multipart/form-data; boundary=x"}, 415},
		{map[string]string{"content-type": "application/jsonx"}, 415},
		{map[string]string{"content-type": "json"}, 415},
		{map[string]string{"Content-Type": "text/plain"}, 415},
		{map[string]string{"CONTENT-TYPE": "text/plain"}, 415},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.headers), func(t *testing.T) {
			h := newHarness()
			headers := c.headers
			if headers == nil {
				headers = map[string]string{"accept": "application/json"}
			}
			resp := h.do("POST", createPath, headers, patBody)
			if c.status == 415 {
				b := checkError(t, resp, 415, false)
				if !strings.Contains(b.Detail, "application/json") {
					t.Errorf("detail %q does not say what to send", b.Detail)
				}
				if len(h.wf.creates) != 0 {
					t.Errorf("Create called for an unsupported media type")
				}
				return
			}
			if resp.Status != c.status {
				t.Fatalf("status = %d, want %d; body %s", resp.Status, c.status, resp.Body)
			}
		})
	}
}

// paddedBody returns a valid create body of exactly n bytes.
func paddedBody(t *testing.T, n int) string {
	t.Helper()
	head := `{"project": 1, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", "schema": "default", "volume": "landing", "token": "t", "description": "`
	tail := `"}`
	pad := n - len(head) - len(tail)
	if pad < 0 {
		t.Fatalf("cannot pad to %d bytes", n)
	}
	body := head + strings.Repeat("d", pad) + tail
	if len(body) != n {
		t.Fatalf("padded body is %d bytes, want %d", len(body), n)
	}
	return body
}

func TestBodySizeLimit(t *testing.T) {
	const limit = 64 * 1024
	if storage.MaxRequestBytes != limit {
		t.Fatalf("MaxRequestBytes = %d, want 64 KiB", storage.MaxRequestBytes)
	}
	h := newHarness()
	if resp := h.post(createPath, paddedBody(t, limit)); resp.Status != 201 {
		t.Fatalf("exactly 64 KiB: status %d, want 201; body %.300s", resp.Status, resp.Body)
	}
	for _, n := range []int{limit + 1, 10 * limit} {
		h := newHarness()
		resp := h.post(createPath, paddedBody(t, n))
		b := checkError(t, resp, 413, false)
		if !strings.Contains(b.Detail, "65536") {
			t.Errorf("detail %q does not state the limit", b.Detail)
		}
		if len(h.wf.creates) != 0 {
			t.Errorf("Create called for an oversized body")
		}
	}
	// The limit applies to validate too, and to bodies that are not even JSON.
	h = newHarness()
	checkError(t, h.post(validatePath, strings.Repeat("x", limit+1)), 413, false)
}

func TestMalformedBodies(t *testing.T) {
	cases := []struct {
		name, body, mention string
	}{
		{"not JSON", "catalog=main&schema=default", "JSON"},
		{"truncated", `{"catalog": "main",`, "JSON"},
		{"array", "[1,2,3]", "expected a JSON object, got array"},
		{"string", `"hello"`, "expected a JSON object"},
		{"null", "null", "expected a JSON object"},
		{"empty", "", "empty"},
		{"trailing garbage", patBody + " }", "after the JSON object"},
		{"secret in a broken body", `{"token": "` + testToken, "JSON"},
	}
	for _, path := range []string{createPath, validatePath} {
		for _, c := range cases {
			t.Run(path+"/"+c.name, func(t *testing.T) {
				h := newHarness()
				b := checkError(t, h.post(path, c.body), 400, false)
				if b.Detail == "Validation error" || !strings.Contains(b.Detail, c.mention) {
					t.Errorf("detail = %q, want a clear message mentioning %q", b.Detail, c.mention)
				}
				if strings.Contains(b.Detail, testToken) {
					t.Errorf("detail echoes the body: %q", b.Detail)
				}
				if len(h.wf.creates)+len(h.wf.validates) != 0 {
					t.Errorf("workflow called for a malformed body")
				}
			})
		}
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name string
		body string
		want map[string][]string
	}{
		{
			name: "empty object",
			body: `{}`,
			want: map[string][]string{
				"catalog": {"This field is required."}, "schema": {"This field is required."},
				"volume": {"This field is required."}, "host": {"This field is required."},
				"project": {"This field is required."},
				"token":   {`This field is required when auth_type is "pat".`},
			},
		},
		{
			name: "dbx_sp without client_secret",
			body: `{"project": 1, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", "schema": "default", "volume": "landing", "auth_type": "dbx_sp", "client_id": "c"}`,
			want: map[string][]string{"client_secret": {`This field is required when auth_type is "dbx_sp".`}},
		},
	}
	for _, path := range []string{createPath, validatePath} {
		for _, c := range cases {
			t.Run(path+"/"+c.name, func(t *testing.T) {
				h := newHarness()
				b := checkError(t, h.post(path, c.body), 400, true)
				if b.Detail != "Validation error" {
					t.Errorf("detail = %q, want \"Validation error\"", b.Detail)
				}
				if !reflect.DeepEqual(b.ValidationErrors, c.want) {
					t.Errorf("validation_errors = %v, want %v", b.ValidationErrors, c.want)
				}
				if len(h.wf.creates)+len(h.wf.validates) != 0 {
					t.Errorf("workflow called for an invalid request")
				}
			})
		}
	}
}

func TestConnectionErrors(t *testing.T) {
	ce := &storage.ConnectionError{
		Reason:  "volume_missing",
		Message: "The volume main.default.landing does not exist in workspace https://dbc-a1b2c3d4-e5f6.cloud.databricks.com.",
		Err:     errors.New("GET /api/2.0/fs/directories/Volumes/main/default/landing: 404"),
	}
	for name, err := range map[string]error{"bare": ce, "wrapped": fmt.Errorf("check connection: %w", ce)} {
		for _, path := range []string{createPath, validatePath} {
			t.Run(name+path, func(t *testing.T) {
				h := newHarness()
				h.wf.createErr, h.wf.validateErr = err, err
				b := checkError(t, h.post(path, patBody), 400, true)
				if b.Detail != ce.Message {
					t.Errorf("detail = %q, want %q", b.Detail, ce.Message)
				}
				if want := map[string][]string{"non_field_errors": {ce.Message}}; !reflect.DeepEqual(b.ValidationErrors, want) {
					t.Errorf("validation_errors = %v, want %v", b.ValidationErrors, want)
				}
				if strings.Contains(string(h.post(path, patBody).Body), "fs/directories") {
					t.Errorf("the underlying error leaks into the body")
				}
			})
		}
	}
}

func TestInternalErrorsHideDetails(t *testing.T) {
	cases := map[string]error{
		"plain":       errors.New(internalText),
		"persistence": fmt.Errorf("%w: write record: %w", core.ErrPersistence, errors.New(internalText)),
		"panic-like":  fmt.Errorf("runtime error: %s", internalText),
	}
	for name, err := range cases {
		for _, path := range []string{createPath, validatePath} {
			t.Run(name+path, func(t *testing.T) {
				h := newHarness()
				h.wf.createErr, h.wf.validateErr = err, err
				resp := h.post(path, patBody)
				checkError(t, resp, 500, false)
				for _, leak := range []string{"dynamodb", "ResourceNotFound", "arn:aws", "lsdbx-prod", "runtime error", "write record"} {
					if strings.Contains(string(resp.Body), leak) {
						t.Errorf("500 body reveals %q: %s", leak, resp.Body)
					}
				}
			})
		}
	}
	t.Run("deadline", func(t *testing.T) {
		h := newHarness()
		h.wf.createErr = fmt.Errorf("%w: put item: %w", core.ErrPersistence, context.DeadlineExceeded)
		resp := h.post(createPath, patBody)
		if resp.Status < 500 {
			t.Fatalf("status = %d, want a 5xx", resp.Status)
		}
		checkError(t, resp, resp.Status, false)
		if strings.Contains(string(resp.Body), "put item") || strings.Contains(string(resp.Body), "deadline exceeded") {
			t.Errorf("body reveals the internal error: %s", resp.Body)
		}
	})
}

func TestErrorIDsAreUnique(t *testing.T) {
	h := newHarness()
	a := checkError(t, h.post("/nope", ""), 404, false)
	b := checkError(t, h.post("/nope", ""), 404, false)
	if a.ID == b.ID {
		t.Fatalf("two errors share the id %s", a.ID)
	}
}

// Every field of the reference's response: the request fields except the
// secrets, plus id, created_at and type.
var responseFields = []string{
	"catalog", "schema", "volume", "host", "project", "auth_type", "client_id", "tenant_id",
	"prefix", "regex_filter", "recursive_scan", "use_blob_urls", "verify_tls", "request_timeout_s",
	"stream_chunk_bytes", "presign", "presign_ttl", "synchronizable", "status", "title",
	"description", "last_sync", "last_sync_count", "last_sync_job", "meta", "traceback",
	"id", "created_at", "type",
}

func TestCreateResponseBody(t *testing.T) {
	for name, body := range map[string]string{"pat": patBody, "dbx_sp": spBody} {
		t.Run(name, func(t *testing.T) {
			h := newHarness()
			resp := h.post(createPath, body)
			if resp.Status != 201 {
				t.Fatalf("status = %d; body %s", resp.Status, resp.Body)
			}
			if ct := resp.Headers["Content-Type"]; ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				t.Fatalf("body is not a JSON object: %v", err)
			}
			want := append([]string(nil), responseFields...)
			sort.Strings(want)
			if keys := sortedKeys(got); !reflect.DeepEqual(keys, want) {
				t.Errorf("response keys = %v\nwant %v", keys, want)
			}
			for _, secret := range []string{testToken, testClientSecret, `"token"`, `"client_secret"`} {
				if bytes.Contains(resp.Body, []byte(secret)) {
					t.Errorf("response contains %s: %s", secret, resp.Body)
				}
			}
			var s struct {
				ID        int64     `json:"id"`
				Type      string    `json:"type"`
				CreatedAt time.Time `json:"created_at"`
				Host      string    `json:"host"`
				Catalog   string    `json:"catalog"`
				Schema    string    `json:"schema"`
				Volume    string    `json:"volume"`
				Project   int64     `json:"project"`
			}
			if err := json.Unmarshal(resp.Body, &s); err != nil {
				t.Fatal(err)
			}
			if s.ID != 7 || s.Type != "databricks" || !s.CreatedAt.Equal(createdAt) {
				t.Errorf("id/type/created_at = %d/%q/%v", s.ID, s.Type, s.CreatedAt)
			}
			if s.Host != "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com" || s.Catalog != "main" || s.Schema != "default" || s.Volume != "landing" || s.Project < 1 {
				t.Errorf("storage = %+v", s)
			}
			if !strings.HasSuffix(string(got["created_at"]), `Z"`) {
				t.Errorf("created_at = %s, want a UTC timestamp", got["created_at"])
			}
		})
	}
	t.Run("dbx_sp values", func(t *testing.T) {
		h := newHarness()
		var got map[string]any
		if err := json.Unmarshal(h.post(createPath, spBody).Body, &got); err != nil {
			t.Fatal(err)
		}
		checks := map[string]any{
			"auth_type": "dbx_sp", "client_id": "sp-client", "tenant_id": nil, "prefix": "images",
			"title": "Landing", "meta": map[string]any{"team": "vision"}, "last_sync": "2025-11-20T08:15:00Z",
			"verify_tls": true, "synchronizable": true, "status": "initialized", "project": float64(3),
		}
		for k, want := range checks {
			if !reflect.DeepEqual(got[k], want) {
				t.Errorf("%s = %#v, want %#v", k, got[k], want)
			}
		}
	})
	t.Run("validate does not create", func(t *testing.T) {
		h := newHarness()
		resp := h.post(validatePath, spBody)
		if resp.Status != 200 || string(resp.Body) != "{}" || len(h.wf.creates) != 0 || len(h.wf.validates) != 1 {
			t.Errorf("validate: status %d body %s, creates %d validates %d", resp.Status, resp.Body, len(h.wf.creates), len(h.wf.validates))
		}
	})
}

// The workflow gets the decoded request, secrets included.
func TestWorkflowReceivesDecodedRequest(t *testing.T) {
	h := newHarness()
	h.post(createPath, spBody)
	if len(h.wf.creates) != 1 {
		t.Fatalf("Create called %d times", len(h.wf.creates))
	}
	req := h.wf.creates[0]
	if req.Secrets.ClientSecret != testClientSecret || req.AuthType != storage.AuthDatabricksSP || req.Project != 3 {
		t.Errorf("workflow got auth %q project %d and a different client secret", req.AuthType, req.Project)
	}
}

type logLine map[string]any

func parseLogs(t *testing.T, buf *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, l)
	}
	return out
}

func TestSummaryLogLine(t *testing.T) {
	cases := []struct {
		name      string
		method    string
		path      string
		body      string
		setup     func(*fakeWorkflow)
		status    int
		route     string
		storageID bool
		level     string
	}{
		{"create", "POST", createPath, patBody, nil, 201, "create", true, "INFO"},
		{"create sp", "POST", createPath, spBody, nil, 201, "create", true, "INFO"},
		{"validate", "POST", validatePath, spBody, nil, 200, "validate", false, "INFO"},
		{"validation error", "POST", createPath, `{"token": "` + testToken + `", "client_secret": "` + testClientSecret + `"}`, nil, 400, "create", false, "INFO"},
		{"malformed", "POST", createPath, `{"token": "` + testToken, nil, 400, "create", false, "INFO"},
		{"connection error", "POST", validatePath, spBody, func(w *fakeWorkflow) {
			w.validateErr = &storage.ConnectionError{Reason: "credentials_refused", Message: "The workspace refused the credentials."}
		}, 400, "validate", false, "INFO"},
		{"internal error", "POST", createPath, spBody, func(w *fakeWorkflow) {
			w.createErr = fmt.Errorf("%w: %s", core.ErrPersistence, internalText)
		}, 500, "create", false, "ERROR"},
		{"not found", "POST", "/api/storages/s3/", patBody, nil, 404, "none", false, "INFO"},
		{"wrong method", "DELETE", createPath, "", nil, 405, "none", false, "INFO"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness()
			if c.setup != nil {
				c.setup(h.wf)
			}
			resp := h.do(c.method, c.path, map[string]string{"content-type": "application/json", "authorization": "Token " + testToken}, c.body)
			if resp.Status != c.status {
				t.Fatalf("status = %d, want %d", resp.Status, c.status)
			}
			out := h.logs.String()
			for _, secret := range []string{testToken, testClientSecret} {
				if strings.Contains(out, secret) {
					t.Fatalf("logs contain a secret: %s", out)
				}
			}
			lines := parseLogs(t, h.logs)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want one summary line:\n%s", len(lines), out)
			}
			l := lines[0]
			if l["request_id"] != "req-123" {
				t.Errorf("request_id = %v", l["request_id"])
			}
			if l["route"] != c.route {
				t.Errorf("route = %v, want %s", l["route"], c.route)
			}
			if l["status"] != float64(c.status) {
				t.Errorf("status = %v, want %d", l["status"], c.status)
			}
			if l["level"] != c.level {
				t.Errorf("level = %v, want %s", l["level"], c.level)
			}
			if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms = %v, want a non-negative number", l["duration_ms"])
			}
			id, has := l["storage_id"]
			if has != c.storageID {
				t.Errorf("storage_id present = %v, want %v", has, c.storageID)
			}
			if c.storageID && id != float64(7) {
				t.Errorf("storage_id = %v, want 7", id)
			}
		})
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	serve := func(h *harness, path string, headers map[string]string) response {
		headers["content-type"] = "application/json"
		return h.do("POST", path, headers, patBody)
	}
	t.Run("no key", func(t *testing.T) {
		h := newHarness()
		resp := serve(h, createPath, map[string]string{})
		if resp.Status != 201 || !reflect.DeepEqual(h.wf.keys, []string{""}) {
			t.Fatalf("status %d, keys %q", resp.Status, h.wf.keys)
		}
		if _, ok := resp.Headers[httpapi.HeaderReplayed]; ok {
			t.Errorf("first create marked as replayed")
		}
	})
	t.Run("key is scoped", func(t *testing.T) {
		for _, name := range []string{"Idempotency-Key", "idempotency-key"} {
			h := newHarness()
			resp := serve(h, createPath, map[string]string{name: "order-42"})
			if resp.Status != 201 || len(h.wf.keys) != 1 || h.wf.keys[0] != "order-42" {
				t.Fatalf("%s: status %d, keys %q; want the key passed to the core", name, resp.Status, h.wf.keys)
			}
		}
	})
	t.Run("replay", func(t *testing.T) {
		h := newHarness()
		h.wf.replayed = true
		resp := serve(h, createPath, map[string]string{"idempotency-key": "k"})
		if resp.Status != 201 || resp.Headers[httpapi.HeaderReplayed] != "true" {
			t.Fatalf("status %d, headers %v; want 201 with %s: true", resp.Status, resp.Headers, httpapi.HeaderReplayed)
		}
	})
	t.Run("conflict", func(t *testing.T) {
		h := newHarness()
		h.wf.createErr = core.ErrIdempotencyConflict
		b := checkError(t, serve(h, createPath, map[string]string{"idempotency-key": "k"}), 422, false)
		if !strings.Contains(b.Detail, "Idempotency-Key") {
			t.Errorf("detail %q does not name the header", b.Detail)
		}
	})
	for name, key := range map[string]string{
		"too long": strings.Repeat("k", 256), "control character": "a\x01b", "non-ASCII": "clé", "newline": "a\nb",
	} {
		t.Run("invalid key/"+name, func(t *testing.T) {
			h := newHarness()
			checkError(t, serve(h, createPath, map[string]string{"idempotency-key": key}), 400, false)
			if len(h.wf.creates) != 0 {
				t.Errorf("workflow called with an invalid key")
			}
		})
	}
	t.Run("255 characters accepted", func(t *testing.T) {
		h := newHarness()
		if resp := serve(h, createPath, map[string]string{"idempotency-key": strings.Repeat("k", 255)}); resp.Status != 201 {
			t.Fatalf("status %d", resp.Status)
		}
	})
	t.Run("validate ignores the key", func(t *testing.T) {
		h := newHarness()
		if resp := serve(h, validatePath, map[string]string{"idempotency-key": "a\x01b"}); resp.Status != 200 {
			t.Fatalf("status %d, body %s", resp.Status, resp.Body)
		}
	})
}

// allowAll admits every request as a holder of an all-projects token.
type allowAll struct{}

func (allowAll) Authenticate(context.Context, string) (core.Principal, error) {
	return core.Principal{TokenID: "test", User: "test", AllProjects: true}, nil
}

// A handler that was not given an authenticator refuses every request: the
// shipped handler has no mode that lets everyone in.
func TestNoAuthenticatorFailsClosed(t *testing.T) {
	h := newHarness()
	h.h.Auth = nil
	resp := h.post("/api/storages/databricks/", `{"project": 1}`)
	checkError(t, resp, http.StatusServiceUnavailable, false)
	h.wf.mu.Lock()
	defer h.wf.mu.Unlock()
	if len(h.wf.creates) != 0 {
		t.Errorf("the workflow was called: %d creates", len(h.wf.creates))
	}
}

// Each function's handler holds only the part of the core it may use: the
// create function's refuses every other route, the manage function's the
// create, with a 421 saying where to send the request, and neither calls
// the core for it.
func TestEachFunctionServesOnlyItsRoutes(t *testing.T) {
	cases := []struct {
		name         string
		createOnly   bool
		method, path string
		body         string
		detail       string
	}{
		{"get at the create function", true, http.MethodGet, "/api/storages/databricks/7", "",
			"this function only creates storages; send get to the manage function."},
		{"update at the create function", true, http.MethodPatch, "/api/storages/databricks/7", `{"title": "x"}`,
			"this function only creates storages; send update to the manage function."},
		{"validate at the create function", true, http.MethodPost, "/api/storages/databricks/validate", `{}`,
			"this function only creates storages; send validate to the manage function."},
		{"create at the manage function", false, http.MethodPost, "/api/storages/databricks/", `{}`,
			"this function does not create storages; send create to the create function."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness()
			if c.createOnly {
				h.h.Manager = nil
			} else {
				h.h.Creator = nil
			}
			resp := h.do(c.method, c.path, nil, c.body)
			body := checkError(t, resp, http.StatusMisdirectedRequest, false)
			if body.Detail != c.detail {
				t.Errorf("detail = %q, want %q", body.Detail, c.detail)
			}
			if len(h.wf.creates)+len(h.wf.validates) != 0 {
				t.Errorf("the core was called")
			}
		})
	}
}
