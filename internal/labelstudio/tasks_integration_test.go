//go:build integration

package labelstudio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// realLS is the Label Studio withls started, as the admin and as the
// service's client.
type realLS struct {
	t      *testing.T
	url    string
	admin  string // Authorization header
	client labelstudio.Tasks
}

func newRealLS(t *testing.T) *realLS {
	t.Helper()
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	admin := "Token " + ls.Token
	return &realLS{t: t, url: ls.URL, admin: admin,
		client: labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: ls.URL, Service: labelstudio.StaticCredential(admin)}}}
}

// call sends an admin request to Label Studio and decodes its 2xx answer.
func (r *realLS) call(method, path string, body, out any) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.url+path, rd)
	req.Header.Set("Authorization", r.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		r.t.Fatalf("%s %s: %d %.500s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (r *realLS) project(config string) int64 {
	r.t.Helper()
	var p struct{ ID int64 }
	body := map[string]string{"title": "tasks " + r.t.Name()}
	if config != "" {
		body["label_config"] = config
	}
	r.call(http.MethodPost, "/api/projects/", body, &p)
	return p.ID
}

type lsTask struct {
	ID          int64          `json:"id"`
	Project     int64          `json:"project"`
	Data        map[string]any `json:"data"`
	Meta        map[string]any `json:"meta"`
	Annotations []any          `json:"annotations"`
	Predictions []any          `json:"predictions"`
}

func (r *realLS) task(id int64) lsTask {
	r.t.Helper()
	var t lsTask
	r.call(http.MethodGet, fmt.Sprintf("/api/tasks/%d/", id), nil, &t)
	return t
}

const imageConfig = `<View><Image name="image" value="$image"/><Choices name="choice" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices></View>`

// textImageConfig names its data keys out of alphabetical order.
const textImageConfig = `<View><Text name="t" value="$text"/><Image name="i" value="$image"/><Choices name="c" toName="t"><Choice value="a"/></Choices></View>`

func newTasks(storage int64, n, from int) []core.NewTask {
	tasks := make([]core.NewTask, n)
	for i := range tasks {
		row := from + i
		tasks[i] = core.NewTask{
			Data:   map[string]any{"image": fmt.Sprintf("dbx://vol/images/%05d.jpg", row), "size": float64(row)},
			Origin: core.TaskOrigin{Storage: storage, Key: fmt.Sprintf("images/batch-%d.json", row/100), Row: row % 100},
		}
		if row%10 == 0 {
			tasks[i].Predictions = []any{map[string]any{"model_version": "v1", "result": []any{map[string]any{
				"from_name": "choice", "to_name": "image", "type": "choices", "value": map[string]any{"choices": []any{"cat"}}}}}}
		}
		if row%25 == 0 {
			tasks[i].Annotations = []any{map[string]any{"result": []any{map[string]any{
				"from_name": "choice", "to_name": "image", "type": "choices", "value": map[string]any{"choices": []any{"dog"}}}}}}
		}
	}
	return tasks
}

func TestTaskImportAgainstLabelStudio(t *testing.T) {
	ls := newRealLS(t)
	c := ls.client
	ctx := context.Background()
	const storage, other = 41, 42
	project := ls.project(imageConfig)

	last, err := c.LastTaskID(ctx, project)
	if err != nil || last != 0 {
		t.Fatalf("LastTaskID of a new project = %d, %v; want 0", last, err)
	}
	// A task of the storage from before the watermark.
	before, err := c.ImportTasks(ctx, project, newTasks(storage, 1, 9000))
	if err != nil {
		t.Fatal(err)
	}
	watermark, err := c.LastTaskID(ctx, project)
	if err != nil || watermark != before[0] {
		t.Fatalf("LastTaskID = %d, %v; want %d", watermark, err, before[0])
	}

	tasks := newTasks(storage, 1500, 0)
	began := time.Now()
	ids, err := c.ImportTasks(ctx, project, tasks)
	t.Logf("imported %d tasks in %s", len(tasks), time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(tasks) {
		t.Fatalf("%d ids for %d tasks", len(ids), len(tasks))
	}
	// Tasks of another storage after them.
	if _, err := c.ImportTasks(ctx, project, newTasks(other, 5, 0)); err != nil {
		t.Fatal(err)
	}

	// The ids are in the order of the tasks: each id's task holds the data
	// and origin sent at its place.
	for _, i := range []int{0, 1, 10, 25, 749, 1499} {
		got := ls.task(ids[i])
		if got.Project != project || !reflect.DeepEqual(got.Data, tasks[i].Data) {
			t.Errorf("task %d (id %d) = project %d, data %v; want %v", i, ids[i], got.Project, got.Data, tasks[i].Data)
		}
		o := tasks[i].Origin
		wantMeta := map[string]any{"databricks_storage": float64(o.Storage), "databricks_key": o.Key, "databricks_row": float64(o.Row)}
		if !reflect.DeepEqual(got.Meta, wantMeta) {
			t.Errorf("task %d meta = %v; want %v", i, got.Meta, wantMeta)
		}
		if len(got.Annotations) != len(tasks[i].Annotations) || len(got.Predictions) != len(tasks[i].Predictions) {
			t.Errorf("task %d has %d annotations, %d predictions; want %d, %d", i, len(got.Annotations), len(got.Predictions), len(tasks[i].Annotations), len(tasks[i].Predictions))
		}
	}

	// OriginsAfter finds exactly the imported tasks: not the one from
	// before the watermark, not those of the other storage.
	found, err := c.OriginsAfter(ctx, project, storage, watermark)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]core.ImportedTask, len(ids))
	for i, id := range ids {
		want[i] = core.ImportedTask{ID: id, Origin: tasks[i].Origin}
	}
	if !reflect.DeepEqual(found, want) {
		t.Fatalf("OriginsAfter found %d tasks; want the %d imported in order (first %v, want %v)", len(found), len(want), first(found), first(want))
	}
	all, err := c.OriginsAfter(ctx, project, storage, 0)
	if err != nil || len(all) != len(ids)+1 || all[0].ID != before[0] {
		t.Errorf("OriginsAfter(0) = %d tasks, %v; want the one before too", len(all), err)
	}
	if last, err := c.LastTaskID(ctx, project); err != nil || last <= ids[len(ids)-1] {
		t.Errorf("LastTaskID after the imports = %d, %v; want above %d", last, err, ids[len(ids)-1])
	}

	// Existing after deleting some tasks through Label Studio's API; ids
	// of no task and of another project's task are not among them.
	deleted := map[int64]bool{ids[0]: true, ids[1]: true, ids[999]: true, ids[1000]: true, ids[1499]: true}
	for id := range deleted {
		ls.call(http.MethodDelete, fmt.Sprintf("/api/tasks/%d/", id), nil, nil)
	}
	elsewhere := ls.project(imageConfig)
	otherIDs, err := c.ImportTasks(ctx, elsewhere, newTasks(storage, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	ask := append(slices.Clone(ids), otherIDs[0], 0, -3, 1<<40)
	exist, err := c.Existing(ctx, project, ask)
	if err != nil {
		t.Fatal(err)
	}
	wantExist := map[int64]bool{}
	for _, id := range ids {
		if !deleted[id] {
			wantExist[id] = true
		}
	}
	if !maps.Equal(exist, wantExist) {
		t.Errorf("Existing = %d ids; want %d (deleted %v)", len(exist), len(wantExist), slices.Sorted(maps.Keys(deleted)))
	}
}

func first(ts []core.ImportedTask) any {
	if len(ts) == 0 {
		return nil
	}
	return ts[0]
}

func TestDataKeysAgainstLabelStudio(t *testing.T) {
	ls := newRealLS(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{"image", imageConfig, []string{"image"}},
		{"two keys in the configuration's order", textImageConfig, []string{"text", "image"}},
		{"no configuration yet", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			project := ls.project(tc.config)
			got, err := ls.client.DataKeys(ctx, project)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("DataKeys = %q, %v; want %q", got, err, tc.want)
			}
			if len(got) == 0 {
				return
			}
			// Label Studio renames "$undefined$" to the first key.
			data := map[string]any{"$undefined$": "dbx://vol/first"}
			for _, k := range got[1:] {
				data[k] = "other"
			}
			ids, err := ls.client.ImportTasks(ctx, project, []core.NewTask{{Data: data, Origin: core.TaskOrigin{Storage: 1, Key: "first"}}})
			if err != nil {
				t.Fatal(err)
			}
			if v := ls.task(ids[0]).Data[got[0]]; v != "dbx://vol/first" {
				t.Errorf("Label Studio put $undefined$ elsewhere: data[%q] = %v", got[0], v)
			}
		})
	}
}

// TestTaskImportRefusals: what Label Studio refuses is ErrTasksRefused,
// summarised without the refused task's data or the credential, and
// creates nothing.
func TestTaskImportRefusals(t *testing.T) {
	ls := newRealLS(t)
	ctx := context.Background()
	project := ls.project(textImageConfig)
	secretData := "SECRET-DATA-in-a-task"
	tasks := []core.NewTask{
		{Data: map[string]any{"text": "fine", "image": "x"}, Origin: core.TaskOrigin{Storage: 3, Key: "a"}},
		{Data: map[string]any{"image": secretData}, Origin: core.TaskOrigin{Storage: 3, Key: "b"}},
	}
	_, err := ls.client.ImportTasks(ctx, project, tasks)
	t.Logf("an invalid task: %v", err)
	if !errors.Is(err, core.ErrTasksRefused) || strings.Contains(err.Error(), secretData) || !strings.Contains(err.Error(), `"text" key is expected`) {
		t.Errorf("an invalid task: %v; want ErrTasksRefused naming the missing key, without the task", err)
	}
	if last, err := ls.client.LastTaskID(ctx, project); err != nil || last != 0 {
		t.Errorf("after a refused import the project's last task is %d, %v; want none", last, err)
	}

	gone := int64(1 << 30)
	for name, call := range map[string]func(labelstudio.Tasks) error{
		"import":   func(c labelstudio.Tasks) error { _, err := c.ImportTasks(ctx, gone, tasks[:1]); return err },
		"last":     func(c labelstudio.Tasks) error { _, err := c.LastTaskID(ctx, gone); return err },
		"origins":  func(c labelstudio.Tasks) error { _, err := c.OriginsAfter(ctx, gone, 3, 0); return err },
		"existing": func(c labelstudio.Tasks) error { _, err := c.Existing(ctx, gone, []int64{1}); return err },
		"keys":     func(c labelstudio.Tasks) error { _, err := c.DataKeys(ctx, gone); return err },
	} {
		err := call(ls.client)
		t.Logf("%s in a project that does not exist: %v", name, err)
		if !errors.Is(err, core.ErrTasksRefused) {
			t.Errorf("%s in a project that does not exist: %v; want ErrTasksRefused", name, err)
		}
		bad := labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: ls.url, Service: labelstudio.StaticCredential("Token not-a-SECRET-token")}}
		if err := call(bad); !errors.Is(err, core.ErrTasksRefused) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s with a refused credential: %v; want ErrTasksRefused without the token", name, err)
		}
	}
}

// TestImportDuration measures an import of 1,000 tasks (reported, not
// asserted: it depends on the machine).
func TestImportDuration(t *testing.T) {
	ls := newRealLS(t)
	project := ls.project(imageConfig)
	began := time.Now()
	ids, err := ls.client.ImportTasks(context.Background(), project, newTasks(5, 1000, 0))
	if err != nil || len(ids) != 1000 {
		t.Fatalf("%d ids, %v", len(ids), err)
	}
	t.Logf("importing 1,000 tasks (40 with annotations, 100 with predictions) took %s", time.Since(began).Round(time.Millisecond))
}
