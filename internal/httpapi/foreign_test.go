package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// oneStorage is a repository holding storage 2 of project 2 only.
type oneStorage struct{ rec storage.Record }

func (r oneStorage) GetStorage(_ context.Context, id int64) (storage.Record, error) {
	if id == r.rec.ID {
		return r.rec, nil
	}
	return storage.Record{}, storage.ErrRecordNotFound
}

func (r oneStorage) ListProject(_ context.Context, project int64) ([]storage.Record, error) {
	if project == r.rec.Project {
		return []storage.Record{r.rec}, nil
	}
	return nil, nil
}

var errNoWrites = errors.New("this test repository takes no writes")

func (oneStorage) PutStorage(context.Context, storage.Record) error     { return errNoWrites }
func (oneStorage) DeleteStorage(context.Context, int64, string) error   { return errNoWrites }
func (oneStorage) ReplaceStorage(context.Context, storage.Record) error { return errNoWrites }
func (oneStorage) RemoveStorage(context.Context, int64) (storage.Record, error) {
	return storage.Record{}, errNoWrites
}

// project1Key authenticates every request as a key for project 1 only.
type project1Key struct{}

func (project1Key) Authenticate(context.Context, string) (core.Principal, error) {
	return core.Principal{TokenID: "tok-1", User: "one", Projects: []int64{1}}, nil
}

// untouchable fails the test when the service reaches a secret, the
// workspace or the files of a storage the caller may not see.
type untouchable struct{ t *testing.T }

func (u untouchable) ReadSecret(context.Context, string, string) (map[string]string, string, error) {
	u.t.Error("a secret was read")
	return nil, "", errNoWrites
}
func (u untouchable) PutSecretVersion(context.Context, string, map[string]string) (string, error) {
	u.t.Error("a secret was written")
	return "", errNoWrites
}
func (u untouchable) PromoteSecretVersion(context.Context, string, string, string) error {
	u.t.Error("a secret version was promoted")
	return errNoWrites
}
func (u untouchable) ScheduleSecretDeletion(context.Context, string) error {
	u.t.Error("a secret was deleted")
	return errNoWrites
}
func (u untouchable) CheckConnection(context.Context, storage.Connection) error {
	u.t.Error("a workspace was contacted")
	return nil
}

var errorID = regexp.MustCompile(`"id":"[0-9a-f-]{36}"`)

// An API key for project 1 cannot tell a storage of project 2 from a
// missing id: every route by id answers both with the same status, headers
// and body (byte for byte, but for the fresh error id), through the real
// handler and core. Create and list for project 2 stay 403: they name only
// the caller's own input, whether or not project 2 has storages.
func TestStoragesOfOtherProjectsLookMissing(t *testing.T) {
	req, err := storage.Decoder{}.DecodeRequest([]byte(strings.Replace(patBody, `"project": 1`, `"project": 2`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness()
	h.h.Auth = project1Key{}
	// A Creator with nothing behind it: the create for project 2 must be
	// refused before anything is touched.
	h.h.Creator = &core.Creator{Checker: untouchable{t}}
	h.h.Manager = &core.Manager{
		Records: oneStorage{storage.Record{Storage: storage.Storage{ID: 2, Type: storage.StorageType, CreatedAt: createdAt, Settings: req.Settings}, SecretARN: "arn:secret:2"}},
		Vault:   untouchable{t}, Checker: untouchable{t},
	}
	auth := map[string]string{"authorization": "Token k", "content-type": "application/json"}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/storages/databricks/%d", ""},
		{"PATCH", "/api/storages/databricks/%d", `{"title": "mine now"}`},
		{"PUT", "/api/storages/databricks/%d/", `{"title": "mine now"}`},
		{"DELETE", "/api/storages/databricks/%d", ""},
		{"POST", "/api/storages/databricks/validate", `{"id": %d}`},
		{"POST", "/api/storages/databricks/files", `{"id": %d, "limit": 5}`},
	} {
		t.Run(r.method+" "+strings.ReplaceAll(strings.TrimPrefix(r.path, createPath), "%d", "{id}"), func(t *testing.T) {
			send := func(id string) response {
				path, body := strings.ReplaceAll(r.path, "%d", id), strings.ReplaceAll(r.body, "%d", id)
				return h.do(r.method, path, auth, body)
			}
			foreign, missing := send("2"), send("3")
			checkError(t, foreign, http.StatusNotFound, false)
			if foreign.Status != missing.Status || !reflect.DeepEqual(foreign.Headers, missing.Headers) {
				t.Errorf("foreign %d %v, missing %d %v", foreign.Status, foreign.Headers, missing.Status, missing.Headers)
			}
			f, m := errorID.ReplaceAll(foreign.Body, nil), errorID.ReplaceAll(missing.Body, nil)
			if string(f) != string(m) || len(f) == len(foreign.Body) {
				t.Errorf("bodies differ:\nforeign %s\nmissing %s", foreign.Body, missing.Body)
			}
		})
	}

	// Create and list for project 2: 403, the same whether or not the
	// project has storages.
	for _, r := range []struct{ method, path, query, body string }{
		{"POST", createPath, "", strings.Replace(patBody, `"project": 1`, `"project": 2`, 1)},
		{"GET", createPath, "project=2", ""},
		{"GET", createPath, "project=4", ""},
	} {
		resp := h.doQuery(r.method, r.path, r.query, auth, r.body)
		if b := checkError(t, resp, http.StatusForbidden, false); !strings.Contains(b.Detail, "project") {
			t.Errorf("%s %s?%s: detail %q", r.method, r.path, r.query, b.Detail)
		}
	}
	var got []storage.Storage
	if resp := h.doQuery("GET", createPath, "project=1", auth, ""); resp.Status != 200 || json.Unmarshal(resp.Body, &got) != nil || len(got) != 0 {
		t.Errorf("list of the key's own project: %d %s", resp.Status, resp.Body)
	}
}
