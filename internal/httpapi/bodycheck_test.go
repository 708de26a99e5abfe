package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// countingCore counts the calls of the operations that take a patch.
type countingCore struct {
	*fakeWorkflow
	calls int
}

func (c *countingCore) ValidateExisting(context.Context, core.Caller, int64, storage.Update) error {
	c.calls++
	return nil
}

func (c *countingCore) Update(_ context.Context, _ core.Caller, id int64, _ storage.Update) (storage.Storage, error) {
	c.calls++
	return storage.Storage{ID: id}, nil
}

func (c *countingCore) PreviewFiles(context.Context, core.Caller, storage.Request, int) (storage.FileListing, error) {
	c.calls++
	return storage.FileListing{}, nil
}

func (c *countingCore) PreviewStoredFiles(context.Context, core.Caller, int64, storage.Update, int) (storage.FileListing, error) {
	c.calls++
	return storage.FileListing{}, nil
}

// Every body any route takes is refused before anything reads it when
// Label Studio's parser would not read it (bytes that are not UTF-8) or
// when Label Studio's clients could not read it back (nesting deeper than
// Python's json module manages), with Label Studio's "JSON parse error"
// detail; nothing reaches the core.
func TestBodiesLabelStudioCannotParse(t *testing.T) {
	deep := `{"project": 1, "meta": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "}"
	notUTF8 := `{"project": 1, "title": "caf` + "\xe9" + `"}`
	cases := []struct {
		name, body, detail string
	}{
		{"meta nested 10,000 deep", deep,
			"JSON parse error - arrays and objects may be nested at most 64 levels deep: line 1 column 87 (char 86)"},
		{"Latin-1 text", notUTF8,
			"JSON parse error - 'utf-8' codec can't decode byte 0xe9 in position 28: invalid continuation byte"},
		{"invalid start byte", "{\"title\": \"\xff\"}",
			"JSON parse error - 'utf-8' codec can't decode byte 0xff in position 11: invalid start byte"},
		{"unexpected end of data", "{}\xf0\x9f\x98",
			"JSON parse error - 'utf-8' codec can't decode bytes in position 2-4: unexpected end of data"},
	}
	routes := []struct{ method, path string }{
		{http.MethodPost, createPath},
		{http.MethodPost, validatePath},
		{http.MethodPost, "/api/storages/databricks/files"},
		{http.MethodPatch, "/api/storages/databricks/3"},
		{http.MethodPut, "/api/storages/databricks/3"},
	}
	for _, route := range routes {
		for _, c := range cases {
			t.Run(route.method+" "+route.path+"/"+c.name, func(t *testing.T) {
				h := newHarness()
				counting := &countingCore{fakeWorkflow: h.wf}
				h.h.Manager = counting
				b := checkError(t, h.do(route.method, route.path, nil, c.body), http.StatusBadRequest, false)
				if b.Detail != c.detail {
					t.Errorf("detail = %q, want %q", b.Detail, c.detail)
				}
				if counting.calls != 0 || len(h.wf.creates)+len(h.wf.validates) != 0 {
					t.Errorf("the core was called for a body Label Studio cannot parse")
				}
			})
		}
	}
	// The deepest body allowed is served.
	h := newHarness()
	ok := strings.TrimSuffix(patBody, "}") + `, "meta": ` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "}"
	if resp := h.post(createPath, ok); resp.Status != http.StatusCreated {
		t.Fatalf("meta nested 63 deep: %d %s, want 201", resp.Status, resp.Body)
	}
}
