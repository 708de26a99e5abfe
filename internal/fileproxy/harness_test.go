package fileproxy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/fileproxy"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

const (
	testOrigin = "https://label-studio.example.com"
	testPAT    = "dapi-FILE-ROUTE-TOKEN-must-never-leak"
	volumePath = "/Volumes/main/default/landing"
)

// memStore keeps records and secret versions in memory: the ports of both
// the manager (which signs and rotates) and the file route (which reads).
type memStore struct {
	mu       sync.Mutex
	records  map[int64]storage.Record
	versions map[string]map[string]string // version id → values
	next     int
}

func newMemStore() *memStore {
	return &memStore{records: map[int64]storage.Record{}, versions: map[string]map[string]string{}}
}

func (m *memStore) GetStorage(_ context.Context, id int64) (storage.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[id]
	if !ok {
		return storage.Record{}, storage.ErrRecordNotFound
	}
	return r, nil
}
func (m *memStore) PutStorage(_ context.Context, r storage.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[r.ID] = r
	return nil
}
func (m *memStore) DeleteStorage(_ context.Context, id int64, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, id)
	return nil
}
func (m *memStore) ListProject(context.Context, int64) ([]storage.Record, error) { return nil, nil }
func (m *memStore) ReplaceStorage(_ context.Context, r storage.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.records[r.ID]
	switch {
	case !ok:
		return storage.ErrRecordNotFound
	case old.Revision != r.Revision:
		return core.ErrConflict
	}
	r.Revision++
	m.records[r.ID] = r
	return nil
}
func (m *memStore) RemoveStorage(_ context.Context, id int64) (storage.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[id]
	if !ok {
		return storage.Record{}, storage.ErrRecordNotFound
	}
	delete(m.records, id)
	return r, nil
}
func (m *memStore) ReadSecret(_ context.Context, _ string, versionID string) (map[string]string, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.versions[versionID]
	if !ok {
		return nil, "", fmt.Errorf("no version %q", versionID)
	}
	return maps.Clone(v), versionID, nil
}
func (m *memStore) PutSecretVersion(_ context.Context, _ string, values map[string]string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	id := "v" + strconv.Itoa(m.next)
	m.versions[id] = maps.Clone(values)
	return id, nil
}
func (m *memStore) PromoteSecretVersion(context.Context, string, string, string) error { return nil }
func (m *memStore) ScheduleSecretDeletion(context.Context, string) error               { return nil }

// addStorage stores a pat storage of the fake workspace's volume with
// prefix; its secret holds the token only (a storage made before file
// keys): the manager adds the key when it first signs.
func (m *memStore) addStorage(t *testing.T, id int64, host, prefix string, timeoutS int64) {
	t.Helper()
	vid, _ := m.PutSecretVersion(context.Background(), "", map[string]string{"token": testPAT})
	p := prefix
	rec := storage.Record{
		Storage: storage.Storage{ID: id, Type: "databricks", Settings: storage.Settings{
			Project: 1, Host: host, Catalog: "main", Schema: "default", Volume: "landing", Prefix: &p,
			AuthType: storage.AuthPAT, VerifyTLS: true, RequestTimeoutS: timeoutS,
		}},
		SecretARN: "arn:secret:" + strconv.FormatInt(id, 10), SecretVersionID: vid, Revision: 1,
	}
	if err := m.PutStorage(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// env is a fake workspace, the file route over loopback HTTP, and a
// manager over the same stores to sign and rotate.
type env struct {
	ws      *fakeworkspace.Server
	store   *memStore
	manager *core.Manager
	srv     *httptest.Server
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ws := fakeworkspace.New()
	ws.AddPAT(testPAT)
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	checker := databricks.New(databricks.Options{Guard: hostguard.Policy{AllowPrivate: true}, RootCAs: ws.CertPool()})
	t.Cleanup(checker.CloseIdleConnections)
	store := newMemStore()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &fileproxy.Handler{
		Files:       &core.Files{Records: store, Secrets: store, Fetcher: checker, Logger: logger},
		AllowOrigin: testOrigin,
		Version:     "test",
		Logger:      logger,
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{ws: ws, store: store, srv: srv, logs: logs,
		manager: &core.Manager{Records: store, Vault: store, Logger: logger}}
}

// link signs path of storage id through the manager and returns its URL.
func (e *env) link(t testing.TB, id int64, path string) string {
	t.Helper()
	p, err := e.manager.FileURL(context.Background(), core.TrustedSource("test"), id, path)
	if err != nil {
		t.Fatalf("FileURL(%d, %q): %v", id, path, err)
	}
	return e.srv.URL + p
}

func (e *env) get(t testing.TB, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, b.Bytes()
}

// fileRequests counts the requests the workspace got for files.
func (e *env) fileRequests() int {
	n := 0
	for _, r := range e.ws.Requests() {
		if len(r.Path) > len("/api/2.0/fs/files") && r.Path[:len("/api/2.0/fs/files")] == "/api/2.0/fs/files" {
			n++
		}
	}
	return n
}

var _ = time.Second

var fakeworkspaceGenerated = fakeworkspace.Generated
