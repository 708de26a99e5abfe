package eventsource_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// sampleEvents reads every events/*.json file, keyed by file name.
func sampleEvents(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no sample events in ../../events")
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = raw
	}
	return out
}

func sampleEvent(t *testing.T, name string) []byte {
	t.Helper()
	raw, ok := sampleEvents(t)[name]
	if !ok {
		t.Fatalf("events/%s not found", name)
	}
	return raw
}

// edit decodes a JSON event, lets fn change it, and encodes it again.
func edit(t *testing.T, raw []byte, fn func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	fn(ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedNames(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Realistic non-HTTP payloads.
const (
	sqsEvent = `{"Records": [{"messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
		"body": "{\"storage_id\": 42}", "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
		"messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
		"eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:my-queue", "awsRegion": "us-east-1"}]}`
	eventBridgeEvent = `{"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
		"source": "aws.events", "account": "123456789012", "time": "2025-11-25T00:00:00Z", "region": "us-east-1",
		"resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep-orphan-secrets"], "detail": {}}`
	directEvent = `{"operation": "get", "id": 7}`
)

func TestClassify(t *testing.T) {
	events := sampleEvents(t)
	for name, payload := range events {
		if kind := eventsource.Classify(payload); kind != eventsource.KindHTTPv1 && kind != eventsource.KindHTTPv2 {
			delete(events, name) // non-HTTP samples are covered through the runtime emulator
		}
	}
	for _, name := range sortedNames(events) {
		want := eventsource.KindHTTPv2
		if strings.HasPrefix(name, "rest-") {
			want = eventsource.KindHTTPv1
		}
		if got := eventsource.Classify(events[name]); got != want {
			t.Errorf("%s: Classify = %s, want %s", name, got, want)
		}
	}

	// HTTP API with payload format 1.0 sends REST-shaped events.
	v1FromHTTPAPI := edit(t, events["rest-create-pat.json"], func(ev map[string]any) { ev["version"] = "1.0" })
	cases := []struct {
		name    string
		payload string
		want    eventsource.Kind
	}{
		{"HTTP API payload 1.0", string(v1FromHTTPAPI), eventsource.KindHTTPv1},
		{"sqs", sqsEvent, eventsource.KindSQS},
		{"eventbridge", eventBridgeEvent, eventsource.KindEventBridge},
		{"direct", directEvent, eventsource.KindDirect},
		{"direct create", `{"operation": "create", "storage": {"project": 1}}`, eventsource.KindDirect},
		{"direct of an unknown operation", `{"operation": "sync", "id": 7}`, eventsource.KindDirect},
		{"leading whitespace", "\n  " + directEvent, eventsource.KindDirect},
		// Never taken for a create: every payload names its shape exactly.
		{"empty object", `{}`, eventsource.KindUnknown},
		{"a bare create request", `{"project": 1, "host": "https://x.cloud.databricks.com", "catalog": "main", "schema": "s", "volume": "v", "token": "t"}`, eventsource.KindUnknown},
		{"something else", `{"action": "sweep", "older_than_minutes": 15}`, eventsource.KindUnknown},
		{"operation not a string", `{"operation": 1}`, eventsource.KindUnknown},
		{"EventBridge without account", `{"version": "0", "id": "e", "detail-type": "x", "source": "y", "time": "t", "region": "r", "resources": [], "detail": {}}`, eventsource.KindUnknown},
		{"EventBridge with a null detail", `{"version": "0", "id": "e", "detail-type": "x", "source": "y", "account": "1", "time": "t", "region": "r", "resources": [], "detail": null}`, eventsource.KindUnknown},
		{"EventBridge with a detail not an object", `{"version": "0", "id": "e", "detail-type": "x", "source": "y", "account": "1", "time": "t", "region": "r", "resources": [], "detail": "{}"}`, eventsource.KindUnknown},
		{"SQS with no records", `{"Records": []}`, eventsource.KindUnknown},
		{"SQS with a record of another source", `{"Records": [{"messageId": "m", "eventSource": "aws:sqs"}, {"messageId": "n", "eventSource": "aws:sns"}]}`, eventsource.KindUnknown},
		{"v2 without routeKey", `{"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}}`, eventsource.KindUnknown},
		{"v2 without requestContext.http", `{"version": "2.0", "routeKey": "$default", "rawPath": "/", "requestContext": {}}`, eventsource.KindUnknown},
		{"v1 without resource", `{"httpMethod": "POST", "path": "/", "requestContext": {}}`, eventsource.KindUnknown},
		{"empty", ``, eventsource.KindUnknown},
		{"whitespace", " \n", eventsource.KindUnknown},
		{"not JSON", `hello`, eventsource.KindUnknown},
		{"truncated", `{"version": "2.0", "rawPath": "/x"`, eventsource.KindUnknown},
		{"array", `[{"version": "2.0"}]`, eventsource.KindUnknown},
		{"null", `null`, eventsource.KindUnknown},
		{"string", `"{}"`, eventsource.KindUnknown},
		{"number", `42`, eventsource.KindUnknown},
	}
	for _, c := range cases {
		if got := eventsource.Classify([]byte(c.payload)); got != c.want {
			t.Errorf("%s: Classify = %s, want %s", c.name, got, c.want)
		}
	}
	// A v2-looking payload without a request context is not an HTTP event.
	noCtx := edit(t, events["http-create-pat.json"], func(ev map[string]any) { delete(ev, "requestContext") })
	if got := eventsource.Classify(noCtx); got == eventsource.KindHTTPv2 || got == eventsource.KindHTTPv1 {
		t.Errorf("v2 event without requestContext classified as %s", got)
	}
}

// seen is a request as the handler received it.
type seen struct {
	Method    string
	Path      string
	Query     string
	Headers   http.Header
	Body      []byte
	RequestID string
}

// recorder is a fake HTTP handler that records requests and answers 201.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{req.Method, req.URL.Path, req.URL.RawQuery, req.Header, body, logging.RequestID(req.Context())})
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Test", "yes")
	w.WriteHeader(201)
	_, _ = w.Write([]byte(`{"id": 1, "note": "ünïcode"}`))
}

func newRecorder() *recorder { return &recorder{} }

func invoke(t *testing.T, h http.Handler, payload []byte) map[string]json.RawMessage {
	t.Helper()
	d := &eventsource.Dispatcher{HTTP: h}
	out, err := d.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, out)
	}
	return resp
}

func onlyRequest(t *testing.T, r *recorder) seen {
	t.Helper()
	if len(r.reqs) != 1 {
		t.Fatalf("handler called %d times, want 1", len(r.reqs))
	}
	return r.reqs[0]
}

func eventBody(t *testing.T, raw []byte) string {
	t.Helper()
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Body
}

// checkResponse checks the proxy response API Gateway reads.
func checkResponse(t *testing.T, resp map[string]json.RawMessage, v2 bool) {
	t.Helper()
	var r struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	raw, _ := json.Marshal(resp)
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 201 {
		t.Errorf("statusCode = %d, want 201", r.StatusCode)
	}
	if r.Headers["Content-Type"] != "application/json" || r.Headers["X-Test"] != "yes" {
		t.Errorf("headers = %v", r.Headers)
	}
	if r.Body != `{"id": 1, "note": "ünïcode"}` {
		t.Errorf("body = %q", r.Body)
	}
	if b, ok := resp["isBase64Encoded"]; ok && string(b) != "false" {
		t.Errorf("isBase64Encoded = %s, want false or absent", b)
	}
	// v2 responses have the HTTP API's cookies field; REST responses do not.
	if _, ok := resp["cookies"]; ok != v2 {
		t.Errorf("cookies key present = %v, want %v (keys %v)", ok, v2, keysOf(resp))
	}
	for _, k := range []string{"StatusCode", "Body", "status", "status_code"} {
		if _, ok := resp[k]; ok {
			t.Errorf("response has the non-proxy key %q", k)
		}
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestInvokeV2(t *testing.T) {
	raw := sampleEvent(t, "http-create-pat.json")
	r := newRecorder()
	resp := invoke(t, r, raw)
	req := onlyRequest(t, r)

	if req.Method != "POST" || req.Path != "/api/storages/databricks/" {
		t.Errorf("method/path = %s %s", req.Method, req.Path)
	}
	if req.RequestID != "ee60c032-149c-4399-97d6-87f3dc1081d9" {
		t.Errorf("request id = %q", req.RequestID)
	}
	if string(req.Body) != eventBody(t, raw) {
		t.Errorf("body = %q, want the event's", req.Body)
	}
	if req.Headers.Get("content-type") != "application/json" || req.Headers.Get("authorization") != "Token local-dev-token" {
		t.Errorf("headers = %v", req.Headers)
	}
	checkResponse(t, resp, true)
}

func TestInvokeV2Variants(t *testing.T) {
	base := sampleEvent(t, "http-validate-pat.json")
	body := eventBody(t, base)
	cases := []struct {
		name     string
		edit     func(ev map[string]any)
		wantPath string
		wantBody string
		wantHdr  map[string]string
	}{
		{
			name:     "default stage keeps the path",
			edit:     func(ev map[string]any) {},
			wantPath: "/api/storages/databricks/validate",
			wantBody: body,
		},
		{
			name: "named stage is stripped",
			edit: func(ev map[string]any) {
				ev["rawPath"] = "/prod/api/storages/databricks/validate"
				ev["requestContext"].(map[string]any)["stage"] = "prod"
			},
			wantPath: "/api/storages/databricks/validate",
			wantBody: body,
		},
		{
			name: "stage only as a whole segment",
			edit: func(ev map[string]any) {
				ev["rawPath"] = "/production/api/storages/databricks/validate"
				ev["requestContext"].(map[string]any)["stage"] = "prod"
			},
			wantPath: "/production/api/storages/databricks/validate",
			wantBody: body,
		},
		{
			name: "stage root",
			edit: func(ev map[string]any) {
				ev["rawPath"] = "/prod"
				ev["requestContext"].(map[string]any)["stage"] = "prod"
			},
			wantPath: "/",
			wantBody: body,
		},
		{
			name: "mixed-case headers are lower-cased",
			edit: func(ev map[string]any) {
				ev["headers"] = map[string]any{"Content-Type": "application/json", "X-Amzn-Trace-Id": "Root=1"}
			},
			wantPath: "/api/storages/databricks/validate",
			wantBody: body,
			wantHdr:  map[string]string{"Content-Type": "application/json", "X-Amzn-Trace-Id": "Root=1"},
		},
		{
			name: "base64 body is decoded",
			edit: func(ev map[string]any) {
				ev["body"] = base64.StdEncoding.EncodeToString([]byte(body))
				ev["isBase64Encoded"] = true
			},
			wantPath: "/api/storages/databricks/validate",
			wantBody: body,
		},
		{
			name: "binary base64 body",
			edit: func(ev map[string]any) {
				ev["body"] = base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe})
				ev["isBase64Encoded"] = true
			},
			wantPath: "/api/storages/databricks/validate",
			wantBody: "\xff\x00\xfe",
		},
		{
			name:     "no body",
			edit:     func(ev map[string]any) { delete(ev, "body") },
			wantPath: "/api/storages/databricks/validate",
			wantBody: "",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRecorder()
			resp := invoke(t, r, edit(t, base, c.edit))
			req := onlyRequest(t, r)
			if req.Path != c.wantPath {
				t.Errorf("path = %q, want %q", req.Path, c.wantPath)
			}
			if string(req.Body) != c.wantBody {
				t.Errorf("body = %q, want %q", req.Body, c.wantBody)
			}
			for k, v := range c.wantHdr {
				if req.Headers.Get(k) != v {
					t.Errorf("header %q = %q, want %q (headers %v)", k, req.Headers.Get(k), v, req.Headers)
				}
			}
			checkResponse(t, resp, true)
		})
	}
}

func TestInvokeV1(t *testing.T) {
	raw := sampleEvent(t, "rest-create-pat.json")
	r := newRecorder()
	resp := invoke(t, r, raw)
	req := onlyRequest(t, r)

	// The REST event's path has no stage (requestContext.path has /Prod).
	if req.Method != "POST" || req.Path != "/api/storages/databricks/" {
		t.Errorf("method/path = %s %s", req.Method, req.Path)
	}
	if req.RequestID != "5b8e292f-fdf6-455c-9dfb-d9a0a85f1a03" {
		t.Errorf("request id = %q", req.RequestID)
	}
	if string(req.Body) != eventBody(t, raw) {
		t.Errorf("body = %q, want the event's", req.Body)
	}
	if req.Headers.Get("content-type") != "application/json" || req.Headers.Get("authorization") != "Token local-dev-token" {
		t.Errorf("headers = %v", req.Headers)
	}
	checkResponse(t, resp, false)
	if _, ok := resp["multiValueHeaders"]; !ok {
		t.Errorf("REST response lacks multiValueHeaders (keys %v)", keysOf(resp))
	}
}

func TestInvokeV1Variants(t *testing.T) {
	base := sampleEvent(t, "rest-create-pat.json")
	body := eventBody(t, base)
	t.Run("multiValueHeaders only", func(t *testing.T) {
		r := newRecorder()
		invoke(t, r, edit(t, base, func(ev map[string]any) {
			ev["headers"] = nil
			ev["multiValueHeaders"] = map[string]any{
				"Content-Type":    []any{"application/json"},
				"X-Forwarded-For": []any{"203.0.113.24", "10.0.0.1"},
			}
		}))
		req := onlyRequest(t, r)
		if req.Headers.Get("content-type") != "application/json" {
			t.Errorf("content-type = %q", req.Headers.Get("content-type"))
		}
		if got := req.Headers.Get("x-forwarded-for"); got != "203.0.113.24,10.0.0.1" && got != "203.0.113.24, 10.0.0.1" {
			t.Errorf("x-forwarded-for = %q, want both values", got)
		}
	})
	t.Run("headers only", func(t *testing.T) {
		r := newRecorder()
		invoke(t, r, edit(t, base, func(ev map[string]any) {
			ev["multiValueHeaders"] = nil
			ev["headers"] = map[string]any{"CONTENT-TYPE": "text/plain"}
		}))
		if got := onlyRequest(t, r).Headers.Get("content-type"); got != "text/plain" {
			t.Errorf("content-type = %q", got)
		}
	})
	t.Run("base64 body", func(t *testing.T) {
		r := newRecorder()
		invoke(t, r, edit(t, base, func(ev map[string]any) {
			ev["body"] = base64.StdEncoding.EncodeToString([]byte(body))
			ev["isBase64Encoded"] = true
		}))
		if got := string(onlyRequest(t, r).Body); got != body {
			t.Errorf("body = %q, want %q", got, body)
		}
	})
	t.Run("other method", func(t *testing.T) {
		r := newRecorder()
		invoke(t, r, edit(t, base, func(ev map[string]any) { ev["httpMethod"] = "DELETE" }))
		if got := onlyRequest(t, r).Method; got != "DELETE" {
			t.Errorf("method = %q", got)
		}
	})
}

// Payloads of no accepted shape are refused for good, in the direct
// contract, with the shapes that are accepted; they never reach the handler
// or the core (before, any other object was taken for a direct create).
func TestInvokeUnsupported(t *testing.T) {
	for name, payload := range map[string]string{
		"empty": "", "whitespace": " \n", "garbage": "\x00\x01", "not JSON": "hello",
		"truncated": `{"version": "2.0", "rawPath": "/api/storages/databricks/"`,
		"array":     "[]", "null": "null", "string": `"x"`, "number": "42", "empty object": "{}",
		"a bare create request": `{"project": 1, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", "schema": "default", "volume": "landing", "token": "dapi-x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := newRecorder()
			d := &eventsource.Dispatcher{HTTP: r, Creator: panicCore{t}, Logger: slog.New(slog.DiscardHandler)}
			out, err := d.Invoke(context.Background(), []byte(payload))
			if err != nil {
				t.Fatalf("Invoke = %v; want a refusal, never a retry", err)
			}
			var res eventsource.DirectResult
			var body struct {
				Detail string `json:"detail"`
			}
			if json.Unmarshal(out, &res) != nil || json.Unmarshal(res.Error, &body) != nil {
				t.Fatalf("result %s is not a direct refusal", out)
			}
			if res.Outcome != "refused" || res.ErrorKind != core.KindMalformed.String() {
				t.Errorf("result %s; want refused, malformed", out)
			}
			for _, shape := range []string{"HTTP API", "REST API", `"aws:sqs"`, "EventBridge", `"operation": "create"`, `"operation": "update"`} {
				if !strings.Contains(body.Detail, shape) {
					t.Errorf("the refusal %q does not list %s", body.Detail, shape)
				}
			}
			if len(r.reqs) != 0 {
				t.Errorf("handler called for a %s payload", name)
			}
		})
	}
}

// panicCore fails the test if anything reaches it.
type panicCore struct{ t *testing.T }

func (p panicCore) Create(context.Context, core.Caller, storage.Request, string) (core.Created, error) {
	p.t.Error("the payload reached Create")
	return core.Created{}, nil
}

func (p panicCore) Replay(context.Context, core.Caller, string) (core.Created, bool, error) {
	p.t.Error("the payload reached Replay")
	return core.Created{}, false, nil
}

// fakeCore accepts everything.
type fakeCore struct{}

func (fakeCore) Create(_ context.Context, _ core.Caller, req storage.Request, _ string) (core.Created, error) {
	return core.Created{Storage: storage.Storage{ID: 1, Type: storage.StorageType, CreatedAt: time.Date(2025, 11, 25, 0, 0, 0, 0, time.UTC), Settings: req.Settings}}, nil
}

func (fakeCore) Validate(context.Context, core.Caller, storage.Request) error { return nil }

func (fakeCore) Replay(context.Context, core.Caller, string) (core.Created, bool, error) {
	return core.Created{}, false, nil
}

func (fakeCore) Get(context.Context, core.Caller, int64) (storage.Storage, error) {
	return storage.Storage{}, core.ErrNotFound
}

func (fakeCore) Update(context.Context, core.Caller, int64, storage.Update) (storage.Storage, error) {
	return storage.Storage{}, core.ErrNotFound
}

func (fakeCore) Delete(context.Context, core.Caller, int64) error { return core.ErrNotFound }
func (fakeCore) Sync(context.Context, core.Caller, int64) (storage.Storage, error) {
	return storage.Storage{}, core.ErrNotFound
}
func (fakeCore) RotateFileKey(context.Context, core.Caller, int64) error { return core.ErrNotFound }

func (fakeCore) List(context.Context, core.Caller, int64, string) ([]storage.Storage, error) {
	return nil, nil
}

func (fakeCore) ValidateExisting(context.Context, core.Caller, int64, storage.Update) error {
	return nil
}

func (fakeCore) PreviewFiles(context.Context, core.Caller, storage.Request, int) (storage.FileListing, error) {
	return storage.FileListing{}, nil
}

func (fakeCore) PreviewStoredFiles(context.Context, core.Caller, int64, storage.Update, int) (storage.FileListing, error) {
	return storage.FileListing{}, nil
}

// acceptSampleToken authenticates the token the sample events carry.
type acceptSampleToken struct{}

func (acceptSampleToken) Authenticate(_ context.Context, header string) (core.Principal, error) {
	switch header {
	case "":
		return core.Principal{}, auth.ErrNoCredentials
	case "Token local-dev-token":
		return core.Principal{TokenID: "sample", User: "sample", AllProjects: true}, nil
	}
	return core.Principal{}, auth.ErrInvalidToken
}

func realHandler(logs io.Writer) *httpapi.Handler {
	return &httpapi.Handler{
		Auth:    acceptSampleToken{},
		Creator: fakeCore{},
		Manager: fakeCore{},
		Decoder: storage.Decoder{},
		Version: "test",
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
	}
}

type proxyResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// The sample events through the real handler, with the statuses the events
// README lists.
func TestSampleEventsEndToEnd(t *testing.T) {
	want := map[string]struct {
		status int
		fields []string
	}{
		"http-create-pat.json":                    {201, nil},
		"http-create-dbx-sp.json":                 {201, nil},
		"http-create-azure-ad-sp.json":            {201, nil},
		"http-create-minimal-no-slash.json":       {201, nil},
		"rest-create-pat.json":                    {201, nil},
		"http-validate-pat.json":                  {200, nil},
		"http-invalid-every-field.json":           {400, []string{"catalog", "schema", "volume", "host", "project", "auth_type", "title", "last_sync", "last_sync_count", "status", "verify_tls", "request_timeout_s"}},
		"http-invalid-dbx-sp-missing-secret.json": {400, []string{"client_secret"}},
		"http-invalid-json.json":                  {400, nil},
		"http-invalid-not-object.json":            {400, nil},
		"http-invalid-content-type.json":          {415, nil},
		"http-wrong-method.json":                  {405, nil},
		"http-unknown-path.json":                  {404, nil},
		"rest-invalid-missing-fields.json":        {400, []string{"catalog", "schema", "volume", "host", "project", "token"}},
		"http-missing-token.json":                 {401, nil},
	}
	events := sampleEvents(t)
	for name, payload := range events {
		if kind := eventsource.Classify(payload); kind != eventsource.KindHTTPv1 && kind != eventsource.KindHTTPv2 {
			delete(events, name) // non-HTTP samples are covered through the runtime emulator
		}
	}
	for _, name := range sortedNames(events) {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for events/%s: add it", name)
			}
			var logs bytes.Buffer
			out, err := (&eventsource.Dispatcher{HTTP: realHandler(&logs)}).Invoke(context.Background(), events[name])
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			var resp proxyResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != w.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, w.status, resp.Body)
			}
			if w.fields != nil {
				var b struct {
					ValidationErrors map[string][]string `json:"validation_errors"`
				}
				if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
					t.Fatal(err)
				}
				got := make([]string, 0, len(b.ValidationErrors))
				for k := range b.ValidationErrors {
					got = append(got, k)
				}
				sort.Strings(got)
				sort.Strings(w.fields)
				if !reflect.DeepEqual(got, w.fields) {
					t.Errorf("validation_errors keys = %v, want %v", got, w.fields)
				}
			}
			for _, secret := range []string{"dapi-local-test-token", "local-sp-secret", "local-azure-secret"} {
				if strings.Contains(resp.Body, secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("secret %q in the response or logs", secret)
				}
			}
		})
	}
}

func TestInvalidBase64BodyIsAClientError(t *testing.T) {
	raw := edit(t, sampleEvent(t, "http-create-pat.json"), func(ev map[string]any) {
		ev["body"] = "this is not base64!"
		ev["isBase64Encoded"] = true
	})
	out, err := (&eventsource.Dispatcher{HTTP: realHandler(io.Discard)}).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var resp proxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 {
		t.Fatalf("status = %d, want 400; body %s", resp.StatusCode, resp.Body)
	}
	// It says what is wrong, not that a stand-in body is not JSON.
	if !strings.Contains(resp.Body, "isBase64Encoded") || !strings.Contains(resp.Body, "not valid base64") {
		t.Errorf("body %s does not say the base64 body could not be decoded", resp.Body)
	}
}

func FuzzDispatch(f *testing.F) {
	samples := sampleEvents(f)
	for _, name := range sortedNames(samples) {
		f.Add(samples[name])
	}
	for _, seed := range []string{sqsEvent, eventBridgeEvent, directEvent, "", "null", "[]", `{"version":"2.0","rawPath":"/","requestContext":{}}`,
		`{"httpMethod":"POST","path":"/api/storages/databricks","requestContext":{},"body":"{}","isBase64Encoded":true}`} {
		f.Add([]byte(seed))
	}
	d := &eventsource.Dispatcher{HTTP: realHandler(io.Discard), Creator: fakeCore{}, Manager: fakeCore{}, Logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, payload []byte) {
		kind := eventsource.Classify(payload)
		out, err := d.Invoke(context.Background(), payload)
		switch kind {
		case eventsource.KindHTTPv1, eventsource.KindHTTPv2:
		case eventsource.KindUnknown:
			if err != nil || !bytes.Contains(out, []byte(`"outcome":"refused"`)) {
				t.Fatalf("unknown payload: Invoke = %s, %v; want a refusal", out, err)
			}
			return
		default:
			// Other event kinds: only "never panics" is checked here.
			return
		}
		if err != nil {
			// Only a payload that does not decode as an event of its kind
			// may fail; API Gateway never sends one.
			var target any = &events.APIGatewayV2HTTPRequest{}
			if kind == eventsource.KindHTTPv1 {
				target = &events.APIGatewayProxyRequest{}
			}
			if errors.Is(err, eventsource.ErrUnsupportedEvent) || json.Unmarshal(payload, target) == nil {
				t.Fatalf("valid %s event failed: %v", kind, err)
			}
			return
		}
		var resp proxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, out)
		}
		if resp.StatusCode < 200 || resp.StatusCode >= 500 {
			t.Fatalf("%s event answered %d: %s", kind, resp.StatusCode, resp.Body)
		}
		if !json.Valid([]byte(resp.Body)) {
			t.Fatalf("response body is not JSON: %q", resp.Body)
		}
	})
}
