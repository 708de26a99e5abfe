//go:build integration

package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// What is stored loads in Python: a meta nested as deeply as the service
// allows comes back in a list that Python's json module and
// label-studio-sdk's models read, and a deeper one (2,000 levels, which
// Python's json module cannot read back) is refused by create and update
// alike, leaving the storage as it was.
func TestStoredMetaLoadsInPython(t *testing.T) {
	f := newFixture(t, "", "")
	const project = 41
	nest := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	withMeta := func(meta string) string {
		return strings.Replace(f.patBody(project), `"meta": {"k": [1, 2]}`, `"meta": `+meta, 1)
	}

	status, created := f.post(t, "/api/storages/databricks/", withMeta(nest(storage.MaxJSONDepth-1)))
	if status != http.StatusCreated {
		t.Fatalf("create with meta nested %d deep: %d %v", storage.MaxJSONDepth-1, status, created)
	}
	id := int64(created["id"].(float64))

	tooDeep := nest(2000)
	status, refused := f.post(t, "/api/storages/databricks/", withMeta(tooDeep))
	if detail, _ := refused["detail"].(string); status != http.StatusBadRequest || !strings.HasPrefix(detail, "JSON parse error - arrays and objects may be nested at most 64 levels deep") {
		t.Errorf("create with meta nested 2,000 deep: %d %.300v, want 400 JSON parse error", status, refused)
	}
	status, _, raw := f.call(t, http.MethodPatch, fmt.Sprintf("/api/storages/databricks/%d", id), `{"meta": `+tooDeep+`}`, nil)
	if status != http.StatusBadRequest || !strings.Contains(raw, "JSON parse error - arrays and objects") {
		t.Errorf("update with meta nested 2,000 deep: %d %.300s, want 400 JSON parse error", status, raw)
	}

	status, headers, list := f.call(t, http.MethodGet, fmt.Sprintf("/api/storages/databricks/?project=%d", project), "", nil)
	if status != http.StatusOK {
		t.Fatalf("list: %d %.300s", status, list)
	}
	var storages []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(list), &storages); err != nil || len(storages) != 1 {
		t.Fatalf("list %.300s: %v, want the one storage", list, err)
	}
	if got := string(storages[0]["meta"]); got != nest(storage.MaxJSONDepth-1) {
		t.Errorf("stored meta = %.300s, want the meta created", got)
	}

	python := filepath.Join("..", "..", ".venv", "bin", "python")
	script := `
import json, sys, typing
from label_studio_sdk.types import DatabricksImportStorage
from label_studio_sdk.core.pydantic_utilities import parse_obj_as
data = json.loads(sys.stdin.read())
storages = parse_obj_as(typing.List[DatabricksImportStorage], data)
print(len(storages))
`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(list)
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("Python could not load the list: %v\n%.2000s", err, out)
	}

	// HEAD through API Gateway's event: the list's status and headers,
	// Content-Length of its body, no body.
	status, headHeaders, body := f.call(t, http.MethodHead, fmt.Sprintf("/api/storages/databricks/?project=%d", project), "", nil)
	if status != http.StatusOK || body != "" || headHeaders["Content-Length"] != strconv.Itoa(len(list)) ||
		headHeaders["Content-Type"] != headers["Content-Type"] {
		t.Errorf("HEAD list: %d, headers %v, body %q; want 200, the GET's headers (Content-Length %d), no body", status, headHeaders, body, len(list))
	}
}
