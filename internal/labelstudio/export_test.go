package labelstudio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// Answers of Label Studio 1.23.2 for annotation 5 of task 3 of project 7,
// as a running one gives them.
const (
	lsAnnotation = `{"id":5,"completed_by":{"id":1,"first_name":"Ada","last_name":"L","email":"ada@example.com","avatar":null,"initials":"AL"},
		"result":[{"from_name":"c","to_name":"text","type":"choices","value":{"choices":["b"]}}],"created_username":"Ada L ada@example.com, 1",
		"created_ago":"0\u00a0minutes","was_cancelled":false,"ground_truth":false,"created_at":"2026-12-03T19:10:14.415199Z",
		"updated_at":"2026-12-03T19:10:16.008102Z","draft_created_at":null,"lead_time":1.5,"import_id":null,"last_action":null,
		"bulk_created":false,"task":3,"project":7,"updated_by":1,"parent_prediction":null,"parent_annotation":null,"last_created_by":null}`
	lsTaskAnswer = `{"id":3,"predictions":[],"annotations":[],"drafts":[],"annotators":[1],"inner_id":1,"cancelled_annotations":0,
		"total_annotations":1,"total_predictions":0,"completed_at":"2026-12-03T19:10:14.415199Z","annotations_results":"",
		"predictions_results":"","predictions_score":null,"file_upload":null,"storage_filename":null,"annotations_ids":"5",
		"predictions_model_versions":"","avg_lead_time":1.5,"draft_exists":false,"updated_by":[{"user_id":1}],
		"data":{"text":"hello"},"meta":{"k":1},"created_at":"2026-12-03T19:10:14.198495Z","updated_at":"2026-12-03T19:10:16.300985Z",
		"is_labeled":true,"overlap":1,"comment_count":0,"unresolved_comment_count":0,"last_comment_updated_at":null,"project":7,
		"comment_authors":[]}`
	lsExport = `[{"id":3,"allow_skip":false,"annotations":[],"data":{"text":"hello"}}]`
	// wantStorageJSON is the file Label Studio's target storage writes.
	wantStorageJSON = `{"id":5,"completed_by":{"id":1,"first_name":"Ada","last_name":"L","email":"ada@example.com"},
		"result":[{"from_name":"c","to_name":"text","type":"choices","value":{"choices":["b"]}}],"created_username":"Ada L ada@example.com, 1",
		"created_ago":"0\u00a0minutes","was_cancelled":false,"ground_truth":false,"created_at":"2026-12-03T19:10:14.415199Z",
		"updated_at":"2026-12-03T19:10:16.008102Z","draft_created_at":null,"lead_time":1.5,"import_id":null,"last_action":null,
		"bulk_created":false,"project":7,"updated_by":1,"parent_prediction":null,"parent_annotation":null,"last_created_by":null,
		"task":{"id":3,"data":{"text":"hello"},"meta":{"k":1},"created_at":"2026-12-03T19:10:14.198495Z","updated_at":"2026-12-03T19:10:16.300985Z",
		"is_labeled":true,"overlap":1,"file_upload":null,"inner_id":1,"updated_by":1,"total_annotations":1,"cancelled_annotations":0,
		"total_predictions":0,"comment_count":0,"unresolved_comment_count":0,"last_comment_updated_at":null,"project":7,
		"comment_authors":[],"allow_skip":false,"precomputed_agreement":null}}`
)

// fakeExportLS answers the export's calls from canned bodies; override
// replaces the answer of a path ("METHOD /path").
type fakeExportLS struct {
	mu       sync.Mutex
	override map[string]func(w http.ResponseWriter, r *http.Request)
	seen     []*http.Request
	bodies   []string
}

func (f *fakeExportLS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, r)
	f.bodies = append(f.bodies, string(b))
	h := f.override[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if r.Header.Get("Authorization") != serviceToken {
		lsError(w, http.StatusUnauthorized, "Invalid token.")
		return
	}
	if h != nil {
		h(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "GET /api/annotations/5/":
		if r.URL.Query().Get("expand") != "completed_by" {
			lsError(w, 400, "not expanded")
			return
		}
		io.WriteString(w, lsAnnotation)
	case "GET /api/tasks/3/":
		io.WriteString(w, lsTaskAnswer)
	case "GET /api/projects/7/export":
		if q := r.URL.Query(); q.Get("exportType") != "JSON" || q.Get("ids[]") != "3" {
			lsError(w, 400, "bad export")
			return
		}
		io.WriteString(w, lsExport)
	case "POST /api/webhooks/":
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":12,"project":7}`)
	case "DELETE /api/webhooks/12/":
		w.WriteHeader(http.StatusNoContent)
	default:
		lsError(w, http.StatusNotFound, "Not found.")
	}
}

func answer(status int, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestAnnotationIsTheTargetStorageFormat(t *testing.T) {
	c := taskClient(t, &fakeExportLS{})
	got, err := c.Annotation(context.Background(), 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	var have, want any
	if err := json.Unmarshal(got.Body, &have); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(wantStorageJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("Body = %s\nwant %s", got.Body, wantStorageJSON)
	}
	wantTime := time.Date(2026, 12, 3, 19, 10, 16, 8102000, time.UTC)
	if got.ID != 5 || got.Task != 3 || !got.UpdatedAt.Equal(wantTime) {
		t.Errorf("ID %d Task %d UpdatedAt %v", got.ID, got.Task, got.UpdatedAt)
	}
}

func TestAnnotationErrors(t *testing.T) {
	tests := []struct {
		name     string
		override map[string]func(w http.ResponseWriter, r *http.Request)
		project  int64
		want     []error
		notWant  error
	}{
		{"annotation gone", map[string]func(http.ResponseWriter, *http.Request){"GET /api/annotations/5/": answer(404, `{"detail":"Not found."}`)}, 7,
			[]error{core.ErrNotFound, core.ErrTasksRefused}, core.ErrTasksUnavailable},
		{"of another project", nil, 8, []error{core.ErrNotFound, core.ErrTasksRefused}, nil},
		{"task gone", map[string]func(http.ResponseWriter, *http.Request){"GET /api/tasks/3/": answer(404, `{"detail":"Not found."}`)}, 7,
			[]error{core.ErrNotFound}, nil},
		{"task not in the export", map[string]func(http.ResponseWriter, *http.Request){"GET /api/projects/7/export": answer(200, `[]`)}, 7,
			[]error{core.ErrNotFound}, nil},
		{"forbidden", map[string]func(http.ResponseWriter, *http.Request){"GET /api/annotations/5/": answer(403, `{"detail":"no"}`)}, 7,
			[]error{core.ErrTasksRefused}, core.ErrNotFound},
		{"server error", map[string]func(http.ResponseWriter, *http.Request){"GET /api/tasks/3/": answer(502, `oops`)}, 7,
			[]error{core.ErrTasksUnavailable}, core.ErrNotFound},
		{"not JSON", map[string]func(http.ResponseWriter, *http.Request){"GET /api/annotations/5/": answer(200, `<html>`)}, 7,
			[]error{core.ErrTasksUnavailable}, nil},
		{"another annotation", map[string]func(http.ResponseWriter, *http.Request){"GET /api/annotations/5/": answer(200, `{"id":6,"task":3,"project":7}`)}, 7,
			[]error{core.ErrTasksUnavailable}, nil},
		{"completed_by not expanded", map[string]func(http.ResponseWriter, *http.Request){"GET /api/annotations/5/": answer(200, `{"id":5,"task":3,"project":7,"completed_by":1}`)}, 7,
			[]error{core.ErrTasksUnavailable}, nil},
		{"task without a field", map[string]func(http.ResponseWriter, *http.Request){"GET /api/tasks/3/": answer(200, `{"id":3,"updated_by":[]}`)}, 7,
			[]error{core.ErrTasksUnavailable}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := taskClient(t, &fakeExportLS{override: tt.override})
			_, err := c.Annotation(context.Background(), tt.project, 5)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want %v", err, w)
				}
			}
			if tt.notWant != nil && errors.Is(err, tt.notWant) {
				t.Errorf("err = %v, also %v", err, tt.notWant)
			}
		})
	}
}

// annotatedLS is the data manager's task list of tasks holding the
// annotations of ids (task id → annotation ids), filtered as Label Studio
// filters on annotations_ids and tasks:id.
type annotatedLS struct {
	tasks map[int64][]int64
	lists int
}

func (a *annotatedLS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.lists++
	q := r.URL.Query()
	var query struct {
		Filters struct {
			Items []struct {
				Filter, Operator string
				Value            int64
			}
		}
		Ordering []string
	}
	if r.URL.Path != "/api/tasks/" || q.Get("include") != "id,annotations_ids" || json.Unmarshal([]byte(q.Get("query")), &query) != nil ||
		len(query.Filters.Items) != 2 || query.Filters.Items[0].Filter != "filter:tasks:annotations_ids" || query.Filters.Items[0].Operator != "greater" ||
		query.Filters.Items[1].Filter != "filter:tasks:id" || !slices.Equal(query.Ordering, []string{"tasks:id"}) {
		lsError(w, 400, "unexpected list "+r.URL.RawQuery)
		return
	}
	after, lastTask := query.Filters.Items[0].Value, query.Filters.Items[1].Value
	size, _ := strconv.Atoi(q.Get("page_size"))
	var ids []int64
	for id := range a.tasks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	type item struct {
		ID  int64  `json:"id"`
		IDs string `json:"annotations_ids"`
	}
	out := []item{}
	for _, id := range ids {
		anns := a.tasks[id]
		if id <= lastTask || !slices.ContainsFunc(anns, func(x int64) bool { return x > after }) || len(out) == size {
			continue
		}
		s := make([]string, len(anns))
		for i, x := range anns {
			s[i] = strconv.FormatInt(x, 10)
		}
		out = append(out, item{id, strings.Join(s, ",")})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"tasks": out, "total": len(out)})
}

func TestAnnotationIDs(t *testing.T) {
	// Annotation ids are not in task order; a task with many spans pages.
	tasks := map[int64][]int64{1: {9, 2}, 2: {5}, 4: {1}, 7: {8, 3}}
	for i := int64(100); i < 2600; i++ { // two and a half pages of tasks
		tasks[i] = []int64{10000 + 3000 - i}
	}
	tests := []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 6, []int64{1, 2, 3, 5, 8, 9}},
		{2, 3, []int64{3, 5, 8}},
		{9, 2, []int64{10401, 10402}},
		{12900, 10, nil},
		{0, 0, nil},
	}
	for _, tt := range tests {
		ls := &annotatedLS{tasks: tasks}
		c := taskClient(t, ls)
		got, err := c.AnnotationIDs(context.Background(), 7, tt.after, tt.limit)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("AnnotationIDs(after %d, limit %d) = %v, %v; want %v", tt.after, tt.limit, got, err, tt.want)
		}
		if tt.limit > 0 && tt.after < 10400 && ls.lists != 3 {
			t.Errorf("after %d: %d lists, want 3 pages", tt.after, ls.lists)
		}
	}
}

func TestWebhooks(t *testing.T) {
	f := &fakeExportLS{}
	c := taskClient(t, f)
	ctx := context.Background()
	id, err := c.RegisterWebhook(ctx, core.Webhook{Project: 7, URL: "https://svc.example/hook",
		Headers: map[string]string{"X-Secret": "s"}, Actions: []string{"ANNOTATION_CREATED"}})
	if err != nil || id != 12 {
		t.Fatalf("RegisterWebhook = %d, %v", id, err)
	}
	var sent, want map[string]any
	_ = json.Unmarshal([]byte(f.bodies[0]), &sent)
	_ = json.Unmarshal([]byte(`{"project":7,"url":"https://svc.example/hook","send_payload":true,"send_for_all_actions":false,
		"headers":{"X-Secret":"s"},"actions":["ANNOTATION_CREATED"],"is_active":true}`), &want)
	if !reflect.DeepEqual(sent, want) || f.seen[0].Method != "POST" || f.seen[0].URL.Path != "/api/webhooks/" {
		t.Errorf("sent %s %s %s", f.seen[0].Method, f.seen[0].URL.Path, f.bodies[0])
	}
	tests := []struct {
		status int
		want   error
	}{
		{204, nil},
		{404, nil},
		{403, core.ErrTasksRefused},
		{500, core.ErrTasksUnavailable},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			c := taskClient(t, &fakeExportLS{override: map[string]func(http.ResponseWriter, *http.Request){
				"DELETE /api/webhooks/12/": answer(tt.status, `{"detail":"x"}`)}})
			if err := c.RemoveWebhook(ctx, 12); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("RemoveWebhook after %d = %v, want %v", tt.status, err, tt.want)
			}
		})
	}
	for _, status := range []int{400, 500} {
		c := taskClient(t, &fakeExportLS{override: map[string]func(http.ResponseWriter, *http.Request){
			"POST /api/webhooks/": answer(status, `{"detail":"x"}`)}})
		if _, err := c.RegisterWebhook(ctx, core.Webhook{Project: 7}); err == nil {
			t.Errorf("RegisterWebhook after %d: no error", status)
		}
	}
}
