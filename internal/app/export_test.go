//go:build integration

package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

const (
	importAPI = "/api/storages/databricks/"
	exportAPI = "/api/storages/export/databricks/"
)

func (f *fixture) exportBody(project int, extra string) string {
	return fmt.Sprintf(`{"project": %d, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "prefix": "images", "token": %q%s}`,
		project, f.fw.URL(), secretToken, extra)
}

// decodeStorage reads one storage answer.
func decodeStorage(t *testing.T, raw string) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("not a storage: %q", raw)
	}
	return got
}

func ids(t *testing.T, raw string) []int {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatalf("not a list: %q", raw)
	}
	out := []int{}
	for _, s := range list {
		out = append(out, int(s["id"].(float64)))
	}
	return out
}

// Import and export storages are kept apart: each kind numbers its own
// (the first of each is 1), a list shows one kind only, a get, update or
// delete of one never reads or touches the other, and each has its own
// secret, named for its kind.
func TestExportStoragesAreKeptApartFromImportStorages(t *testing.T) {
	f := newFixture(t, "", "")
	status, _, raw := f.call(t, http.MethodPost, importAPI, f.patBody(1), nil)
	if status != http.StatusCreated {
		t.Fatalf("import create: %d %s", status, raw)
	}
	imported := decodeStorage(t, raw)
	status, _, raw = f.call(t, http.MethodPost, exportAPI, f.exportBody(1, `, "can_delete_objects": true`), nil)
	if status != http.StatusCreated {
		t.Fatalf("export create: %d %s", status, raw)
	}
	exported := decodeStorage(t, raw)
	if imported["id"] != float64(1) || exported["id"] != float64(1) {
		t.Fatalf("ids %v and %v, want 1 and 1 (each kind its own numbering)", imported["id"], exported["id"])
	}
	if exported["can_delete_objects"] != true || exported["prefix"] != "images" {
		t.Errorf("export storage %v", exported)
	}
	for _, absent := range []string{"presign", "presign_ttl", "recursive_scan"} {
		if _, ok := exported[absent]; ok {
			t.Errorf("the export storage renders %s", absent)
		}
	}
	if _, ok := imported["can_delete_objects"]; ok {
		t.Errorf("the import storage renders can_delete_objects")
	}

	// Secrets: one per storage, named for its kind.
	wantSecrets := []string{secretstore.KindName(f.prefix, storage.KindExport, 1), secretstore.KindName(f.prefix, storage.KindImport, 1)}
	if got := testenv.SecretNames(t, f.prefix); !slices.Equal(slices.Sorted(slices.Values(got)), wantSecrets) {
		t.Errorf("secrets %v, want %v", got, wantSecrets)
	}

	for _, tc := range []struct {
		path string
		want []int
	}{
		{importAPI + "?project=1", []int{1}},
		{exportAPI + "?project=1", []int{1}},
	} {
		status, _, raw := f.call(t, http.MethodGet, tc.path, "", nil)
		if status != http.StatusOK || !slices.Equal(ids(t, raw), tc.want) {
			t.Errorf("GET %s: %d %s", tc.path, status, raw)
		}
		// A list shows one kind: the export list's entries have
		// can_delete_objects, the import list's presign.
		isExport := strings.Contains(tc.path, "export")
		if strings.Contains(raw, "can_delete_objects") != isExport || strings.Contains(raw, "presign") == isExport {
			t.Errorf("GET %s mixes the kinds: %s", tc.path, raw)
		}
	}
	// A second export storage: the export list has two, the import list one.
	if status, _, raw := f.call(t, http.MethodPost, exportAPI, f.exportBody(1, ""), nil); status != http.StatusCreated || decodeStorage(t, raw)["id"] != float64(2) {
		t.Fatalf("second export create: %d %s", status, raw)
	}
	if _, _, raw := f.call(t, http.MethodGet, exportAPI+"?project=1", "", nil); !slices.Equal(ids(t, raw), []int{1, 2}) {
		t.Errorf("export list %s", raw)
	}
	if _, _, raw := f.call(t, http.MethodGet, importAPI+"?project=1", "", nil); !slices.Equal(ids(t, raw), []int{1}) {
		t.Errorf("import list %s", raw)
	}
	// Id 2 exists among export storages only.
	if status, _, _ := f.call(t, http.MethodGet, importAPI+"2", "", nil); status != http.StatusNotFound {
		t.Errorf("import storage 2: %d, want 404", status)
	}

	// An update of the export storage leaves the import storage as it was.
	if status, _, raw := f.call(t, http.MethodPatch, exportAPI+"1", `{"title": "Exported", "can_delete_objects": false}`, nil); status != http.StatusOK ||
		decodeStorage(t, raw)["title"] != "Exported" || decodeStorage(t, raw)["can_delete_objects"] != false {
		t.Fatalf("export update: %d %s", status, raw)
	}
	if _, _, raw := f.call(t, http.MethodGet, importAPI+"1", "", nil); decodeStorage(t, raw)["title"] != imported["title"] {
		t.Errorf("the import storage changed with the export storage: %s", raw)
	}
	// validate with the stored export storage's credentials.
	if status, _, raw := f.call(t, http.MethodPost, exportAPI+"validate", `{"id": 1, "prefix": "images"}`, nil); status != http.StatusOK {
		t.Errorf("export validate: %d %s", status, raw)
	}
	// The export sync is not there yet: Label Studio's 400.
	if status, _, raw := f.call(t, http.MethodPost, exportAPI+"1/sync", "", nil); status != http.StatusBadRequest {
		t.Errorf("export sync: %d %s", status, raw)
	}

	// Deleting the export storage leaves the import storage and its secret.
	if status, _, raw := f.call(t, http.MethodDelete, exportAPI+"1", "", nil); status != http.StatusNoContent {
		t.Fatalf("export delete: %d %s", status, raw)
	}
	if status, _, _ := f.call(t, http.MethodGet, exportAPI+"1", "", nil); status != http.StatusNotFound {
		t.Errorf("deleted export storage: %d, want 404", status)
	}
	if status, _, raw := f.call(t, http.MethodGet, importAPI+"1", "", nil); status != http.StatusOK {
		t.Errorf("the import storage went with the export storage: %d %s", status, raw)
	}
	// Its secret still updates (the manage function reads it).
	if status, _, raw := f.call(t, http.MethodPatch, importAPI+"1", `{"title": "Still here"}`, nil); status != http.StatusOK {
		t.Errorf("import update after the export delete: %d %s", status, raw)
	}
	// And the other way round.
	if status, _, _ := f.call(t, http.MethodDelete, importAPI+"1", "", nil); status != http.StatusNoContent {
		t.Fatalf("import delete: %d", status)
	}
	if status, _, raw := f.call(t, http.MethodGet, exportAPI+"2", "", nil); status != http.StatusOK {
		t.Errorf("export storage 2 after the import delete: %d %s", status, raw)
	}
	// No item or secret holds a secret value.
	for _, item := range testenv.ScanTable(t, f.table) {
		if strings.Contains(fmt.Sprint(item), secretToken) {
			t.Errorf("item %v holds the token", item["pk"])
		}
	}
	if strings.Contains(f.logs.String(), secretToken) {
		t.Errorf("a log line holds the token")
	}
}

// The same Idempotency-Key sent to both creates creates one storage of
// each kind: a key of one kind never replays the other kind's storage.
func TestIdempotencyKeysOfEachKindApart(t *testing.T) {
	f := newFixture(t, "", "")
	key := map[string]string{"idempotency-key": "same-key"}
	status, _, raw := f.call(t, http.MethodPost, importAPI, f.patBody(1), key)
	if status != http.StatusCreated {
		t.Fatalf("import create: %d %s", status, raw)
	}
	for range 2 { // the second is a replay of the first
		status, headers, raw := f.call(t, http.MethodPost, exportAPI, f.exportBody(1, ""), key)
		if status != http.StatusCreated || decodeStorage(t, raw)["can_delete_objects"] != false {
			t.Fatalf("export create: %d %s", status, raw)
		}
		_ = headers
	}
	if _, _, raw := f.call(t, http.MethodGet, exportAPI+"?project=1", "", nil); !slices.Equal(ids(t, raw), []int{1}) {
		t.Errorf("export list %s, want one storage", raw)
	}
	if got := testenv.SecretNames(t, f.prefix); len(got) != 2 {
		t.Errorf("secrets %v, want one of each kind", got)
	}
}
