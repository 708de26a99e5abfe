package core_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// fakeVault keeps secret versions in memory, as Secrets Manager does: by
// version id, with AWSCURRENT on one of them.
type fakeVault struct {
	mu       sync.Mutex
	j        *journal
	versions map[string][]map[string]string // arn → versions, by number
	current  map[string]int                 // arn → the version AWSCURRENT is on
	putErr   error
	deleted  []string
	promoted []string
}

func newVault(j *journal) *fakeVault {
	return &fakeVault{j: j, versions: map[string][]map[string]string{}, current: map[string]int{}}
}

// put adds a version and makes it current, as a create does.
func (v *fakeVault) put(arn string, values map[string]string) {
	v.versions[arn] = append(v.versions[arn], values)
	v.current[arn] = len(v.versions[arn]) - 1
}

func versionID(i int) string { return "v" + strconv.Itoa(i) }

func (v *fakeVault) ReadSecret(_ context.Context, arn, id string) (map[string]string, string, error) {
	v.j.add("read-secret")
	v.mu.Lock()
	defer v.mu.Unlock()
	vs, ok := v.versions[arn]
	if !ok {
		return nil, "", errors.New("ResourceNotFoundException")
	}
	i := v.current[arn]
	if id != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(id, "v"))
		if err != nil || n >= len(vs) {
			return nil, "", errors.New("ResourceNotFoundException: no version " + id)
		}
		i = n
	}
	return maps.Clone(vs[i]), versionID(i), nil
}

func (v *fakeVault) PutSecretVersion(_ context.Context, arn string, values map[string]string) (string, error) {
	v.j.add("put-secret-version")
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.putErr != nil {
		return "", v.putErr
	}
	v.versions[arn] = append(v.versions[arn], values)
	return versionID(len(v.versions[arn]) - 1), nil
}

func (v *fakeVault) PromoteSecretVersion(_ context.Context, arn, id, _ string) error {
	v.j.add("promote-secret")
	v.mu.Lock()
	defer v.mu.Unlock()
	v.promoted = append(v.promoted, id)
	v.current[arn], _ = strconv.Atoi(strings.TrimPrefix(id, "v"))
	return nil
}

func (v *fakeVault) ScheduleSecretDeletion(_ context.Context, arn string) error {
	v.j.add("schedule-secret-deletion")
	v.mu.Lock()
	defer v.mu.Unlock()
	v.deleted = append(v.deleted, arn)
	return nil
}

func (v *fakeVault) currentValues(arn string) map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.versions[arn][v.current[arn]]
}

// recordValues are the values of the version the stored record names.
func (l *lifecycle) recordValues(t *testing.T) map[string]string {
	t.Helper()
	rec, err := l.repo.GetStorage(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	values, _, err := l.vault.ReadSecret(context.Background(), rec.SecretARN, rec.SecretVersionID)
	if err != nil {
		t.Fatal(err)
	}
	return values
}

type fakeLister struct {
	conns   []storage.Connection
	filters []*regexp.Regexp
	limits  []int
}

func (l *fakeLister) ListFiles(_ context.Context, c storage.Connection, _ bool, filter *regexp.Regexp, limit int) (storage.FileListing, error) {
	l.conns, l.filters, l.limits = append(l.conns, c), append(l.filters, filter), append(l.limits, limit)
	return storage.FileListing{Files: []storage.File{{Key: "a.jpg"}}}, nil
}

// lifecycle is a fixture with one stored pat storage (id 42, project 7).
type lifecycle struct {
	*fixture
	vault  *fakeVault
	lister *fakeLister
	stored storage.Storage
	// mgr manages what the fixture's Creator created.
	mgr *core.Manager
}

func newLifecycle(t *testing.T) *lifecycle {
	t.Helper()
	f := newFixture()
	l := &lifecycle{fixture: f, vault: newVault(f.j), lister: &fakeLister{}}
	l.mgr = &core.Manager{Checker: f.checker, Records: f.repo, Vault: l.vault, Files: l.lister, Logger: f.svc.Logger}
	created, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
	if err != nil {
		t.Fatal(err)
	}
	f.repo.stored[0].Revision = 1
	l.stored = created.Storage
	l.vault.put(testARN, map[string]string{"token": testToken})
	f.j.calls, f.checker.conns = nil, nil
	return l
}

// patch decodes an update as the edge does.
func patch(t *testing.T, body string) storage.Update {
	t.Helper()
	u, err := storage.Decoder{}.DecodeUpdate([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var (
	owner    = core.TokenHolder(core.Principal{TokenID: "own", User: "u", Projects: []int64{7}})
	stranger = core.TokenHolder(core.Principal{TokenID: "str", User: "u", Projects: []int64{8}})
)

func TestGetAndList(t *testing.T) {
	l := newLifecycle(t)
	ctx := context.Background()
	if got, err := l.mgr.Get(ctx, owner, 42); err != nil || !reflect.DeepEqual(got, l.stored) {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if _, err := l.mgr.Get(ctx, owner, 43); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Get unknown = %v, want ErrNotFound", err)
	}
	var perm *core.PermissionError
	if _, err := l.mgr.Get(ctx, stranger, 42); !errors.Is(err, core.ErrNotFound) || errors.As(err, &perm) {
		t.Errorf("Get of another project = %v, want ErrNotFound", err)
	}
	second := l.stored
	second.ID, second.Title = 50, nil
	l.repo.stored = append(l.repo.stored, storage.Record{Storage: second})
	for ordering, want := range map[string][]int64{"": {42, 50}, "id": {42, 50}, "-id": {50, 42}, "title": {50, 42}, "-title": {42, 50}, "nonsense": {42, 50}} {
		got, err := l.mgr.List(ctx, owner, 7, ordering)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		if !reflect.DeepEqual(ids, want) {
			t.Errorf("ordering %q: ids %v, want %v", ordering, ids, want)
		}
	}
	if _, err := l.mgr.List(ctx, stranger, 7, ""); !errors.As(err, &perm) {
		t.Errorf("List of another project = %v, want a PermissionError", err)
	}
}

func TestUpdateKeepsWhatIsOmitted(t *testing.T) {
	l := newLifecycle(t)
	got, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"title": "Renamed", "recursive_scan": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if *got.Title != "Renamed" || !got.RecursiveScan || got.Host != l.stored.Host || *got.Prefix != *l.stored.Prefix || got.CreatedAt != l.stored.CreatedAt {
		t.Errorf("updated = %+v", got)
	}
	// No field the connection depends on changed: no check, no new secret version.
	assertCalls(t, l.j.list(), []string{"get-record", "read-secret", "replace-record"})
	if rec := l.repo.stored[0]; rec.SecretARN != testARN || rec.Revision != 2 || *rec.Title != "Renamed" {
		t.Errorf("record = %+v", rec)
	}
}

func TestUpdateRechecksAndRotates(t *testing.T) {
	l := newLifecycle(t)
	const newToken = "dapi-NEW-token-must-never-leak"
	got, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"token": "`+newToken+`", "volume": "other"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Volume != "other" {
		t.Errorf("volume = %q", got.Volume)
	}
	if len(l.checker.conns) != 1 || l.checker.conns[0].Secrets.Token != newToken || l.checker.conns[0].Volume != "other" {
		t.Errorf("check with the merged settings and secrets: %+v", l.checker.conns)
	}
	if v := l.vault.currentValues(testARN); v["token"] != newToken || len(l.vault.versions[testARN]) != 2 {
		t.Errorf("secret versions = %d, current holds the new token: %v", len(l.vault.versions[testARN]), v["token"] == newToken)
	}
	if l.repo.stored[0].SecretARN != testARN {
		t.Errorf("the record's secret reference changed")
	}
}

func TestUpdateWithFailedCheckChangesNothing(t *testing.T) {
	l := newLifecycle(t)
	l.checker.err = &storage.ConnectionError{Reason: "volume_not_found", Message: "The volume does not exist."}
	before := l.repo.stored[0]
	_, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"volume": "missing", "token": "dapi-other"}`))
	var ce *storage.ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want the connection error", err)
	}
	if !reflect.DeepEqual(l.repo.stored[0], before) || len(l.vault.versions[testARN]) != 1 {
		t.Errorf("a failed check changed the record or the secret")
	}
}

func TestUpdateRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		body   string
		fields []string
	}{
		"project":             {`{"project": 8}`, []string{"project"}},
		"type":                {`{"type": "s3"}`, []string{"type"}},
		"every field at once": {`{"catalog": "", "request_timeout_s": 99, "auth_type": "dbx_sp"}`, []string{"catalog", "request_timeout_s", "client_id", "client_secret"}},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLifecycle(t)
			_, err := l.mgr.Update(context.Background(), owner, 42, patch(t, c.body))
			var verr *storage.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			for _, f := range c.fields {
				if len(verr.Fields[f]) == 0 {
					t.Errorf("no error on %s: %v", f, verr.Fields)
				}
			}
			if len(l.checker.conns) != 0 || l.repo.stored[0].Revision != 1 {
				t.Errorf("a refused update checked or wrote")
			}
		})
	}
	t.Run("same project is fine", func(t *testing.T) {
		l := newLifecycle(t)
		if _, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"project": 7, "type": "databricks"}`)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("switching to a service principal drops the token", func(t *testing.T) {
		l := newLifecycle(t)
		if _, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"auth_type": "dbx_sp", "client_id": "c", "client_secret": "`+testClientSecret+`"}`)); err != nil {
			t.Fatal(err)
		}
		if v := l.vault.currentValues(testARN); !reflect.DeepEqual(v, map[string]string{"client_secret": testClientSecret}) {
			t.Errorf("secret keys = %v, want only client_secret", keysOf(v))
		}
	})
}

// Another write between the read and the write: the patch is merged again
// over it, so both land.
func TestConcurrentUpdatesBothLand(t *testing.T) {
	l := newLifecycle(t)
	other := l.repo.stored[0]
	other.Description = ptrTo("set by another request")
	other.Revision = 2
	racing := &racingRepo{fakeRepo: l.repo, before: func() {
		if l.repo.stored[0].Revision == 1 {
			l.repo.stored[0] = other
		}
	}}
	l.mgr.Records = racing
	got, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"title": "Mine"}`))
	if err != nil {
		t.Fatal(err)
	}
	if *got.Title != "Mine" || got.Description == nil || *got.Description != "set by another request" {
		t.Errorf("updated = title %v description %v; want both writes", got.Title, got.Description)
	}
}

func ptrTo[T any](v T) *T { return &v }

type racingRepo struct {
	*fakeRepo
	before func()
}

func (r *racingRepo) ReplaceStorage(ctx context.Context, rec storage.Record) error {
	r.before()
	return r.fakeRepo.ReplaceStorage(ctx, rec)
}

// An update racing a delete never brings the storage back, and the secret
// version it wrote is left an orphan nothing names (AWSCURRENT never moved
// to it).
func TestUpdateRacingADelete(t *testing.T) {
	l := newLifecycle(t)
	l.mgr.Records = &racingRepo{fakeRepo: l.repo, before: func() { l.repo.stored = nil }}
	_, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"token": "dapi-rotated"}`))
	if !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if len(l.repo.stored) != 0 {
		t.Errorf("the deleted storage came back: %+v", l.repo.stored)
	}
	if v := l.vault.currentValues(testARN); v["token"] != testToken {
		t.Errorf("the rotated secret version was not rolled back")
	}
}

func TestDelete(t *testing.T) {
	l := newLifecycle(t)
	if err := l.mgr.Delete(context.Background(), stranger, 42); !errors.Is(err, core.ErrNotFound) || len(l.repo.stored) != 1 {
		t.Fatalf("delete by a stranger = %v", err)
	}
	if err := l.mgr.Delete(context.Background(), owner, 42); err != nil {
		t.Fatal(err)
	}
	if len(l.repo.stored) != 0 || !reflect.DeepEqual(l.vault.deleted, []string{testARN}) {
		t.Errorf("records %+v, scheduled deletions %v", l.repo.stored, l.vault.deleted)
	}
	if err := l.mgr.Delete(context.Background(), owner, 42); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
}

func TestValidateExistingUsesStoredSecrets(t *testing.T) {
	l := newLifecycle(t)
	if err := l.mgr.ValidateExisting(context.Background(), owner, 42, patch(t, `{"id": 42, "prefix": "other"}`)); err != nil {
		t.Fatal(err)
	}
	if len(l.checker.conns) != 1 || l.checker.conns[0].Secrets.Token != testToken || l.checker.conns[0].Prefix != "other" {
		t.Errorf("checked %+v", l.checker.conns)
	}
	assertCalls(t, l.j.list(), []string{"get-record", "read-secret", "check"})
}

func TestPreviewFiles(t *testing.T) {
	l := newLifecycle(t)
	if _, err := l.mgr.PreviewStoredFiles(context.Background(), owner, 42, patch(t, `{"regex_filter": ".*\\.jpg$"}`), 5); err != nil {
		t.Fatal(err)
	}
	if len(l.lister.conns) != 1 || l.lister.conns[0].Secrets.Token != testToken || l.lister.filters[0].String() != `.*\.jpg$` || l.lister.limits[0] != 5 {
		t.Errorf("lister got %+v %v %v", l.lister.conns, l.lister.filters, l.lister.limits)
	}
	_, err := l.mgr.PreviewStoredFiles(context.Background(), owner, 42, patch(t, `{"regex_filter": "(?<=a)b"}`), 5)
	var verr *storage.ValidationError
	if !errors.As(err, &verr) || !strings.Contains(strings.Join(verr.Fields["regex_filter"], ""), "(?<") {
		t.Errorf("unsupported pattern: err = %v, want a regex_filter error naming the construct", err)
	}
	if _, err := l.mgr.PreviewFiles(context.Background(), stranger, mustDecode(t, baseFields().with("project", "7").body()), 5); err == nil {
		t.Errorf("preview of another project's volume was allowed")
	}
}

// A key whose storage was deleted since answers 422, not a replay of
// nothing and not a 500.
func TestReplayOfADeletedStorage(t *testing.T) {
	l := newLifecycle(t)
	keys := &memKeys{repo: l.repo, keys: map[string]core.IdempotencyRecord{}}
	l.svc.Keys = keys
	first, err := l.svc.Create(context.Background(), owner, patRequest(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.mgr.Delete(context.Background(), owner, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.Create(context.Background(), owner, patRequest(t), "k"); !errors.Is(err, core.ErrKeyOfDeletedStorage) {
		t.Errorf("err = %v, want ErrKeyOfDeletedStorage", err)
	}
}

// A create keeps only the secrets its authentication mode uses.
func TestCreateStoresOnlyTheSecretsOfItsAuthType(t *testing.T) {
	f := newFixture()
	req := mustDecode(t, baseFields().with("client_secret", jsonString(testClientSecret)).body())
	if _, err := f.svc.Create(context.Background(), anyone, req, ""); err != nil {
		t.Fatal(err)
	}
	if got := credentialsOf(t, f.secrets.created[0].Values); !reflect.DeepEqual(got, map[string]string{"token": testToken}) {
		t.Errorf("secret keys = %v, want only token", keysOf(got))
	}
}

// The record names the version of its secret: the create's first version,
// then each version an update writes; every read goes to that version,
// whichever version is current.
func TestTheRecordNamesItsSecretVersion(t *testing.T) {
	l := newLifecycle(t)
	ctx := context.Background()
	if got := l.repo.stored[0].SecretVersionID; got != firstVersion {
		t.Fatalf("created record names version %q, want the created secret's %q", got, firstVersion)
	}
	if _, err := l.mgr.Update(ctx, owner, 42, patch(t, `{"token": "dapi-second"}`)); err != nil {
		t.Fatal(err)
	}
	rec := l.repo.stored[0]
	if rec.SecretVersionID != "v1" || l.recordValues(t)["token"] != "dapi-second" {
		t.Fatalf("after a rotation the record names %q holding %v", rec.SecretVersionID, keysOf(l.recordValues(t)))
	}
	if l.vault.promoted[0] != "v1" {
		t.Errorf("the record's version was not made current: %v", l.vault.promoted)
	}
	// Another version made current behind the record's back is not read.
	l.vault.put(testARN, map[string]string{"token": "dapi-someone-elses"})
	if err := l.mgr.ValidateExisting(ctx, owner, 42, patch(t, `{}`)); err != nil {
		t.Fatal(err)
	}
	if got := l.checker.conns[len(l.checker.conns)-1].Secrets.Token; got != "dapi-second" {
		t.Errorf("validate used token %q, want the record's version's", got)
	}
}

// A failed record write needs no undo: nothing names the version it wrote,
// AWSCURRENT did not move, and the storage keeps its credentials.
func TestAFailedRecordWriteLeavesTheCredentials(t *testing.T) {
	l := newLifecycle(t)
	l.repo.err = errors.New("ProvisionedThroughputExceededException")
	_, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"token": "dapi-lost"}`))
	l.repo.err = nil
	if !errors.Is(err, core.ErrPersistence) {
		t.Fatalf("err = %v, want ErrPersistence", err)
	}
	assertCalls(t, l.j.list(), []string{"get-record", "read-secret", "check", "put-secret-version", "replace-record"})
	if l.repo.stored[0].SecretVersionID != firstVersion || l.recordValues(t)["token"] != testToken || l.vault.currentValues(testARN)["token"] != testToken {
		t.Errorf("a failed update changed the storage's credentials")
	}
}

// Records written before records named their version read AWSCURRENT, and
// an update pins them to the version it read (or wrote).
func TestRecordsWithoutAVersionReadTheCurrentOne(t *testing.T) {
	for name, body := range map[string]string{"settings only": `{"title": "pinned"}`, "rotation": `{"token": "dapi-rotated"}`} {
		t.Run(name, func(t *testing.T) {
			l := newLifecycle(t)
			ctx := context.Background()
			l.repo.stored[0].SecretVersionID = ""
			l.vault.put(testARN, map[string]string{"token": "dapi-current"}) // v1, AWSCURRENT
			if err := l.mgr.ValidateExisting(ctx, owner, 42, patch(t, `{}`)); err != nil {
				t.Fatal(err)
			}
			if got := l.checker.conns[0].Secrets.Token; got != "dapi-current" {
				t.Errorf("validate of a record without a version used %q, want AWSCURRENT's", got)
			}
			if _, err := l.mgr.Update(ctx, owner, 42, patch(t, body)); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"settings only": "v1", "rotation": "v2"}[name]
			if got := l.repo.stored[0].SecretVersionID; got != want {
				t.Errorf("updated record names version %q, want %q", got, want)
			}
		})
	}
}

// Stored credentials go only to the host (and tenant) they were entered
// for: an update, validate or files preview that moves the storage
// elsewhere without giving the secret again is refused before anything is
// checked, listed or written.
func TestStoredCredentialsAreNotSentToANewHost(t *testing.T) {
	const moved = `{"host": "https://attacker.example.com"}`
	want := map[string][]string{"token": {"Give the token again: stored credentials are not sent to a new host."}}
	for name, call := range map[string]func(*lifecycle) error{
		"update": func(l *lifecycle) error {
			_, err := l.mgr.Update(context.Background(), owner, 42, patch(t, moved))
			return err
		},
		"validate": func(l *lifecycle) error {
			return l.mgr.ValidateExisting(context.Background(), owner, 42, patch(t, moved))
		},
		"files": func(l *lifecycle) error {
			_, err := l.mgr.PreviewStoredFiles(context.Background(), owner, 42, patch(t, moved), 5)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLifecycle(t)
			err := call(l)
			var verr *storage.ValidationError
			if !errors.As(err, &verr) || !reflect.DeepEqual(verr.Fields, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if len(l.checker.conns) != 0 || len(l.lister.conns) != 0 || l.repo.stored[0].Revision != 1 {
				t.Errorf("the stored token went somewhere: checks %d, listings %d, revision %d", len(l.checker.conns), len(l.lister.conns), l.repo.stored[0].Revision)
			}
		})
	}
	t.Run("with the token given again", func(t *testing.T) {
		l := newLifecycle(t)
		if _, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"host": "https://other.cloud.databricks.com", "token": "dapi-for-the-new-host"}`)); err != nil {
			t.Fatal(err)
		}
		if got := l.checker.conns[0].Secrets.Token; got != "dapi-for-the-new-host" {
			t.Errorf("checked with %q", got)
		}
	})
}
