package labelstudio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// fakeTasks is a Label Studio's task API as the task import uses it: the
// import, the data manager's task list (filters on tasks:id, ordering by
// id, page_size, include) and columns, for the projects it holds.
type fakeTasks struct {
	mu      sync.Mutex
	tasks   map[int64][]fakeTask // project → tasks in id order
	keys    []string             // data keys of every project
	nextID  int64
	token   string // the Authorization it accepts
	imports atomic.Int64
	lists   atomic.Int64
	// answer, when set, answers instead (after counting the request).
	answer func(w http.ResponseWriter, r *http.Request) bool
}

type fakeTask struct {
	ID   int64
	Data map[string]any
	Meta json.RawMessage
}

func newFakeTasks() *fakeTasks {
	return &fakeTasks{tasks: map[int64][]fakeTask{7: nil}, keys: []string{"text", "image"}, nextID: 1, token: serviceToken}
}

func (f *fakeTasks) add(project int64, meta string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	f.tasks[project] = append(f.tasks[project], fakeTask{ID: id, Meta: json.RawMessage(meta)})
	return id
}

func lsError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":"x","status_code":%d,"version":"1.23.2","detail":%q,"exc_info":null}`, status, detail)
}

func (f *fakeTasks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		f.imports.Add(1)
	} else {
		f.lists.Add(1)
	}
	if f.answer != nil && f.answer(w, r) {
		return
	}
	if r.Header.Get("Authorization") != f.token {
		lsError(w, http.StatusUnauthorized, "Invalid token.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	project, _ := strconv.ParseInt(q.Get("project"), 10, 64)
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/projects/"):
		project, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/projects/"), "/import"), 10, 64)
		if _, ok := f.tasks[project]; !ok {
			lsError(w, http.StatusNotFound, "Not found.")
			return
		}
		var sent []struct {
			Data map[string]any  `json:"data"`
			Meta json.RawMessage `json:"meta"`
		}
		if err := json.NewDecoder(r.Body).Decode(&sent); err != nil || q.Get("return_task_ids") != "true" {
			lsError(w, http.StatusBadRequest, "bad import")
			return
		}
		ids := []int64{}
		for _, s := range sent {
			f.tasks[project] = append(f.tasks[project], fakeTask{ID: f.nextID, Data: s.Data, Meta: s.Meta})
			ids = append(ids, f.nextID)
			f.nextID++
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"task_count": len(ids), "task_ids": ids})
	case r.Method == http.MethodGet && r.URL.Path == "/api/dm/columns/":
		if _, ok := f.tasks[project]; !ok {
			lsError(w, http.StatusNotFound, "No Project matches the given query.")
			return
		}
		cols := []map[string]any{{"id": "id", "title": "ID", "visibility_defaults": map[string]bool{"labeling": false}}}
		for _, k := range f.keys {
			cols = append(cols, map[string]any{"id": k, "parent": "data", "visibility_defaults": map[string]bool{"labeling": true}})
		}
		cols = append(cols, map[string]any{"id": "imported_only", "parent": "data", "visibility_defaults": map[string]bool{"labeling": false}},
			map[string]any{"id": "data", "title": "data", "type": "List"})
		json.NewEncoder(w).Encode(map[string]any{"columns": cols})
	case r.Method == http.MethodGet && r.URL.Path == "/api/tasks/":
		tasks, ok := f.tasks[project]
		if !ok {
			lsError(w, http.StatusNotFound, "No Project matches the given query.")
			return
		}
		var query struct {
			Filters struct {
				Conjunction string
				Items       []struct {
					Filter, Operator, Type string
					Value                  int64
				}
			}
			Ordering []string
		}
		if err := json.Unmarshal([]byte(q.Get("query")), &query); err != nil {
			lsError(w, http.StatusBadRequest, "bad query")
			return
		}
		page := []map[string]any{}
		for _, t := range tasks {
			keep := true
			for _, it := range query.Filters.Items {
				switch {
				case it.Filter != "filter:tasks:id" || it.Type != "Number" || query.Filters.Conjunction != "and":
					keep = false
				case it.Operator == "greater":
					keep = keep && t.ID > it.Value
				case it.Operator == "less_or_equal":
					keep = keep && t.ID <= it.Value
				default:
					keep = false
				}
			}
			if keep {
				page = append(page, map[string]any{"id": t.ID, "meta": t.Meta, "data": t.Data})
			}
		}
		switch {
		case slices.Equal(query.Ordering, []string{"-tasks:id"}):
			slices.Reverse(page)
		case !slices.Equal(query.Ordering, []string{"tasks:id"}):
			lsError(w, http.StatusBadRequest, "unordered")
			return
		}
		size, _ := strconv.Atoi(q.Get("page_size"))
		if q.Get("page") != "1" || size < 1 {
			lsError(w, http.StatusNotFound, "Invalid page.")
			return
		}
		page = page[:min(size, len(page))]
		include := strings.Split(q.Get("include"), ",")
		for _, t := range page {
			maps.DeleteFunc(t, func(k string, _ any) bool { return !slices.Contains(include, k) })
		}
		json.NewEncoder(w).Encode(map[string]any{"total": len(page), "tasks": page})
	default:
		lsError(w, http.StatusNotFound, "Not found.")
	}
}

// rotating is a credential source that reads a new value after each
// Invalidate, as a rotated secret does.
type rotating struct {
	values      []string
	read        atomic.Int64
	invalidated atomic.Int64
}

func (r *rotating) Authorization(context.Context) (string, error) {
	i := int(r.invalidated.Load())
	r.read.Add(1)
	return r.values[min(i, len(r.values)-1)], nil
}

func (r *rotating) Invalidate() { r.invalidated.Add(1) }

func taskClient(t *testing.T, f http.Handler) labelstudio.Tasks {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: srv.URL, Service: labelstudio.StaticCredential(serviceToken), TaskTimeout: 2 * time.Second}}
}

func origin(storage int64, key string, row int) core.TaskOrigin {
	return core.TaskOrigin{Storage: storage, Key: key, Row: row}
}

func TestImportTasksSendsEachTaskWithItsOrigin(t *testing.T) {
	var body []byte
	f := newFakeTasks()
	f.answer = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			body, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"task_count":2,"annotation_count":1,"prediction_count":0,"task_ids":[11,12]}`)
			return true
		}
		return false
	}
	c := taskClient(t, f)
	ids, err := c.ImportTasks(context.Background(), 7, []core.NewTask{
		{Data: map[string]any{"image": "dbx://a.jpg"}, Origin: origin(3, "a.jpg", 0)},
		{Data: map[string]any{"text": "b"}, Annotations: []any{map[string]any{"result": []any{}}}, Origin: origin(3, "b.json", 4)},
	})
	if err != nil || !slices.Equal(ids, []int64{11, 12}) {
		t.Fatalf("ImportTasks = %v, %v", ids, err)
	}
	var sent []map[string]any
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"data": map[string]any{"image": "dbx://a.jpg"}, "meta": map[string]any{"databricks_storage": 3.0, "databricks_key": "a.jpg", "databricks_row": 0.0}},
		{"data": map[string]any{"text": "b"}, "annotations": []any{map[string]any{"result": []any{}}},
			"meta": map[string]any{"databricks_storage": 3.0, "databricks_key": "b.json", "databricks_row": 4.0}},
	}
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("sent %s", body)
	}
	if n := f.imports.Load(); n != 1 {
		t.Errorf("%d imports sent; want 1", n)
	}
	if ids, err := c.ImportTasks(context.Background(), 7, nil); err != nil || ids != nil || f.imports.Load() != 1 {
		t.Errorf("an import of no tasks = %v, %v and asked Label Studio", ids, err)
	}
}

// TestImportIsSentOnce: an import whose answer is lost or a failure is not
// sent again (the tasks may exist); only a 401, which creates nothing, is
// sent again, once, with the credential read again.
func TestImportIsSentOnce(t *testing.T) {
	task := []core.NewTask{{Data: map[string]any{"text": "a"}, Origin: origin(1, "a", 0)}}
	for _, tc := range []struct {
		name    string
		answer  func(w http.ResponseWriter, r *http.Request) bool
		want    error
		imports int64
	}{
		{"502", func(w http.ResponseWriter, _ *http.Request) bool { w.WriteHeader(http.StatusBadGateway); return true }, core.ErrTasksUnavailable, 1},
		{"429", func(w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, core.ErrTasksUnavailable, 1},
		{"connection dropped", func(w http.ResponseWriter, _ *http.Request) bool {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}, core.ErrTasksUnavailable, 1},
		{"no answer in time", func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
			return true
		}, core.ErrTasksUnavailable, 1},
		{"created but not Label Studio's JSON", func(w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `<html>`)
			return true
		}, core.ErrTasksUnavailable, 1},
		{"created without ids (an asynchronous import)", func(w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"import":5}`)
			return true
		}, core.ErrTasksUnavailable, 1},
		{"fewer ids than tasks", func(w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"task_count":0,"task_ids":[]}`)
			return true
		}, core.ErrTasksUnavailable, 1},
		{"401 twice", func(w http.ResponseWriter, _ *http.Request) bool {
			lsError(w, http.StatusUnauthorized, "Invalid token.")
			return true
		}, core.ErrTasksRefused, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTasks()
			f.answer = tc.answer
			c := taskClient(t, f)
			c.TaskTimeout = 300 * time.Millisecond
			_, err := c.ImportTasks(context.Background(), 7, task)
			if !errors.Is(err, tc.want) {
				t.Errorf("ImportTasks: %v; want %v", err, tc.want)
			}
			if n := f.imports.Load(); n != tc.imports {
				t.Errorf("the import was sent %d times; want %d", n, tc.imports)
			}
		})
	}
}

// TestServiceCredentialIsReadAgainOnce: a refused credential is read again
// once (rotated: the call succeeds); refused again, the tasks are refused.
func TestServiceCredentialIsReadAgainOnce(t *testing.T) {
	ctx := context.Background()
	task := []core.NewTask{{Data: map[string]any{"text": "a"}, Origin: origin(1, "a", 0)}}
	for name, call := range map[string]func(labelstudio.Tasks) error{
		"import":   func(c labelstudio.Tasks) error { _, err := c.ImportTasks(ctx, 7, task); return err },
		"last":     func(c labelstudio.Tasks) error { _, err := c.LastTaskID(ctx, 7); return err },
		"origins":  func(c labelstudio.Tasks) error { _, err := c.OriginsAfter(ctx, 7, 1, 0); return err },
		"existing": func(c labelstudio.Tasks) error { _, err := c.Existing(ctx, 7, []int64{1}); return err },
		"keys":     func(c labelstudio.Tasks) error { _, err := c.DataKeys(ctx, 7); return err },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeTasks()
			c := taskClient(t, f)
			cred := &rotating{values: []string{"Token old-SECRET-1", serviceToken}}
			c.Service = cred
			if err := call(c); err != nil || cred.invalidated.Load() != 1 {
				t.Errorf("after a rotation: %v, %d invalidations; want success after 1", err, cred.invalidated.Load())
			}
			cred = &rotating{values: []string{"Token old-SECRET-1", "Token old-SECRET-2", serviceToken}}
			c.Service = cred
			err := call(c)
			if !errors.Is(err, core.ErrTasksRefused) || strings.Contains(err.Error(), "SECRET") || cred.read.Load() != 2 {
				t.Errorf("refused twice: %v after %d reads; want ErrTasksRefused after 2, without the token", err, cred.read.Load())
			}
		})
	}
}

func TestTaskErrors(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(labelstudio.Tasks) error{
		"import": func(c labelstudio.Tasks) error {
			_, err := c.ImportTasks(ctx, 7, []core.NewTask{{Data: map[string]any{"text": "a"}}})
			return err
		},
		"last":     func(c labelstudio.Tasks) error { _, err := c.LastTaskID(ctx, 7); return err },
		"origins":  func(c labelstudio.Tasks) error { _, err := c.OriginsAfter(ctx, 7, 1, 0); return err },
		"existing": func(c labelstudio.Tasks) error { _, err := c.Existing(ctx, 7, []int64{1, 2}); return err },
		"keys":     func(c labelstudio.Tasks) error { _, err := c.DataKeys(ctx, 7); return err },
	}
	status := func(code int, body string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(code)
			fmt.Fprint(w, body)
			return true
		}
	}
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request) bool
		want   error
	}{
		{"500", status(500, `{"detail":"boom"}`), core.ErrTasksUnavailable},
		{"503 from a proxy", status(503, `<html>busy</html>`), core.ErrTasksUnavailable},
		{"429", status(429, ``), core.ErrTasksUnavailable},
		{"200 not JSON", status(200, `<html>login</html>`), core.ErrTasksUnavailable},
		{"200 another JSON", status(200, `{"something":"else"}`), core.ErrTasksUnavailable},
		{"201 not JSON", status(201, `<html>`), core.ErrTasksUnavailable},
		{"400", status(400, `{"detail":"Validation error"}`), core.ErrTasksRefused},
		{"403", status(403, `{"detail":"You do not have permission to perform this action."}`), core.ErrTasksRefused},
		{"404 project gone", status(404, `{"detail":"No Project matches the given query."}`), core.ErrTasksRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTasks()
			f.answer = tc.answer
			c := taskClient(t, f)
			for name, call := range calls {
				err := call(c)
				if !errors.Is(err, tc.want) || strings.Contains(err.Error(), "SECRET") {
					t.Errorf("%s: %v; want %v", name, err, tc.want)
				}
			}
		})
	}
	t.Run("no Label Studio", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: srv.URL, Service: labelstudio.StaticCredential(serviceToken)}}
		for name, call := range calls {
			if err := call(c); !errors.Is(err, core.ErrTasksUnavailable) {
				t.Errorf("%s: %v; want ErrTasksUnavailable", name, err)
			}
		}
	})
}

// TestRefusalIsSummarised: a refused import names Label Studio's reason
// but not the task it repeats after " :: " (the task's data), on one short
// line.
func TestRefusalIsSummarised(t *testing.T) {
	const prefix = `the tasks were refused by Label Studio: POST /api/projects/7/import answered 400`
	for _, tc := range []struct{ name, body, want string }{
		{"validation errors", `{"id":"x","status_code":400,"version":"1.23.2","detail":"Validation error","exc_info":null,"validation_errors":{"non_field_errors":[` +
			`"Error at item 1: \"text\" key is expected in task data [assume: item[\"data\"] = task root with values] :: {'data': {'image': 'SECRET-DATA'}}",` +
			`"Error at item 2: \"text\" key is expected in task data :: {'data': {'image': 'SECRET-DATA'}}"]}}`,
			prefix + `: Validation error: Error at item 1: "text" key is expected in task data (and 1 more)`},
		{"an item repeated", `{"validation_errors":{"non_field_errors":["Error at item 0: Task[data] must be dict :: {'data': 'SECRET-DATA'}"]}}`,
			prefix + `: Error at item 0: Task[data] must be dict`},
		{"a field", `{"detail":"Validation error","validation_errors":{"predictions":["Prediction validation failed (1 errors):\n- Task 0, prediction 0: ` + strings.Repeat("x", 5000) + `\n"]}}`,
			prefix + `: Validation error: predictions: Prediction validation failed (1 errors): - Task 0, prediction 0: ` + strings.Repeat("x", 300-len(`Validation error: predictions: Prediction validation failed (1 errors): - Task 0, prediction 0: `)) + "…"},
		{"not Label Studio's", `<html>SECRET-DATA</html>`, prefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTasks()
			f.answer = func(w http.ResponseWriter, r *http.Request) bool {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, tc.body)
				return true
			}
			_, err := taskClient(t, f).ImportTasks(context.Background(), 7, []core.NewTask{{Data: map[string]any{"image": "SECRET-DATA"}}})
			if !errors.Is(err, core.ErrTasksRefused) || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestListsArePagedByID(t *testing.T) {
	ctx := context.Background()
	f := newFakeTasks()
	f.tasks[8] = nil
	meta := func(storage int64, key string, row int) string {
		return fmt.Sprintf(`{"databricks_storage":%d,"databricks_key":%q,"databricks_row":%d}`, storage, key, row)
	}
	var want []core.ImportedTask
	f.add(7, meta(3, "before", 0))
	watermark := f.add(7, `{}`)
	for i := range 2500 {
		switch i % 5 {
		case 0:
			f.add(7, meta(4, "other storage", i))
		case 1:
			f.add(8, meta(3, "other project", i))
		case 2:
			// Not ours: another meta, or one of another shape.
			f.add(7, []string{`{}`, `null`, `"text"`, `{"databricks_storage":"3"}`, `{"databricks_storage":3}`}[i/5%5])
		default:
			id := f.add(7, meta(3, fmt.Sprintf("k%d", i), i%7))
			want = append(want, core.ImportedTask{ID: id, Origin: origin(3, fmt.Sprintf("k%d", i), i%7)})
		}
	}
	c := taskClient(t, f)

	before := f.lists.Load()
	got, err := c.OriginsAfter(ctx, 7, 3, watermark)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("OriginsAfter = %d tasks, %v; want %d", len(got), err, len(want))
	}
	// Project 7 holds 2000 tasks after the watermark: two full pages and
	// an empty one.
	if n := f.lists.Load() - before; n != 3 {
		t.Errorf("OriginsAfter asked %d times; want 3", n)
	}

	last, err := c.LastTaskID(ctx, 7)
	if err != nil || last != f.tasks[7][len(f.tasks[7])-1].ID {
		t.Errorf("LastTaskID = %d, %v", last, err)
	}
	if last, err := c.LastTaskID(ctx, 9); !errors.Is(err, core.ErrTasksRefused) {
		t.Errorf("LastTaskID of a project that is not there = %d, %v", last, err)
	}
	f.tasks[9] = nil
	if last, err := c.LastTaskID(ctx, 9); err != nil || last != 0 {
		t.Errorf("LastTaskID of an empty project = %d, %v", last, err)
	}

	// Existing: ids of the project, of another project, of no task; far
	// apart ids are read as separate ranges, not the tasks between.
	ids := []int64{want[0].ID, want[1].ID, want[1].ID, f.tasks[8][0].ID, want[len(want)-1].ID, 1 << 40, 0, -1}
	before = f.lists.Load()
	exist, err := c.Existing(ctx, 7, ids)
	wantExist := map[int64]bool{want[0].ID: true, want[1].ID: true, want[len(want)-1].ID: true}
	if err != nil || !maps.Equal(exist, wantExist) {
		t.Errorf("Existing = %v, %v; want %v", exist, err, wantExist)
	}
	if n := f.lists.Load() - before; n != 3 {
		t.Errorf("Existing asked %d times; want 3 (one per range)", n)
	}
	if exist, err := c.Existing(ctx, 7, nil); err != nil || len(exist) != 0 {
		t.Errorf("Existing of no ids = %v, %v", exist, err)
	}
}

// TestListThatDoesNotMoveOnIsAnError: a list answering tasks that are not
// past the last one read (a Label Studio ignoring the filter) ends with an
// error rather than looping for ever.
func TestListThatDoesNotMoveOnIsAnError(t *testing.T) {
	page := make([]map[string]int, labelstudio.TaskPageSize)
	for i := range page {
		page[i] = map[string]int{"id": i + 1}
	}
	f := newFakeTasks()
	f.answer = func(w http.ResponseWriter, r *http.Request) bool {
		json.NewEncoder(w).Encode(map[string]any{"tasks": page})
		return true
	}
	c := taskClient(t, f)
	if _, err := c.OriginsAfter(context.Background(), 7, 1, 0); !errors.Is(err, core.ErrTasksUnavailable) || f.lists.Load() != 2 {
		t.Errorf("OriginsAfter: %v after %d lists", err, f.lists.Load())
	}
}

func TestDataKeysInLabelStudiosOrder(t *testing.T) {
	f := newFakeTasks()
	c := taskClient(t, f)
	keys, err := c.DataKeys(context.Background(), 7)
	if err != nil || !slices.Equal(keys, []string{"text", "image"}) {
		t.Errorf("DataKeys = %q, %v", keys, err)
	}
	f.keys = nil
	if keys, err := c.DataKeys(context.Background(), 7); err != nil || len(keys) != 0 {
		t.Errorf("DataKeys without a configuration = %q, %v", keys, err)
	}
}
