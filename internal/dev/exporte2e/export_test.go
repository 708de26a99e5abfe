//go:build integration

// Package exporte2e proves the export storage against the real parts:
// make run's server (webhook intake, export queue in moto, export
// writer), a real Label Studio OSS that delivers the webhooks, the fake
// workspace the files land in, and label-studio-sdk 2.1.2.
package exporte2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localservice"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	volume = "/Volumes/main/default/landing"
	config = `<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>`
)

type env struct {
	t    *testing.T
	ls   devls.Client
	ws   *fakeworkspace.Server
	svc  *localservice.Service
	user devls.User
	src  labelstudio.Tasks
}

func (e *env) sdk(args ...string) map[string]any {
	e.t.Helper()
	python, _ := filepath.Abs(filepath.Join("..", "..", "..", ".venv", "bin", "python"))
	cmd := exec.Command(python, append([]string{"testdata/sdk_export_sync.py"}, args...)...)
	cmd.Env = append(os.Environ(), "LS_BASE_URL="+e.svc.URL, "LS_API_KEY="+e.user.Token, "WORKSPACE_HOST="+e.ws.URL())
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("label-studio-sdk %v: %v\n%s\nservice log:\n%s", args, err, out, tail(e.svc.Logs.String()))
	}
	var res map[string]any
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		e.t.Fatalf("sdk output %s: %v", out, err)
	}
	return res
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

func (e *env) do(method, path string, body, out any) {
	e.t.Helper()
	if err := e.ls.Do(context.Background(), method, path, body, out); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) annotate(task int64, choice string) int64 {
	e.t.Helper()
	var a struct {
		ID int64 `json:"id"`
	}
	e.do(http.MethodPost, fmt.Sprintf("/api/tasks/%d/annotations/", task), map[string]any{"result": result(choice)}, &a)
	return a.ID
}

func result(choice string) []map[string]any {
	return []map[string]any{{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": map[string]any{"choices": []string{choice}}}}
}

// file waits until the volume's file at path satisfies ok.
func (e *env) file(path string, ok func([]byte, bool) bool, what string) []byte {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, found := e.ws.File(volume + "/" + path)
		if ok(b, found) {
			return b
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: %s never became so (found %v: %.200s)\n%s", path, what, found, b, tail(e.svc.Logs.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func present(b []byte, found bool) bool { return found }

func choiceOf(b []byte) string {
	var a struct {
		Result []struct {
			Value struct {
				Choices []string `json:"choices"`
			} `json:"value"`
		} `json:"result"`
	}
	if json.Unmarshal(b, &a) != nil || len(a.Result) == 0 || len(a.Result[0].Value.Choices) == 0 {
		return ""
	}
	return a.Result[0].Value.Choices[0]
}

// sameExport compares a written file with what Label Studio's own export
// gives for the annotation (labelstudio.Tasks.Annotation, proven equal to
// Label Studio's local files export storage in package labelstudio), but
// for the task's updated_at/updated_by, which Label Studio changes after
// the save that sent the webhook.
func (e *env) sameExport(project, id int64, written []byte) {
	e.t.Helper()
	want, err := e.src.Annotation(context.Background(), project, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var a, b map[string]any
	if json.Unmarshal(written, &a) != nil || json.Unmarshal(want.Body, &b) != nil {
		e.t.Fatalf("not JSON: %.200s", written)
	}
	for _, m := range []map[string]any{a, b} {
		if task, ok := m["task"].(map[string]any); ok {
			delete(task, "updated_at")
			delete(task, "updated_by")
		}
	}
	if !reflect.DeepEqual(a, b) {
		e.t.Fatalf("annotation %d written as\n%s\nLabel Studio exports\n%s", id, written, want.Body)
	}
}

func TestExportStorageWithLabelStudio(t *testing.T) {
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	user, err := ls.Admin().SignUp(context.Background(), fmt.Sprintf("export-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	ws := fakeworkspace.New()
	ws.AddPAT(fakeworkspace.DefaultPAT)
	ws.AddDirectory(volume + "/exports")
	ws.AddDirectory(volume + "/kept")
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	svc := localservice.Start(t, localservice.Options{LabelStudioURL: ls.URL, LabelStudioToken: ls.Token, Workspace: ws})
	e := &env{t: t, ls: devls.Client{URL: svc.URL, Authorization: "Token " + user.Token}, ws: ws, svc: svc, user: user,
		src: labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: ls.URL, Service: labelstudio.StaticCredential("Token " + user.Token)}}}

	var p struct {
		ID int64 `json:"id"`
	}
	e.do(http.MethodPost, "/api/projects", map[string]any{"title": "export", "label_config": config}, &p)
	e.do(http.MethodPost, fmt.Sprintf("/api/projects/%d/import", p.ID), []map[string]any{{"text": "one"}, {"text": "two"}, {"text": "three"}, {"text": "four"}, {"text": "five"}}, nil)
	var tasks struct {
		Tasks []struct {
			ID int64 `json:"id"`
		} `json:"tasks"`
	}
	e.do(http.MethodGet, fmt.Sprintf("/api/tasks?project=%d", p.ID), nil, &tasks)
	if len(tasks.Tasks) != 5 {
		t.Fatalf("%d tasks, want 5", len(tasks.Tasks))
	}
	deleting := int64(e.sdk("create", fmt.Sprint(p.ID), "exports", "true")["id"].(float64))
	keeping := int64(e.sdk("create", fmt.Sprint(p.ID), "kept", "false")["id"].(float64))

	var first int64
	t.Run("an annotation is written as Label Studio exports it", func(t *testing.T) {
		first = e.annotate(tasks.Tasks[0].ID, "Positive")
		b := e.file(fmt.Sprintf("exports/%d", first), present, "written")
		e.sameExport(p.ID, first, b)
		e.file(fmt.Sprintf("kept/%d", first), present, "written")
	})
	t.Run("an update overwrites it", func(t *testing.T) {
		e.do(http.MethodPatch, fmt.Sprintf("/api/annotations/%d/", first), map[string]any{"result": result("Negative")}, nil)
		b := e.file(fmt.Sprintf("exports/%d", first), func(b []byte, found bool) bool { return found && choiceOf(b) == "Negative" }, "updated")
		e.sameExport(p.ID, first, b)
	})
	t.Run("a deletion removes it only with can_delete_objects", func(t *testing.T) {
		e.do(http.MethodDelete, fmt.Sprintf("/api/annotations/%d/", first), nil, nil)
		e.file(fmt.Sprintf("exports/%d", first), func(_ []byte, found bool) bool { return !found }, "removed")
		time.Sleep(2 * time.Second) // the other storage's deletion message has run by now
		if _, found := ws.File(fmt.Sprintf("%s/kept/%d", volume, first)); !found {
			t.Fatal("the storage without can_delete_objects removed the file")
		}
	})
	t.Run("lost writes are made good by a sync", func(t *testing.T) {
		ws.RefuseWrites(http.StatusServiceUnavailable)
		var lost []int64
		for _, task := range tasks.Tasks[1:4] {
			lost = append(lost, e.annotate(task.ID, "Positive"))
		}
		// Every write is retried, then given up (the queue's receives).
		deadline := time.Now().Add(90 * time.Second)
		for strings.Count(e.svc.Logs.String(), `"receives":5`) < 2*len(lost) && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
		}
		ws.RefuseWrites(0)
		for _, a := range lost {
			if _, found := ws.File(fmt.Sprintf("%s/kept/%d", volume, a)); found {
				t.Fatalf("annotation %d was written while the workspace refused writes", a)
			}
		}
		s := e.sdk("sync", fmt.Sprint(keeping))
		if s["status"] != "completed" {
			t.Fatalf("export sync: %v", s)
		}
		for _, a := range lost {
			b, found := ws.File(fmt.Sprintf("%s/kept/%d", volume, a))
			if !found {
				t.Fatalf("annotation %d is missing after the sync", a)
			}
			e.sameExport(p.ID, a, b)
		}
	})
	t.Run("a deleted export storage's webhook is gone and writes nothing", func(t *testing.T) {
		var before []map[string]any
		e.do(http.MethodGet, fmt.Sprintf("/api/webhooks/?project=%d", p.ID), nil, &before)
		req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/api/storages/export/databricks/%d", svc.URL, deleting), nil)
		req.Header.Set("Authorization", "Token "+user.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete: %v %v", resp, err)
		}
		var after []map[string]any
		e.do(http.MethodGet, fmt.Sprintf("/api/webhooks/?project=%d", p.ID), nil, &after)
		if len(after) != len(before)-1 {
			t.Fatalf("webhooks of the project: %d before the delete, %d after; want one fewer", len(before), len(after))
		}
		a := e.annotate(tasks.Tasks[4].ID, "Positive")
		e.file(fmt.Sprintf("kept/%d", a), present, "written by the other storage")
		time.Sleep(2 * time.Second)
		if _, found := ws.File(fmt.Sprintf("%s/exports/%d", volume, a)); found {
			t.Fatal("the deleted export storage still wrote")
		}
	})
	if strings.Contains(svc.Logs.String(), ls.Token) || bytes.Contains([]byte(svc.Logs.String()), []byte(user.Token)) {
		t.Fatal("a Label Studio token reached the service's log")
	}
}
