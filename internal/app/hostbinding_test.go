//go:build integration

package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// hostile is a loopback HTTPS server that records every request and the
// Authorization headers it was sent.
type hostile struct {
	mu       sync.Mutex
	requests int
	auth     []string
	*httptest.Server
}

func newHostile(t *testing.T) *hostile {
	h := &hostile{}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.requests++
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
		http.Error(w, "{}", http.StatusUnauthorized)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hostile) seen() (int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, append([]string(nil), h.auth...)
}

// A request that points a stored storage at another host without giving
// its token again is refused with a 400 on token, and the other host gets
// nothing: no request, no Authorization header.
func TestStoredTokenIsNotSentToANewHost(t *testing.T) {
	f := newFixture(t, "", "")
	evil := newHostile(t)
	id := f.createOne(t, 37)
	const want = `"token":["Give the token again: stored credentials are not sent to a new host."]`
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", fmt.Sprintf("/api/storages/databricks/%d", id), `{"host": "` + evil.URL + `"}`},
		{"PUT", fmt.Sprintf("/api/storages/databricks/%d", id), `{"host": "` + evil.URL + `", "volume": "landing"}`},
		{"POST", "/api/storages/databricks/validate", fmt.Sprintf(`{"id": %d, "host": %q}`, id, evil.URL)},
		{"POST", "/api/storages/databricks/files", fmt.Sprintf(`{"id": %d, "host": %q}`, id, evil.URL)},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			status, _, raw := f.call(t, c.method, c.path, c.body, nil)
			if status != 400 || !strings.Contains(raw, want) {
				t.Errorf("%d %s, want 400 with %s", status, raw, want)
			}
			if n, auth := evil.seen(); n != 0 {
				t.Fatalf("the new host got %d requests (Authorization %q)", n, auth)
			}
		})
	}
	status, _, raw := f.call(t, "GET", fmt.Sprintf("/api/storages/databricks/%d", id), "", nil)
	if status != 200 || !strings.Contains(raw, f.fw.URL()) {
		t.Errorf("the storage moved: %d %s", status, raw)
	}
}
