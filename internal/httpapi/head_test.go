package httpapi_test

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
)

// HEAD is answered as Django answers it: wherever GET is, as GET — the same
// checks, status code and headers, Content-Length of the GET body — without
// the body; errors alike.
func TestHeadAnswersAsGetWithoutBody(t *testing.T) {
	cases := []struct {
		name, path, query string
		auth              bool
		getErr            error
		status            int
	}{
		{"list", "/api/storages/databricks/", "project=1", true, nil, http.StatusOK},
		{"list without project", "/api/storages/databricks", "", true, nil, http.StatusBadRequest},
		{"storage", "/api/storages/databricks/4", "", true, nil, http.StatusOK},
		{"unknown storage", "/api/storages/databricks/4/", "", true, core.ErrNotFound, http.StatusNotFound},
		{"foreign storage", "/api/storages/databricks/4", "", true, &core.PermissionError{Project: 2}, http.StatusForbidden},
		{"no credentials", "/api/storages/databricks/4", "", false, nil, http.StatusUnauthorized},
		{"unknown path", "/api/storages/s3/", "", true, nil, http.StatusNotFound},
		{"document", httpapi.OpenAPIPath, "", false, nil, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			answer := func(method string) response {
				h := newHarness()
				h.wf.getErr = c.getErr
				if !c.auth {
					h.h.Auth = refuseAll{}
				}
				return h.doQuery(method, c.path, c.query, map[string]string{}, "")
			}
			get, head := answer(http.MethodGet), answer(http.MethodHead)
			if get.Status != c.status || head.Status != c.status {
				t.Fatalf("GET %d, HEAD %d; want %d for both", get.Status, head.Status, c.status)
			}
			if len(head.Body) != 0 {
				t.Errorf("HEAD answered a body: %s", head.Body)
			}
			if got, want := head.Headers["Content-Length"], strconv.Itoa(len(get.Body)); got != want {
				t.Errorf("HEAD Content-Length = %q, want the GET body's %s", got, want)
			}
			if !maps.Equal(head.Headers, get.Headers) {
				t.Errorf("HEAD headers %v, GET headers %v", head.Headers, get.Headers)
			}
		})
	}
}

// HEAD is refused where GET is, and the 405 answers of every route list HEAD
// wherever they list GET.
func TestHeadRefusedWhereGetIs(t *testing.T) {
	for path, allow := range map[string]string{
		"/api/storages/databricks/validate": "POST",
		"/api/storages/databricks/files/":   "POST",
	} {
		h := newHarness()
		resp := h.do(http.MethodHead, path, nil, "")
		if resp.Status != http.StatusMethodNotAllowed || resp.Headers["Allow"] != allow || len(resp.Body) != 0 {
			t.Errorf("HEAD %s = %d, Allow %q, %d bytes; want 405, Allow %q, no body", path, resp.Status, resp.Headers["Allow"], len(resp.Body), allow)
		}
	}
	for _, r := range httpapi.Routes() {
		if got := slices.Contains(r.Methods, http.MethodHead); got != slices.Contains(r.Methods, http.MethodGet) {
			t.Errorf("%s answers %v: HEAD must be answered exactly where GET is", r.Path, r.Methods)
		}
	}
}
