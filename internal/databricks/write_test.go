package databricks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

func TestWriteFile(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	vol := fakeworkspace.DefaultVolumePath
	for _, mode := range []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP} {
		tests := []struct {
			name, path string
			before     []byte // the file's content before; nil: none
			body       []byte
		}{
			{"new", "export/1", nil, []byte(`{"id":1}`)},
			{"overwrite", "export/2", []byte("old and longer"), []byte(`{"id":2}`)},
			{"new directories", "a/b c/ü/3.json", nil, []byte("x")},
			{"empty", "export/empty", nil, []byte{}},
		}
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				full := vol + "/" + tt.path
				fw.Remove(full)
				if tt.before != nil {
					fw.AddFile(full, tt.before)
				}
				fw.ResetRequests()
				if err := (databricks.Volume{Checker: checker}).WriteFile(context.Background(), connFor(fw, mode), tt.path, tt.body); err != nil {
					t.Fatalf("WriteFile: %v", err)
				}
				if got, ok := fw.File(full); !ok || string(got) != string(tt.body) {
					t.Errorf("the file holds %q (%v), want %q", got, ok, tt.body)
				}
				reqs := fw.Requests()
				put := reqs[len(reqs)-1]
				if put.Method != "PUT" || put.Path != filesAPI+full || put.RawQuery != "overwrite=true" ||
					put.ContentType != "application/octet-stream" || !strings.HasPrefix(put.Authorization, "Bearer ") {
					t.Errorf("request = %s %s?%s Content-Type %q auth %q", put.Method, put.Path, put.RawQuery, put.ContentType, put.Authorization)
				}
			})
		}
	}
}

func TestDeleteFile(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	vol := fakeworkspace.DefaultVolumePath
	tests := []struct {
		name, path string
		exists     bool
	}{
		{"existing", "export/1", true},
		{"missing", "export/2", false},
		{"escaped", "export/a b#?.json", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := vol + "/" + tt.path
			if tt.exists {
				fw.AddFile(full, []byte("x"))
			}
			fw.ResetRequests()
			if err := (databricks.Volume{Checker: checker}).DeleteFile(context.Background(), connFor(fw, storage.AuthPAT), tt.path); err != nil {
				t.Fatalf("DeleteFile: %v", err)
			}
			if _, ok := fw.File(full); ok {
				t.Error("the file is still there")
			}
			if reqs := fw.Requests(); len(reqs) != 1 || reqs[0].Method != "DELETE" || reqs[0].Path != filesAPI+full {
				t.Errorf("requests = %+v", reqs)
			}
		})
	}
}

// TestWriteFailures: every failure maps to the port's errors, and none
// holds what the workspace wrote or a secret.
func TestWriteFailures(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	tests := []struct {
		name  string
		setup func(fw *fakeworkspace.Server, conn *storage.Connection)
		want  error
	}{
		{"forbidden", func(fw *fakeworkspace.Server, _ *storage.Connection) { fw.SetStatus(vol+"/export/1", 403) }, core.ErrWorkspaceRefused},
		{"unauthorized", func(fw *fakeworkspace.Server, _ *storage.Connection) { fw.SetStatus(vol+"/export/1", 401) }, core.ErrWorkspaceRefused},
		{"unknown token", func(_ *fakeworkspace.Server, c *storage.Connection) { c.Secrets.Token = "dapi-unknown" }, core.ErrWorkspaceRefused},
		{"throttled", func(fw *fakeworkspace.Server, _ *storage.Connection) { fw.RefuseWrites(429) }, core.ErrWorkspaceBusy},
		{"unavailable", func(fw *fakeworkspace.Server, _ *storage.Connection) { fw.RefuseWrites(503) }, core.ErrWorkspaceFailed},
		{"internal error", func(fw *fakeworkspace.Server, _ *storage.Connection) { fw.SetStatus(vol+"/export/1", 500) }, core.ErrWorkspaceFailed},
		{"conflict", func(fw *fakeworkspace.Server, _ *storage.Connection) { fw.SetStatus(vol+"/export/1", 409) }, core.ErrWorkspaceFailed},
		{"too slow", func(fw *fakeworkspace.Server, c *storage.Connection) {
			fw.SetPathDelay(vol+"/export/1", 2*time.Second)
			c.Timeout = 100 * time.Millisecond
		}, context.DeadlineExceeded},
		{"unreachable", func(_ *fakeworkspace.Server, c *storage.Connection) { c.Host = "https://" + closedAddr(t) }, core.ErrWorkspaceFailed},
	}
	for _, tt := range tests {
		for _, method := range []string{"PUT", "DELETE"} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				fw := startFake(t)
				checker := newChecker(t, testOptions(fw))
				fw.AddFile(vol+"/export/1", []byte("before"))
				conn := connFor(fw, storage.AuthPAT)
				tt.setup(fw, &conn)
				var err error
				if method == "PUT" {
					err = (databricks.Volume{Checker: checker}).WriteFile(context.Background(), conn, "export/1", []byte("after"))
				} else {
					err = (databricks.Volume{Checker: checker}).DeleteFile(context.Background(), conn, "export/1")
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s = %v, want %v", method, err, tt.want)
				}
				if strings.Contains(err.Error(), "Forced status") || strings.Contains(err.Error(), "refused with status") {
					t.Errorf("the error holds the workspace's answer: %v", err)
				}
				assertNoSecret(t, err, conn)
				if got, _ := fw.File(vol + "/export/1"); string(got) != "before" {
					t.Errorf("a failed %s changed the file to %q", method, got)
				}
			})
		}
	}
}

func TestWriteToAMissingVolume(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Volume = "gone"
	if err := (databricks.Volume{Checker: checker}).WriteFile(context.Background(), conn, "export/1", []byte("x")); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("WriteFile into a missing volume = %v, want ErrNotFound", err)
	}
	// Nothing to delete there: a missing file counts as deleted.
	if err := (databricks.Volume{Checker: checker}).DeleteFile(context.Background(), conn, "export/1"); err != nil {
		t.Errorf("DeleteFile in a missing volume = %v", err)
	}
}

func TestWriteRefusesBadPaths(t *testing.T) {
	fw := startFake(t)
	checker := newChecker(t, testOptions(fw))
	for _, p := range []string{"", "/abs", "a/../b", "a//b", "a/./b", "trailing/", `back\slash`, "ctl\x00"} {
		fw.ResetRequests()
		if err := (databricks.Volume{Checker: checker}).WriteFile(context.Background(), connFor(fw, storage.AuthPAT), p, []byte("x")); !errors.Is(err, filecap.ErrBadPath) {
			t.Errorf("WriteFile(%q) = %v, want ErrBadPath", p, err)
		}
		if err := (databricks.Volume{Checker: checker}).DeleteFile(context.Background(), connFor(fw, storage.AuthPAT), p); !errors.Is(err, filecap.ErrBadPath) {
			t.Errorf("DeleteFile(%q) = %v, want ErrBadPath", p, err)
		}
		if n := len(fw.Requests()); n != 0 {
			t.Errorf("%q: %d requests sent", p, n)
		}
	}
}

// TestWriteHostileAnswers: a redirect is refused, never followed, and
// what the workspace writes never reaches an error.
func TestWriteHostileAnswers(t *testing.T) {
	const leak = "LEAKED-WORKSPACE-TEXT"
	var followed int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/elsewhere"):
			followed++
		case strings.Contains(r.URL.Path, "redirect"):
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusTemporaryRedirect)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"error_code":"` + leak + `","message":"` + leak + `"}`))
		}
	}))
	t.Cleanup(srv.Close)
	checker := newChecker(t, databricks.Options{Guard: hostguard.Policy{AllowPrivate: true}})
	conn := storage.Connection{Host: srv.URL, AuthType: storage.AuthPAT, Catalog: "c", Schema: "s", Volume: "v",
		Timeout: 5 * time.Second, Secrets: storage.Secrets{Token: "dapi-secret"}}
	tests := []struct {
		path string
		want error
	}{
		{"redirect/1", core.ErrWorkspaceRefused},
		{"fails/1", core.ErrWorkspaceFailed},
	}
	for _, tt := range tests {
		for name, f := range map[string]func() error{
			"write": func() error {
				return (databricks.Volume{Checker: checker}).WriteFile(context.Background(), conn, tt.path, []byte("x"))
			},
			"delete": func() error {
				return (databricks.Volume{Checker: checker}).DeleteFile(context.Background(), conn, tt.path)
			},
		} {
			err := f()
			if !errors.Is(err, tt.want) || strings.Contains(err.Error(), leak) {
				t.Errorf("%s %s = %v, want %v without the workspace's text", name, tt.path, err, tt.want)
			}
			assertNoSecret(t, err, conn)
		}
	}
	if followed != 0 {
		t.Errorf("a redirect was followed %d times", followed)
	}
}
