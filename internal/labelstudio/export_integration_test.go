//go:build integration

package labelstudio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
)

func choice(v string) []any {
	return []any{map[string]any{"from_name": "choice", "to_name": "image", "type": "choices", "value": map[string]any{"choices": []any{v}}}}
}

// annotate creates an annotation of task through Label Studio's API.
func (r *realLS) annotate(task int64, body map[string]any) int64 {
	r.t.Helper()
	var a struct{ ID int64 }
	r.call(http.MethodPost, fmt.Sprintf("/api/tasks/%d/annotations/", task), body, &a)
	return a.ID
}

// importTasks imports tasks as the admin and returns their ids.
func (r *realLS) importTasks(project int64, tasks []map[string]any) []int64 {
	r.t.Helper()
	var answer struct {
		TaskIDs []int64 `json:"task_ids"`
	}
	r.call(http.MethodPost, fmt.Sprintf("/api/projects/%d/import?return_task_ids=true", project), tasks, &answer)
	return answer.TaskIDs
}

// unstableTaskFields are the fields of the nested task that Label Studio's
// file holds as they were while the annotation was being saved: the task
// is saved again after it (is_labeled, updated_by, its counters), so a
// later read answers its newer values.
var unstableTaskFields = []string{"updated_at", "updated_by"}

// TestAnnotationIsLabelStudiosExport proves that Annotation's Body is
// what Label Studio's own target storage (local files) writes for the
// annotation.
func TestAnnotationIsLabelStudiosExport(t *testing.T) {
	ls := newRealLS(t)
	env, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if env.DataDir == "" {
		t.Fatal("no LABEL_STUDIO_TEST_DATA_DIR: the local files export storage needs Label Studio's document root")
	}
	ctx := context.Background()
	project := ls.project(imageConfig)
	dir := filepath.Join(env.DataDir, fmt.Sprintf("export-%d", project))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ls.call(http.MethodPost, "/api/storages/export/localfiles", map[string]any{
		"project": project, "path": dir, "title": "the reference", "can_delete_objects": true}, nil)

	tasks := ls.importTasks(project, []map[string]any{
		{"data": map[string]any{"image": "https://example.com/a.jpg"}, "meta": map[string]any{"k": "v"}},
		{"data": map[string]any{"image": "https://example.com/b.jpg"}, "allow_skip": false},
	})
	a1 := ls.annotate(tasks[0], map[string]any{"result": choice("cat"), "lead_time": 2.5})
	a2 := ls.annotate(tasks[1], map[string]any{"result": choice("dog"), "ground_truth": true})
	a3 := ls.annotate(tasks[0], map[string]any{"result": []any{}, "was_cancelled": true})
	ls.call(http.MethodPatch, fmt.Sprintf("/api/annotations/%d/", a1), map[string]any{"result": choice("dog")}, nil)

	for _, id := range []int64{a1, a2, a3} {
		t.Run(strconv.FormatInt(id, 10), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, strconv.FormatInt(id, 10)))
			if err != nil {
				t.Fatalf("Label Studio's export storage wrote no file: %v", err)
			}
			got, err := ls.client.Annotation(ctx, project, id)
			if err != nil {
				t.Fatal(err)
			}
			var want, have map[string]any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got.Body, &have); err != nil {
				t.Fatalf("Body is no JSON object: %v", err)
			}
			if got.ID != id || got.Task != int64(want["task"].(map[string]any)["id"].(float64)) {
				t.Errorf("ID, Task = %d, %d", got.ID, got.Task)
			}
			if wu, _ := time.Parse(time.RFC3339Nano, want["updated_at"].(string)); !got.UpdatedAt.Equal(wu) {
				t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, wu)
			}
			for _, f := range unstableTaskFields {
				wt, ht := want["task"].(map[string]any), have["task"].(map[string]any)
				if _, ok := ht[f]; !ok {
					t.Errorf("task.%s missing", f)
				}
				delete(wt, f)
				delete(ht, f)
			}
			if !reflect.DeepEqual(have, want) {
				wj, _ := json.MarshalIndent(want, "", " ")
				hj, _ := json.MarshalIndent(have, "", " ")
				t.Errorf("Body differs from Label Studio's file\n got %s\nwant %s", hj, wj)
			}
		})
	}

	t.Run("ids", func(t *testing.T) {
		all := []int64{a1, a2, a3}
		slices.Sort(all)
		tests := []struct {
			after int64
			limit int
			want  []int64
		}{
			{0, 10, all},
			{all[0], 10, all[1:]},
			{0, 2, all[:2]},
			{all[2], 10, nil},
			{0, 0, nil},
		}
		for _, tt := range tests {
			got, err := ls.client.AnnotationIDs(ctx, project, tt.after, tt.limit)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("AnnotationIDs(after %d, limit %d) = %v, %v; want %v", tt.after, tt.limit, got, err, tt.want)
			}
		}
	})

	t.Run("missing", func(t *testing.T) {
		other := ls.project(imageConfig)
		ls.call(http.MethodDelete, fmt.Sprintf("/api/annotations/%d/", a3), nil, nil)
		for _, tt := range []struct {
			project, id int64
		}{{project, a3}, {other, a1}, {project, 1 << 40}} {
			if _, err := ls.client.Annotation(ctx, tt.project, tt.id); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("Annotation(%d, %d) = %v, want ErrNotFound", tt.project, tt.id, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, strconv.FormatInt(a3, 10))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Label Studio kept the deleted annotation's file: %v", err)
		}
		if got, err := ls.client.AnnotationIDs(ctx, other, 0, 10); err != nil || len(got) != 0 {
			t.Errorf("AnnotationIDs of a project without annotations = %v, %v", got, err)
		}
	})
}

// delivery is a webhook delivery received.
type delivery struct {
	secret  string
	payload map[string]any
}

// TestWebhooksAreDelivered: a webhook registered with RegisterWebhook gets
// the annotation events, synchronously, with its headers; removed, it gets
// none.
func TestWebhooksAreDelivered(t *testing.T) {
	ls := newRealLS(t)
	ctx := context.Background()
	var (
		mu  sync.Mutex
		got []delivery
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(b, &p)
		mu.Lock()
		got = append(got, delivery{secret: r.Header.Get("X-Export-Secret"), payload: p})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	take := func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	project := ls.project(imageConfig)
	id, err := ls.client.RegisterWebhook(ctx, core.Webhook{Project: project, URL: srv.URL + "/hook",
		Headers: map[string]string{"X-Export-Secret": "s3cret"},
		Actions: []string{"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"}})
	if err != nil {
		t.Fatal(err)
	}
	var hook map[string]any
	ls.call(http.MethodGet, fmt.Sprintf("/api/webhooks/%d/", id), nil, &hook)
	if hook["project"] != float64(project) || hook["send_payload"] != true || hook["send_for_all_actions"] != false || hook["is_active"] != true {
		t.Errorf("registered webhook = %v", hook)
	}

	tasks := ls.importTasks(project, []map[string]any{{"data": map[string]any{"image": "https://example.com/a.jpg"}}})
	// Each delivery has arrived when the API call that caused it answers:
	// Label Studio without Redis sends webhooks synchronously.
	a := ls.annotate(tasks[0], map[string]any{"result": choice("cat")})
	ls.call(http.MethodPatch, fmt.Sprintf("/api/annotations/%d/", a), map[string]any{"result": choice("dog")}, nil)
	ls.call(http.MethodDelete, fmt.Sprintf("/api/annotations/%d/", a), nil, nil)
	ds := take()
	want := []string{"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"}
	if len(ds) != len(want) {
		t.Fatalf("%d deliveries, want %d: %+v", len(ds), len(want), ds)
	}
	for i, d := range ds {
		if d.payload["action"] != want[i] || d.secret != "s3cret" {
			t.Errorf("delivery %d: action %v, secret header %q", i, d.payload["action"], d.secret)
		}
		if p, _ := d.payload["project"].(map[string]any); p["id"] != float64(project) {
			t.Errorf("delivery %d: project %v", i, d.payload["project"])
		}
	}
	for _, d := range ds[:2] {
		ann, _ := d.payload["annotation"].(map[string]any)
		if ann["id"] != float64(a) || ann["task"] != float64(tasks[0]) || ann["updated_at"] == nil {
			t.Errorf("%v: annotation %v", d.payload["action"], ann)
		}
	}
	if del, _ := ds[2].payload["annotations"].([]any); len(del) != 1 || del[0].(map[string]any)["id"] != float64(a) {
		t.Errorf("ANNOTATIONS_DELETED: annotations %v", ds[2].payload["annotations"])
	}

	if err := ls.client.RemoveWebhook(ctx, id); err != nil {
		t.Fatal(err)
	}
	ls.annotate(tasks[0], map[string]any{"result": choice("cat")})
	if ds := take(); len(ds) != 0 {
		t.Errorf("a removed webhook got %d deliveries", len(ds))
	}
	if err := ls.client.RemoveWebhook(ctx, id); err != nil {
		t.Errorf("removing a removed webhook: %v", err)
	}
}
