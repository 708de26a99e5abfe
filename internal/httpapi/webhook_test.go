package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
)

// acceptor is an Exporter's AcceptWebhook: export storage 5 of project 3,
// secret "s3cret".
type acceptor struct{ events []core.AnnotationEvent }

func (a *acceptor) AcceptWebhook(_ context.Context, id int64, secret string, ev core.AnnotationEvent) (int, error) {
	if id != 5 || secret != "s3cret" {
		return 0, fmt.Errorf("export storage %d: %w", id, core.ErrWebhookRefused)
	}
	if ev.Project != 3 {
		return 0, nil
	}
	a.events = append(a.events, ev)
	return len(ev.Annotations), nil
}

const projectToken = "project-token-that-must-not-be-logged"

func delivery(action, rest string) string {
	return `{"action": "` + action + `", "project": {"id": 3, "token": "` + projectToken + `", "label_config": "<View/>"}` + rest + `}`
}

func TestWebhookDeliveries(t *testing.T) {
	path := "/api/storages/export/databricks/5/webhook"
	cases := []struct {
		name   string
		method string
		path   string
		secret string
		body   string
		status int
		want   []core.AnnotationEvent
	}{
		{"created", "POST", path, "s3cret", delivery("ANNOTATION_CREATED", `, "annotation": {"id": 11, "result": []}, "task": {"id": 2}`), 200,
			[]core.AnnotationEvent{{Project: 3, Annotations: []int64{11}}}},
		{"updated, slash-less", "POST", path + "/", "s3cret", delivery("ANNOTATION_UPDATED", `, "annotation": {"id": 11}`), 200,
			[]core.AnnotationEvent{{Project: 3, Annotations: []int64{11}}}},
		{"bulk created", "POST", path, "s3cret", delivery("ANNOTATIONS_CREATED", `, "annotation": [{"id": 1}, {"id": 2}]`), 200,
			[]core.AnnotationEvent{{Project: 3, Annotations: []int64{1, 2}}}},
		{"deleted", "POST", path, "s3cret", delivery("ANNOTATIONS_DELETED", `, "annotations": [{"id": 4}]`), 200,
			[]core.AnnotationEvent{{Project: 3, Annotations: []int64{4}, Deleted: true}}},
		{"another action", "POST", path, "s3cret", delivery("TASKS_CREATED", `, "tasks": [{"id": 4}]`), 200, nil},
		{"no secret", "POST", path, "", delivery("ANNOTATION_CREATED", `, "annotation": {"id": 11}`), 403, nil},
		{"wrong secret", "POST", path, "s3cre", delivery("ANNOTATION_CREATED", `, "annotation": {"id": 11}`), 403, nil},
		{"unknown storage", "POST", "/api/storages/export/databricks/6/webhook", "s3cret", delivery("ANNOTATION_CREATED", `, "annotation": {"id": 11}`), 403, nil},
		{"not a payload", "POST", path, "s3cret", `{"action": "ANNOTATION_CREATED", "annotation": {"id": "x"}}`, 400, nil},
		{"no annotation id", "POST", path, "s3cret", delivery("ANNOTATION_CREATED", `, "annotation": {}`), 400, nil},
		{"too large", "POST", path, "s3cret", delivery("ANNOTATION_CREATED", `, "annotation": {"id": 1}, "task": {"data": "`+strings.Repeat("x", httpapi.MaxWebhookBytes)+`"}`), 413, nil},
		{"GET", "GET", path, "s3cret", "", 405, nil},
		{"an import storage's", "POST", "/api/storages/databricks/5/webhook", "s3cret", delivery("ANNOTATION_CREATED", `, "annotation": {"id": 11}`), 404, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &acceptor{}
			var logs bytes.Buffer
			h := &httpapi.Handler{Webhooks: a, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.secret != "" {
				req.Header.Set(core.WebhookHeader, c.secret)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d %s, want %d", rec.Code, rec.Body, c.status)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if c.status != http.StatusOK {
				if _, ok := body["detail"].(string); !ok || body["status_code"] != float64(c.status) {
					t.Errorf("error body %v is not Label Studio's", body)
				}
			}
			if !reflect.DeepEqual(a.events, c.want) {
				t.Errorf("queued %+v, want %+v", a.events, c.want)
			}
			if strings.Contains(logs.String(), projectToken) || strings.Contains(logs.String(), "s3cret") {
				t.Errorf("the log holds the payload's token or the secret: %s", logs.String())
			}
			if c.status == 403 && strings.Contains(rec.Body.String(), "not found") {
				t.Errorf("a refused delivery tells whether the storage exists: %s", rec.Body)
			}
		})
	}
}

// Without an intake: the create function refuses a delivery as another
// function's (421), a manage function without an export queue as Label
// Studio refuses a storage that cannot sync (400); neither a 5xx.
func TestWebhookWithoutIntake(t *testing.T) {
	for _, c := range []struct {
		name   string
		h      *httpapi.Handler
		status int
	}{
		{"create function", &httpapi.Handler{}, http.StatusMisdirectedRequest},
		{"no export queue", &httpapi.Handler{ExportManager: &side{}}, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.h.Logger = slog.New(slog.DiscardHandler)
			req := httptest.NewRequest(http.MethodPost, "/api/storages/export/databricks/7/webhook", strings.NewReader(`{}`))
			req.Header.Set(core.WebhookHeader, "s3cret")
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
		})
	}
}
