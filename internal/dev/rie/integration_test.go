//go:build integration

package rie_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/rie"
	"github.com/lsdbx/databricks-storage/internal/dev/samtemplate"
)

// A 401 needs no AWS call, so the function answers without moto.
var missingToken = `{"version": "2.0", "routeKey": "POST /api/storages/databricks", "rawPath": "/api/storages/databricks/", "body": "{}",
	"headers": {"content-type": "application/json"},
	"requestContext": {"http": {"method": "POST", "path": "/api/storages/databricks/"}}}`

var requestID = regexp.MustCompile(`START RequestId: ([0-9a-f-]+)`)

// checkLogs requires one invocation's whole output: START, the function's
// request line with that request id, END and REPORT.
func checkLogs(t *testing.T, run int, logs string) {
	t.Helper()
	m := requestID.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("run %d: no START line:\n%s", run, logs)
	}
	id := m[1]
	for _, want := range []string{`"status":401`, `"request_id":"` + id + `"`, "END RequestId: " + id, "REPORT RequestId: " + id} {
		if !strings.Contains(logs, want) {
			t.Fatalf("run %d: %q missing from:\n%s", run, want, logs)
		}
	}
}

// TestInvokeLoggedReturnsEveryLine invokes one emulator many times: each
// invocation's logs are complete when InvokeLogged returns.
func TestInvokeLoggedReturnsEveryLine(t *testing.T) {
	wd, _ := os.Getwd()
	rieBin, err := rie.FindBinary(wd)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap, err := rie.BuildLambda(context.Background(), "../../../functions/create-storage", t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	fn, err := rie.Start(context.Background(), rieBin, bootstrap, map[string]string{
		"TABLE_NAME": "t", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Stop()
	for i := range 40 {
		out, logs, err := fn.InvokeLogged(context.Background(), []byte(missingToken), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct{ StatusCode int }
		if json.Unmarshal(out, &resp) != nil || resp.StatusCode != 401 {
			t.Fatalf("run %d: %s", i, out)
		}
		checkLogs(t, i, logs)
	}
}

// TestMakeInvokePrintsEveryLine runs internal/dev/cmd/invoke (make invoke) several times,
// each a new process that ends right after printing: every run's output has
// the function's line, END and REPORT.
func TestMakeInvokePrintsEveryLine(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "invoke")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../internal/dev/cmd/invoke").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	event := filepath.Join(dir, "event.json")
	if err := os.WriteFile(event, []byte(missingToken), 0o600); err != nil {
		t.Fatal(err)
	}
	fn, err := samtemplate.Load("../../../template.yaml", "CreateStorageFunction")
	if err != nil {
		t.Fatal(err)
	}
	memory := fmt.Sprintf("Memory Size: %d MB", fn.MemorySize)
	for i := range 4 {
		cmd := exec.Command(bin, "-event", event, "-version", "test", "-template", "template.yaml")
		cmd.Dir = "../../.."
		cmd.Env = append(os.Environ(), "LOCAL_FAKE_WORKSPACE=off", "AWS_ENDPOINT_URL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out)
		}
		checkLogs(t, i, string(out))
		if !strings.Contains(string(out), `"statusCode": 401`) || !strings.Contains(string(out), memory) {
			t.Fatalf("run %d: no 401 response or not the template's memory size:\n%s", i, out)
		}
	}
}
