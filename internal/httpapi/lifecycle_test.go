package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// listingCore answers the files preview with a fixed listing.
type listingCore struct {
	*fakeWorkflow
	listing storage.FileListing
	limits  []int
	ids     []int64
}

func (c *listingCore) PreviewFiles(_ context.Context, _ core.Caller, _ storage.Request, limit int) (storage.FileListing, error) {
	return c.PreviewStoredFiles(context.Background(), core.Caller{}, 0, storage.Update{}, limit)
}

func (c *listingCore) PreviewStoredFiles(_ context.Context, _ core.Caller, id int64, _ storage.Update, limit int) (storage.FileListing, error) {
	c.limits, c.ids = append(c.limits, limit), append(c.ids, id)
	return c.listing, nil
}

func TestFilesPreview(t *testing.T) {
	modified := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	size := int64(12)
	files := []storage.File{{Key: "images/a.jpg", LastModified: &modified, Size: &size}}
	cases := []struct {
		name    string
		body    string
		listing storage.FileListing
		status  int
		limit   int
		id      int64
		last    string
	}{
		{"all listed", `{"id": 4}`, storage.FileListing{Files: files}, 200, 100, 4, `{"key":"images/a.jpg","last_modified":"2026-01-02T03:04:05Z","size":12}`},
		{"limit reached", `{"id": "4", "limit": 1}`, storage.FileListing{Files: files, LimitReached: true}, 200, 1, 4, `{"key":null,"last_modified":null,"size":null}`},
		{"timed out", `{"limit": 1000, "project": 1, "host": "https://dbc-1.cloud.databricks.com", "catalog": "c", "schema": "s", "volume": "v", "token": "t"}`, storage.FileListing{Files: files, TimedOut: true}, 200, 1000, 0, `"key":"... storage scan timed out`},
		{"limit too high", `{"limit": 1001}`, storage.FileListing{}, 400, 0, 0, ""},
		{"limit zero", `{"limit": 0}`, storage.FileListing{}, 400, 0, 0, ""},
		{"bad id", `{"id": "x"}`, storage.FileListing{}, 400, 0, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness()
			lc := &listingCore{fakeWorkflow: h.wf, listing: c.listing}
			h.h.Manager = lc
			resp := h.post("/api/storages/databricks/files", c.body)
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			if c.status != 200 {
				checkError(t, resp, 400, true)
				return
			}
			if lc.limits[0] != c.limit || lc.ids[0] != c.id {
				t.Errorf("limit %d id %d, want %d and %d", lc.limits[0], lc.ids[0], c.limit, c.id)
			}
			var out struct {
				Files []json.RawMessage `json:"files"`
			}
			if err := json.Unmarshal(resp.Body, &out); err != nil {
				t.Fatal(err)
			}
			if last := string(out.Files[len(out.Files)-1]); !strings.Contains(last, c.last) {
				t.Errorf("last entry %s, want %s", last, c.last)
			}
		})
	}
}

func TestLifecycleErrors(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		detail string
	}{
		{fmt.Errorf("storage 9: %w", core.ErrNotFound), 404, "Not found."},
		{&core.PermissionError{Project: 3}, 403, "project 3"},
		{fmt.Errorf("storage 9: %w", core.ErrConflict), 409, "changed by another request"},
	} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			h := newHarness()
			h.wf.getErr = c.err
			resp := h.do(method, "/api/storages/databricks/9", nil, `{"title": "x"}`)
			b := checkError(t, resp, c.status, false)
			if !strings.Contains(b.Detail, c.detail) {
				t.Errorf("%s %v: detail %q, want %q", method, c.err, b.Detail, c.detail)
			}
		}
	}
	h := newHarness()
	resp := h.do("GET", "/api/storages/databricks/", nil, "")
	b := checkError(t, resp, 400, true)
	if got := b.ValidationErrors["non_field_errors"]; len(got) != 1 || got[0] != `query parameter "project" is required` {
		t.Errorf("non_field_errors = %v", got)
	}
	resp = h.do("DELETE", "/api/storages/databricks/9", nil, "")
	if resp.Status != 204 || len(resp.Body) != 0 {
		t.Errorf("delete: %d %q, want 204 without a body", resp.Status, resp.Body)
	}
	resp = h.doQuery("GET", "/api/storages/databricks/", "project=4", nil, "")
	if resp.Status != 200 || string(resp.Body) != "[]" {
		t.Errorf("empty list: %d %s, want 200 []", resp.Status, resp.Body)
	}
}
