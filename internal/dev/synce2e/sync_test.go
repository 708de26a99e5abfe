//go:build integration

// Package synce2e proves the sync against the real parts: make run's
// server (the local front door, the sync worker behind a local SQS queue in
// moto), a real Label Studio OSS and label-studio-sdk, and the fake
// workspace.
package synce2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localservice"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const volume = "/Volumes/main/default/landing"

// env is one Label Studio user, a fake workspace and the service.
type env struct {
	t     *testing.T
	ls    *devls.Server
	user  devls.User
	ws    *fakeworkspace.Server
	svc   *localservice.Service
	tasks labelstudio.Tasks
}

func newEnv(t *testing.T, pageSize int) *env {
	t.Helper()
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	user, err := ls.Admin().SignUp(context.Background(), fmt.Sprintf("sync-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	ws := fakeworkspace.New()
	ws.AddPAT(fakeworkspace.DefaultPAT)
	ws.AddDirectory(volume + "/images")
	ws.AddDirectory(volume + "/tasks")
	if pageSize > 0 {
		ws.SetPageSize(pageSize)
	}
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	e := &env{t: t, ls: ls, user: user, ws: ws}
	e.svc = localservice.Start(t, localservice.Options{LabelStudioURL: ls.URL, LabelStudioToken: ls.Token, Workspace: ws})
	// The user's own view of the project's tasks and where they came from.
	e.tasks = labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: ls.URL, Service: staticCredential("Token " + user.Token)}}
	return e
}

type staticCredential string

func (c staticCredential) Authorization(context.Context) (string, error) { return string(c), nil }
func (staticCredential) Invalidate()                                     {}

// call sends a request through the front door as the user.
func (e *env) call(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.svc.URL+path, rd)
	req.Header.Set("Authorization", "Token "+e.user.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (e *env) project(config string) int64 {
	e.t.Helper()
	status, p := e.call(http.MethodPost, "/api/projects", map[string]any{"title": "sync", "label_config": config})
	if status != http.StatusCreated {
		e.t.Fatalf("create project: %d %v", status, p)
	}
	return int64(p["id"].(float64))
}

func (e *env) storage(project int64, fields map[string]any) int64 {
	e.t.Helper()
	body := map[string]any{"project": project, "host": e.ws.URL(), "catalog": "main", "schema": "default", "volume": "landing",
		"token": fakeworkspace.DefaultPAT}
	for k, v := range fields {
		body[k] = v
	}
	status, s := e.call(http.MethodPost, "/api/storages/databricks/", body)
	if status != http.StatusCreated {
		e.t.Fatalf("create storage: %d %v", status, s)
	}
	return int64(s["id"].(float64))
}

// sync starts a sync and polls the storage until it settles.
func (e *env) sync(id int64, timeout time.Duration) map[string]any {
	e.t.Helper()
	status, s := e.call(http.MethodPost, fmt.Sprintf("/api/storages/databricks/%d/sync", id), nil)
	if status != http.StatusOK || (s["status"] != "queued" && s["status"] != "in_progress") {
		e.t.Fatalf("sync: %d %v", status, s)
	}
	return e.settle(id, s["last_sync_job"].(string), timeout)
}

func (e *env) settle(id int64, job string, timeout time.Duration) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		status, s := e.call(http.MethodGet, fmt.Sprintf("/api/storages/databricks/%d", id), nil)
		if status != http.StatusOK {
			e.t.Fatalf("get: %d %v", status, s)
		}
		if st := s["status"]; s["last_sync_job"] == job && (st == "completed" || st == "completed_with_errors" || st == "failed") {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the sync did not settle in %s: %v\n%s", timeout, s, tail(e.svc.Logs.String()))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

// origins returns, per file key and row, the ids of the project's tasks
// that came from the storage.
func (e *env) origins(project, storage int64) map[string][]int64 {
	e.t.Helper()
	got, err := e.tasks.OriginsAfter(context.Background(), project, storage, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]int64{}
	for _, t := range got {
		k := fmt.Sprintf("%s#%d", t.Origin.Key, t.Origin.Row)
		out[k] = append(out[k], t.ID)
	}
	return out
}

// taskCount is the project's number of tasks, whatever their origin.
func (e *env) taskCount(project int64) int {
	e.t.Helper()
	status, p := e.call(http.MethodGet, fmt.Sprintf("/api/projects/%d", project), nil)
	if status != http.StatusOK {
		e.t.Fatalf("get project: %d %v", status, p)
	}
	return int(p["task_number"].(float64))
}

// exactlyOnce checks that each key is in exactly one task (row 0) and that
// the project holds nothing else.
func (e *env) exactlyOnce(project, storage int64, keys []string) {
	e.t.Helper()
	got := e.origins(project, storage)
	for _, k := range keys {
		if ids := got[k+"#0"]; len(ids) != 1 {
			e.t.Errorf("%s is in %d tasks %v, want 1", k, len(ids), ids)
		}
	}
	if n := e.taskCount(project); n != len(keys) {
		e.t.Errorf("the project holds %d tasks, want %d", n, len(keys))
	}
}

func meta(s map[string]any, key string) float64 {
	m, _ := s["meta"].(map[string]any)
	v, _ := m[key].(float64)
	return v
}

const imageConfig = `<View><Image name="img" value="$image"/><Choices name="c" toName="img"><Choice value="a"/></Choices></View>`

// TestSyncWithTheSDK: label-studio-sdk's sync and get, unchanged; the
// tasks in Label Studio hold this service's file links under the
// project's data key, which serve the file's bytes; a re-sync imports only
// new files and files whose task was deleted.
func TestSyncWithTheSDK(t *testing.T) {
	e := newEnv(t, 4) // pages of 4: the listing is continued page by page
	var pngs []string
	for i := range 12 {
		key := fmt.Sprintf("images/%c/%02d.png", 'a'+i%3, i)
		e.ws.AddFile(volume+"/"+key, []byte("png-"+key))
		pngs = append(pngs, key)
	}
	e.ws.AddFile(volume+"/images/notes.txt", []byte("not an image"))

	python, _ := filepath.Abs(filepath.Join("..", "..", "..", ".venv", "bin", "python"))
	script := exec.Command(python, "testdata/sdk_sync.py")
	script.Env = append(os.Environ(), "LS_BASE_URL="+e.svc.URL, "LS_API_KEY="+e.user.Token, "WORKSPACE_HOST="+e.ws.URL())
	out, err := script.CombinedOutput()
	if err != nil {
		t.Fatalf("label-studio-sdk script failed: %v\n%s\nservice log:\n%s", err, out, tail(e.svc.Logs.String()))
	}
	var ids struct{ Project, Storage int64 }
	var settled struct {
		Status        string         `json:"status"`
		LastSyncCount int            `json:"last_sync_count"`
		Meta          map[string]any `json:"meta"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	_ = json.Unmarshal([]byte(lines[0]), &ids)
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &settled)
	t.Logf("sdk: %s", out)
	if settled.Status != "completed" || settled.LastSyncCount != 12 {
		t.Fatalf("the SDK saw status %q, last_sync_count %d; want completed, 12", settled.Status, settled.LastSyncCount)
	}
	for _, k := range []string{"attempts", "time_queued", "time_in_progress", "time_completed", "duration", "tasks_existed"} {
		if _, ok := settled.Meta[k]; !ok {
			t.Errorf("meta lacks %s: %v", k, settled.Meta)
		}
	}
	e.exactlyOnce(ids.Project, ids.Storage, pngs)

	t.Run("task data is a file link that serves the file", func(t *testing.T) {
		origins := e.origins(ids.Project, ids.Storage)
		id := origins[pngs[4]+"#0"][0]
		status, task := e.call(http.MethodGet, fmt.Sprintf("/api/tasks/%d", id), nil)
		if status != http.StatusOK {
			t.Fatalf("get task: %d %v", status, task)
		}
		data, _ := task["data"].(map[string]any)
		link, _ := data["image"].(string)
		prefix := fmt.Sprintf("%s/data/databricks/%d/", e.svc.URL, ids.Storage)
		if !strings.HasPrefix(link, prefix) || !strings.HasSuffix(link, "/"+pngs[4]) {
			t.Fatalf("task data %v, want a file link under %s for %s", data, prefix, pngs[4])
		}
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "png-"+pngs[4] {
			t.Fatalf("the link answered %d %q, want the file's bytes", resp.StatusCode, body)
		}
	})

	t.Run("re-sync imports only new files and deleted tasks", func(t *testing.T) {
		e.ws.AddFile(volume+"/images/c/new.png", []byte("new"))
		deleted := e.origins(ids.Project, ids.Storage)[pngs[7]+"#0"][0]
		if status, body := e.call(http.MethodDelete, fmt.Sprintf("/api/tasks/%d", deleted), nil); status != http.StatusNoContent {
			t.Fatalf("delete task: %d %v", status, body)
		}
		s := e.sync(ids.Storage, 2*time.Minute)
		if s["status"] != "completed" || s["last_sync_count"].(float64) != 2 || meta(s, "tasks_existed") != 11 {
			t.Fatalf("re-sync: %v; want completed, 2 created, 11 existed", s)
		}
		e.exactlyOnce(ids.Project, ids.Storage, append(pngs, "images/c/new.png"))
	})

	t.Run("a sync while one runs changes nothing", func(t *testing.T) {
		_, first := e.call(http.MethodPost, fmt.Sprintf("/api/storages/databricks/%d/sync", ids.Storage), nil)
		status, second := e.call(http.MethodPost, fmt.Sprintf("/api/storages/databricks/%d/sync", ids.Storage), nil)
		if status != http.StatusOK {
			t.Fatalf("second sync: %d %v", status, second)
		}
		if second["status"] != "completed" && second["last_sync_job"] != first["last_sync_job"] {
			t.Fatalf("a sync while one was %v started another: %v", first["status"], second["last_sync_job"])
		}
		e.settle(ids.Storage, second["last_sync_job"].(string), 2*time.Minute)
		e.exactlyOnce(ids.Project, ids.Storage, append(pngs, "images/c/new.png"))
	})
}

// TestSyncScopes: recursive_scan and regex_filter as Label Studio reads
// them (re.match on the full key).
func TestSyncScopes(t *testing.T) {
	e := newEnv(t, 0)
	for _, k := range []string{"images/top.png", "images/top.jpg", "images/deep/a.png", "images/deep/deeper/b.png"} {
		e.ws.AddFile(volume+"/"+k, []byte(k))
	}
	cases := []struct {
		name   string
		fields map[string]any
		want   []string
	}{
		{"direct children only", map[string]any{"prefix": "images", "recursive_scan": false, "use_blob_urls": true},
			[]string{"images/top.png", "images/top.jpg"}},
		{"recursive with a filter", map[string]any{"prefix": "images", "recursive_scan": true, "use_blob_urls": true, "regex_filter": `images/deep/.*\.png`},
			[]string{"images/deep/a.png", "images/deep/deeper/b.png"}},
		{"filter anchored at the start", map[string]any{"prefix": "images", "recursive_scan": true, "use_blob_urls": true, "regex_filter": `deep`},
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := e.project(imageConfig)
			id := e.storage(p, c.fields)
			s := e.sync(id, 2*time.Minute)
			if s["status"] != "completed" || int(s["last_sync_count"].(float64)) != len(c.want) {
				t.Fatalf("sync: %v; want completed with %d tasks", s, len(c.want))
			}
			e.exactlyOnce(p, id, c.want)
		})
	}
}

// TestSyncJSONTasks: with use_blob_urls off, each file's items are tasks,
// with their annotations; a file that cannot be read is named and the
// rest imported.
func TestSyncJSONTasks(t *testing.T) {
	e := newEnv(t, 0)
	e.ws.AddFile(volume+"/tasks/a.json", []byte(`[{"data": {"text": "a1"}, "annotations": [{"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}]}]}, {"text": "a2"}]`))
	e.ws.AddFile(volume+"/tasks/b.jsonl", []byte("{\"text\": \"b1\"}\n{\"data\": {\"text\": \"b2\"}}\n"))
	e.ws.AddFile(volume+"/tasks/bad.json", []byte(`{"text": `))
	p := e.project(`<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>`)
	id := e.storage(p, map[string]any{"prefix": "tasks", "use_blob_urls": false})
	s := e.sync(id, 2*time.Minute)
	if s["status"] != "completed_with_errors" || s["last_sync_count"].(float64) != 4 || meta(s, "tasks_failed_validation") != 1 {
		t.Fatalf("sync: %v; want completed_with_errors, 4 tasks, 1 failed", s)
	}
	if tb, _ := s["traceback"].(string); !strings.Contains(fmt.Sprint(s["meta"]), "tasks/bad.json") || tb == "" {
		t.Fatalf("the outcome does not name the bad file: %v", s)
	}
	got := e.origins(p, id)
	for _, k := range []string{"tasks/a.json#0", "tasks/a.json#1", "tasks/b.jsonl#0", "tasks/b.jsonl#1"} {
		if len(got[k]) != 1 {
			t.Errorf("%s is in %d tasks, want 1", k, len(got[k]))
		}
	}
	status, task := e.call(http.MethodGet, fmt.Sprintf("/api/tasks/%d", got["tasks/a.json#0"][0]), nil)
	if status != http.StatusOK || task["total_annotations"].(float64) != 1 {
		t.Fatalf("the task of a.json's first item: %d %v; want its annotation", status, task)
	}
	// Again: nothing new.
	if s := e.sync(id, 2*time.Minute); s["last_sync_count"].(float64) != 0 {
		t.Fatalf("re-sync created %v tasks, want 0", s["last_sync_count"])
	}
}

// TestSyncRacingADelete: a storage deleted while its sync runs: the sync
// stops, nothing is imported twice, the storage's links go with it and
// its tasks stay (as in Label Studio).
func TestSyncRacingADelete(t *testing.T) {
	e := newEnv(t, 100)
	var keys []string
	for i := range 3000 {
		k := fmt.Sprintf("images/%04d.png", i)
		e.ws.AddFile(volume+"/"+k, []byte(k))
		keys = append(keys, k)
	}
	p := e.project(imageConfig)
	id := e.storage(p, map[string]any{"prefix": "images", "use_blob_urls": true})
	if status, s := e.call(http.MethodPost, fmt.Sprintf("/api/storages/databricks/%d/sync", id), nil); status != http.StatusOK {
		t.Fatalf("sync: %d %v", status, s)
	}
	// Let a step or two run.
	deadline := time.Now().Add(time.Minute)
	for e.taskCount(p) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if status, body := e.call(http.MethodDelete, fmt.Sprintf("/api/storages/databricks/%d", id), nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %v", status, body)
	}
	// The links go, and the tasks stop growing.
	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	var links int32
	for deadline = time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		out, err := db.Query(context.Background(), &dynamodb.QueryInput{
			TableName: aws.String(e.svc.Table), IndexName: aws.String(dynamostore.LinkIndex),
			KeyConditionExpression:    aws.String("link_storage = :s"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberN{Value: fmt.Sprint(id)}},
			Select:                    types.SelectCount,
		})
		if err != nil {
			t.Fatal(err)
		}
		if links = out.Count; links == 0 {
			break
		}
	}
	if links != 0 {
		t.Fatalf("%d links of the deleted storage are left", links)
	}
	n := e.taskCount(p)
	time.Sleep(3 * time.Second)
	if after := e.taskCount(p); after != n || n >= len(keys) || n == 0 {
		t.Fatalf("tasks: %d at the links' removal, %d later, of %d files; want a part, and no more after the delete", n, after, len(keys))
	}
	for k, ids := range e.origins(p, id) {
		if len(ids) != 1 {
			t.Errorf("%s is in %d tasks", k, len(ids))
		}
	}
	if status, _ := e.call(http.MethodGet, fmt.Sprintf("/api/storages/databricks/%d", id), nil); status != http.StatusNotFound {
		t.Fatalf("the deleted storage answers %d, want 404", status)
	}
}

// TestSync100000Files: a volume of 100,000 files syncs completely, page by
// page (the workspace's pages of 1,000), each file in exactly one task.
func TestSync100000Files(t *testing.T) {
	if os.Getenv("SYNC_E2E_FILES") == "" && testing.Short() {
		t.Skip("short")
	}
	const n = 100000
	e := newEnv(t, fakeworkspace.MaxPageSize)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("images/%03d/%06d.png", i%100, i)
		e.ws.AddGeneratedFile(volume+"/"+keys[i], 16, byte(i), "image/png")
	}
	p := e.project(imageConfig)
	id := e.storage(p, map[string]any{"prefix": "images", "use_blob_urls": true, "recursive_scan": true})
	start := time.Now()
	s := e.sync(id, 20*time.Minute)
	took := time.Since(start)
	t.Logf("100,000 files synced in %s (%.0f files/s): %v", took.Round(time.Second), n/took.Seconds(), s["meta"])
	if s["status"] != "completed" || int(s["last_sync_count"].(float64)) != n {
		t.Fatalf("sync: %v; want completed with %d tasks", s, n)
	}
	e.exactlyOnce(p, id, keys)
}
