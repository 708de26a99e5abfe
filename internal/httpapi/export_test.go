package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// side records which operations reach it, and the kind of the requests and
// updates it is given.
type side struct {
	mu    sync.Mutex
	calls []string
	kinds []storage.Kind
}

func (s *side) record(op string, kind storage.Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, op)
	s.kinds = append(s.kinds, kind)
}

func (s *side) Create(_ context.Context, _ core.Caller, req storage.Request, _ string) (core.Created, error) {
	s.record("create", req.Kind)
	return core.Created{Storage: storage.Storage{ID: 7, Type: storage.StorageType, CreatedAt: createdAt, Settings: req.Settings}}, nil
}

func (s *side) Validate(_ context.Context, _ core.Caller, req storage.Request) error {
	s.record("validate", req.Kind)
	return nil
}

func (s *side) ValidateExisting(_ context.Context, _ core.Caller, _ int64, u storage.Update) error {
	s.record("validate_existing", -1)
	return nil
}

func (s *side) Get(_ context.Context, _ core.Caller, id int64) (storage.Storage, error) {
	s.record("get", -1)
	return storage.Storage{ID: id, Type: storage.StorageType, CreatedAt: createdAt, Settings: storage.Settings{Kind: storage.KindExport}}, nil
}

func (s *side) List(context.Context, core.Caller, int64, string) ([]storage.Storage, error) {
	s.record("list", -1)
	return nil, nil
}

func (s *side) Update(_ context.Context, _ core.Caller, id int64, u storage.Update) (storage.Storage, error) {
	s.record("update", -1)
	// The update's fields as the export decoder read them.
	req, err := u.Apply(storage.Settings{Kind: storage.KindExport, AuthType: storage.AuthPAT}, storage.Secrets{Token: "t"})
	if err != nil {
		return storage.Storage{}, err
	}
	return storage.Storage{ID: id, Type: storage.StorageType, CreatedAt: createdAt, Settings: req.Settings}, nil
}

func (s *side) Delete(context.Context, core.Caller, int64) error {
	s.record("delete", -1)
	return nil
}

func (s *side) PreviewFiles(context.Context, core.Caller, storage.Request, int) (storage.FileListing, error) {
	s.record("files", -1)
	return storage.FileListing{}, nil
}

func (s *side) PreviewStoredFiles(context.Context, core.Caller, int64, storage.Update, int) (storage.FileListing, error) {
	s.record("files", -1)
	return storage.FileListing{}, nil
}

func (s *side) RotateFileKey(context.Context, core.Caller, int64) error {
	s.record("rotate_file_key", -1)
	return nil
}

func (s *side) Sync(_ context.Context, _ core.Caller, id int64) (storage.Storage, error) {
	s.record("sync", -1)
	return storage.Storage{}, core.ErrSyncUnavailable
}

func exportHarness() (*harness, *side, *side) {
	h := newHarness()
	imports, exports := &side{}, &side{}
	h.h.Creator, h.h.Manager = imports, imports
	h.h.ExportCreator, h.h.ExportManager = exports, exports
	return h, imports, exports
}

const exportBody = `{"project": 1, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", ` +
	`"schema": "default", "volume": "annotations", "token": "` + testToken + `", "can_delete_objects": true}`

// Each export route reaches the export side only, with export requests;
// the import routes keep reaching the import side.
func TestExportRoutesReachTheExportSide(t *testing.T) {
	for _, tc := range []struct {
		method, path, query, body string
		status                    int
		op                        string
		export                    bool
	}{
		{http.MethodGet, "/api/storages/export/databricks/", "project=1", "", 200, "list", true},
		{http.MethodGet, "/api/storages/export/databricks", "project=1", "", 200, "list", true},
		{http.MethodHead, "/api/storages/export/databricks/", "project=1", "", 200, "list", true},
		{http.MethodPost, "/api/storages/export/databricks/", "", exportBody, 201, "create", true},
		{http.MethodPost, "/api/storages/export/databricks/validate", "", exportBody, 200, "validate", true},
		{http.MethodPost, "/api/storages/export/databricks/validate/", "", `{"id": 3}`, 200, "validate_existing", true},
		{http.MethodGet, "/api/storages/export/databricks/3", "", "", 200, "get", true},
		{http.MethodHead, "/api/storages/export/databricks/3/", "", "", 200, "get", true},
		{http.MethodPatch, "/api/storages/export/databricks/3", "", `{"can_delete_objects": true}`, 200, "update", true},
		{http.MethodPut, "/api/storages/export/databricks/3", "", `{"can_delete_objects": false}`, 200, "update", true},
		{http.MethodDelete, "/api/storages/export/databricks/3", "", "", 204, "delete", true},
		{http.MethodPost, "/api/storages/export/databricks/3/sync", "", "", 400, "sync", true},
		{http.MethodPost, "/api/storages/databricks/", "", patBody, 201, "create", false},
		{http.MethodGet, "/api/storages/databricks/3", "", "", 200, "get", false},
		{http.MethodDelete, "/api/storages/databricks/3", "", "", 204, "delete", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			h, imports, exports := exportHarness()
			resp := h.doQuery(tc.method, tc.path, tc.query, nil, tc.body)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			reached, other := imports, exports
			if tc.export {
				reached, other = exports, imports
			}
			if !slices.Equal(reached.calls, []string{tc.op}) || len(other.calls) != 0 {
				t.Fatalf("reached %v (the other side %v), want %s on the %v side", reached.calls, other.calls, tc.op, tc.export)
			}
			want := storage.KindImport
			if tc.export {
				want = storage.KindExport
			}
			if k := reached.kinds[0]; k != -1 && k != want {
				t.Errorf("the request's kind is %v, want %v", k, want)
			}
		})
	}
}

// An export storage renders as Label Studio's DatabricksExportStorage:
// can_delete_objects, and no presign, presign_ttl or recursive_scan, which
// an export body may send but are ignored.
func TestExportBodiesAndAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		cdo                      bool
	}{
		{"create with can_delete_objects", http.MethodPost, "/api/storages/export/databricks/", exportBody, 201, true},
		{"create without it", http.MethodPost, "/api/storages/export/databricks/", strings.Replace(exportBody, `, "can_delete_objects": true`, "", 1), 201, false},
		{"create ignores import fields", http.MethodPost, "/api/storages/export/databricks/", strings.Replace(exportBody, `}`, `, "presign": "x", "presign_ttl": -1, "recursive_scan": 5}`, 1), 201, true},
		{"update sets it", http.MethodPatch, "/api/storages/export/databricks/3", `{"can_delete_objects": "true"}`, 200, true},
		{"update ignores import fields", http.MethodPatch, "/api/storages/export/databricks/3", `{"recursive_scan": "x", "presign_ttl": -1}`, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, _ := exportHarness()
			resp := h.do(tc.method, tc.path, nil, tc.body)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			var got map[string]any
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				t.Fatal(err)
			}
			if got["can_delete_objects"] != tc.cdo {
				t.Errorf("can_delete_objects = %v, want %v", got["can_delete_objects"], tc.cdo)
			}
			for _, absent := range []string{"presign", "presign_ttl", "recursive_scan", "token"} {
				if _, ok := got[absent]; ok {
					t.Errorf("an export storage renders %s: %s", absent, resp.Body)
				}
			}
		})
	}
	t.Run("a bad can_delete_objects is a field error", func(t *testing.T) {
		h, _, exports := exportHarness()
		resp := h.post("/api/storages/export/databricks/", strings.Replace(exportBody, `"can_delete_objects": true`, `"can_delete_objects": "maybe"`, 1))
		body := checkError(t, resp, http.StatusBadRequest, true)
		if msgs := body.ValidationErrors["can_delete_objects"]; len(msgs) != 1 || msgs[0] != "Must be a valid boolean." {
			t.Errorf("validation_errors = %v", body.ValidationErrors)
		}
		if len(exports.calls) != 0 {
			t.Errorf("a refused body reached %v", exports.calls)
		}
	})
	t.Run("an import storage ignores can_delete_objects", func(t *testing.T) {
		h, _, _ := exportHarness()
		resp := h.post("/api/storages/databricks/", strings.Replace(patBody, `}`, `, "can_delete_objects": "maybe"}`, 1))
		if resp.Status != http.StatusCreated || strings.Contains(string(resp.Body), "can_delete_objects") {
			t.Errorf("status %d: %s", resp.Status, resp.Body)
		}
	})
}

// The export API has no files preview and no file links; its methods are
// refused with its Allow header; each function serves only its share of
// the export routes; the summary line names the export operation.
func TestExportRoutesRefusals(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPost, "/api/storages/export/databricks/files", 404, ""},
		{http.MethodPost, "/api/storages/export/databricks/3/file-key", 404, ""},
		{http.MethodGet, "/api/storages/export/databricks/0", 404, ""},
		{http.MethodGet, "/api/storages/export/databricksx", 404, ""},
		{http.MethodGet, "/api/storages/export/databricks/validate", 405, "POST"},
		{http.MethodPost, "/api/storages/export/databricks/3", 405, "GET, PATCH, PUT, DELETE, HEAD"},
		{http.MethodDelete, "/api/storages/export/databricks/", 405, "GET, POST, HEAD"},
		{http.MethodGet, "/api/storages/export/databricks/3/sync", 405, "POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			h, imports, exports := exportHarness()
			resp := h.do(tc.method, tc.path, nil, "{}")
			checkError(t, resp, tc.status, false)
			if resp.Headers["Allow"] != tc.allow {
				t.Errorf("Allow = %q, want %q", resp.Headers["Allow"], tc.allow)
			}
			if len(imports.calls)+len(exports.calls) != 0 {
				t.Errorf("reached %v %v", imports.calls, exports.calls)
			}
		})
	}

	exports := &side{}
	create := &httpapi.Handler{Auth: allowAll{}, ExportCreator: exports, Logger: logging.New(&strings.Builder{}, "ERROR")}
	manage := &httpapi.Handler{Auth: allowAll{}, ExportManager: exports, Logger: logging.New(&strings.Builder{}, "ERROR")}
	for _, tc := range []struct {
		name    string
		handler *httpapi.Handler
		method  string
		path    string
		status  int
	}{
		{"create function refuses a get", create, http.MethodGet, "/api/storages/export/databricks/3", http.StatusMisdirectedRequest},
		{"manage function refuses a create", manage, http.MethodPost, "/api/storages/export/databricks/", http.StatusMisdirectedRequest},
		{"create function creates", create, http.MethodPost, "/api/storages/export/databricks/", http.StatusCreated},
		{"manage function gets", manage, http.MethodGet, "/api/storages/export/databricks/3", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{h: tc.handler}
			if resp := h.do(tc.method, tc.path, nil, exportBody); resp.Status != tc.status {
				t.Errorf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
		})
	}

	h, _, _ := exportHarness()
	h.do(http.MethodGet, "/api/storages/export/databricks/3", nil, "")
	lines := parseLogs(t, h.logs)
	if len(lines) != 1 || lines[0]["route"] != "export_get" {
		t.Errorf("summary lines %v, want one with route export_get", lines)
	}
}
