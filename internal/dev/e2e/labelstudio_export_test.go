//go:build integration

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
)

// TestSDKExportStorageThroughTheFrontDoor: label-studio-sdk 2.1.2's
// export_storage.databricks list, create, validate, get, update and delete
// work unchanged through the front door, against the real Label Studio
// (which decides the token and the project), beside an import storage of
// the same project that the export calls never show or touch.
func TestSDKExportStorageThroughTheFrontDoor(t *testing.T) {
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	python := filepath.Join(wd, "..", "..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the project virtualenv is missing (make venv): %v", err)
	}
	svc := startFrontDoor(t, ls)
	script := exec.Command(python, "testdata/sdk_export.py")
	script.Env = append(os.Environ(), "LS_BASE_URL="+svc.URL, "LS_API_KEY="+ls.Token, "WORKSPACE_HOST="+svc.Workspace)
	out, err := script.CombinedOutput()
	if err != nil {
		t.Fatalf("label-studio-sdk export script failed: %v\n%s\nservice log:\n%s", err, out, svc.Logs.String())
	}
	t.Logf("%s", out)
	for _, route := range []string{"export_create", "export_list", "export_get", "export_update", "export_validate", "export_delete"} {
		if !strings.Contains(svc.Logs.String(), `"route":"`+route+`"`) {
			t.Errorf("no %s request reached the service", route)
		}
	}
	// The start banner names the fake workspace's token as a hint; no
	// structured log line may.
	for _, line := range strings.Split(svc.Logs.String()+"\n"+string(out), "\n") {
		if strings.HasPrefix(line, "{") && strings.Contains(line, fakeworkspace.DefaultPAT) {
			t.Errorf("the token is in a log line or an answer: %s", line)
		}
	}
}
