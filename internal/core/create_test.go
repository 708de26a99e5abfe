package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// journal records the order of calls across the fakes.
type journal struct {
	mu    sync.Mutex
	calls []string
}

func (j *journal) add(call string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, call)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.calls...)
}

type fakeChecker struct {
	j     *journal
	err   error
	conns []storage.Connection
	// until, when set, holds the check's answer until it is closed or the
	// check's context is done; ctxErr is then the context's error.
	until  <-chan struct{}
	ctxErr error
	// done is closed when the check returns, if set.
	done chan struct{}
	// ctxs receives the check's context, if set.
	ctxs chan context.Context
}

func (c *fakeChecker) CheckConnection(ctx context.Context, conn storage.Connection) error {
	c.j.add("check")
	c.conns = append(c.conns, conn)
	if c.ctxs != nil {
		c.ctxs <- ctx
	}
	if c.done != nil {
		defer close(c.done)
	}
	if c.until != nil {
		select {
		case <-c.until:
		case <-ctx.Done():
			c.ctxErr = ctx.Err()
			return ctx.Err()
		}
	}
	return c.err
}

type fakeIDs struct {
	j       *journal
	next    int64
	err     error
	skipped []int64
	wait    func() // when set, NextID calls it first
}

func (f *fakeIDs) NextID(context.Context) (int64, error) {
	if f.wait != nil {
		f.wait()
	}
	f.j.add("id")
	if f.err != nil {
		return 0, f.err
	}
	id := f.next
	f.next++
	return id, nil
}

func (f *fakeIDs) SkipTaken(_ context.Context, id int64) error {
	f.j.add("skip-taken")
	f.skipped = append(f.skipped, id)
	f.next = max(f.next, id+100)
	return nil
}

type deleteCall struct {
	arn         string
	ctxErr      error
	hasDeadline bool
	deadlineIn  time.Duration
}

type fakeSecrets struct {
	j         *journal
	arn       string
	createErr error
	deleteErr error
	created   []core.NewSecret
	deletes   []deleteCall
	live      map[string]core.NewSecret // secrets that exist now
	made      chan struct{}             // closed by the first create, if set
}

func (s *fakeSecrets) CreateSecret(_ context.Context, n core.NewSecret) (arn, versionID string, err error) {
	s.j.add("create-secret")
	s.created = append(s.created, n)
	if s.made != nil && len(s.created) == 1 {
		defer close(s.made)
	}
	if s.createErr != nil {
		return "", "", s.createErr
	}
	if s.live == nil {
		s.live = map[string]core.NewSecret{}
	}
	s.live[s.arn] = n
	return s.arn, firstVersion, nil
}

func (s *fakeSecrets) DeleteSecret(ctx context.Context, arn string) error {
	s.j.add("delete-secret")
	call := deleteCall{arn: arn, ctxErr: ctx.Err()}
	if dl, ok := ctx.Deadline(); ok {
		call.hasDeadline, call.deadlineIn = true, time.Until(dl)
	}
	s.deletes = append(s.deletes, call)
	if s.deleteErr != nil {
		return s.deleteErr
	}
	delete(s.live, arn)
	return nil
}

type recordDelete struct {
	id     int64
	arn    string
	ctxErr error
}

type fakeRepo struct {
	// mu guards stored for the tests that update concurrently.
	mu     sync.Mutex
	j      *journal
	err    error
	before func() // runs inside PutStorage, e.g. to cancel the request
	// writeThenFail stores the record and still reports err: a timeout that
	// hides a write that happened.
	writeThenFail bool
	deleteErr     error
	stored        []storage.Record
	deletes       []recordDelete
}

func (r *fakeRepo) PutStorage(_ context.Context, rec storage.Record) error {
	r.j.add("put-record")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.before != nil {
		r.before()
	}
	if r.err == nil || r.writeThenFail {
		r.stored = append(r.stored, rec)
	}
	return r.err
}

func (r *fakeRepo) DeleteStorage(ctx context.Context, id int64, secretARN string) error {
	r.j.add("delete-record")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deletes = append(r.deletes, recordDelete{id: id, arn: secretARN, ctxErr: ctx.Err()})
	if r.deleteErr != nil {
		return r.deleteErr
	}
	kept := r.stored[:0]
	for _, rec := range r.stored {
		if rec.ID != id || rec.SecretARN != secretARN {
			kept = append(kept, rec)
		}
	}
	r.stored = kept
	return nil
}

func (r *fakeRepo) GetStorage(_ context.Context, id int64) (storage.Record, error) {
	r.j.add("get-record")
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.stored {
		if rec.ID == id {
			return rec, nil
		}
	}
	return storage.Record{}, storage.ErrRecordNotFound
}

func (r *fakeRepo) ListProject(_ context.Context, project int64) ([]storage.Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []storage.Record
	for _, rec := range r.stored {
		if rec.Project == project {
			out = append(out, rec)
		}
	}
	return out, nil
}

func (r *fakeRepo) ReplaceStorage(_ context.Context, rec storage.Record) error {
	r.j.add("replace-record")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	for i, old := range r.stored {
		if old.ID == rec.ID {
			if old.Revision != rec.Revision {
				return core.ErrConflict
			}
			rec.Revision++
			r.stored[i] = rec
			return nil
		}
	}
	return storage.ErrRecordNotFound
}

func (r *fakeRepo) RemoveStorage(_ context.Context, id int64) (storage.Record, error) {
	r.j.add("remove-record")
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rec := range r.stored {
		if rec.ID == id {
			r.stored = append(r.stored[:i], r.stored[i+1:]...)
			return rec, nil
		}
	}
	return storage.Record{}, storage.ErrRecordNotFound
}

type fixture struct {
	j       *journal
	checker *fakeChecker
	ids     *fakeIDs
	secrets *fakeSecrets
	repo    *fakeRepo
	logs    *bytes.Buffer
	svc     *core.Creator
}

// firstVersion is the version id of every secret fakeSecrets creates.
const firstVersion = "v0"

const testARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lsdbx/storage/42-AbCdEf"

var testNow = time.Date(2025, 11, 24, 23, 58, 1, 123456789, time.FixedZone("CET", 3600))

func newFixture() *fixture {
	j := &journal{}
	f := &fixture{
		j:       j,
		checker: &fakeChecker{j: j},
		ids:     &fakeIDs{j: j, next: 42},
		secrets: &fakeSecrets{j: j, arn: testARN},
		repo:    &fakeRepo{j: j},
		logs:    &bytes.Buffer{},
	}
	f.svc = &core.Creator{
		Checker: f.checker,
		Secrets: f.secrets,
		Records: f.repo,
		IDs:     f.ids,
		Now:     func() time.Time { return testNow },
		Logger:  slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return f
}

func patRequest(t *testing.T) storage.Request {
	t.Helper()
	return mustDecode(t, baseFields().with("project", "7", "prefix", `"/images/2025/"`, "title", `"Landing"`).body())
}

func spRequest(t *testing.T) storage.Request {
	t.Helper()
	return mustDecode(t, baseFields().without("token").with(
		"project", "7", "auth_type", `"azure_ad_sp"`, "client_id", `"az-client"`,
		"tenant_id", `"tenant-1"`, "client_secret", jsonString(testClientSecret)).body())
}

func TestServiceCreateHappyPath(t *testing.T) {
	cases := []struct {
		name       string
		req        func(*testing.T) storage.Request
		wantValues map[string]string
	}{
		{"pat", patRequest, map[string]string{"token": testToken}},
		{"azure_ad_sp", spRequest, map[string]string{"client_secret": testClientSecret}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			req := c.req(t)
			got, err := f.svc.Create(context.Background(), anyone, req, "")
			if err != nil {
				t.Fatalf("Create: %v", err)
			}

			wantCreated := time.Date(2025, 11, 24, 22, 58, 1, 123456000, time.UTC)
			if got.ID != 42 || got.Type != "databricks" {
				t.Errorf("storage id/type = %d/%q, want 42/databricks", got.ID, got.Type)
			}
			if !got.CreatedAt.Equal(wantCreated) || got.CreatedAt.Location() != time.UTC || got.CreatedAt.Nanosecond()%1000 != 0 {
				t.Errorf("created_at = %v, want %v (UTC, microseconds)", got.CreatedAt, wantCreated)
			}
			if !reflect.DeepEqual(got.Settings, req.Settings) {
				t.Errorf("storage settings differ from the request's:\n got %+v\nwant %+v", got.Settings, req.Settings)
			}

			assertCalls(t, f.j.list(), []string{"check", "id", "create-secret", "put-record"})
			if len(f.secrets.created) != 1 {
				t.Fatalf("%d secrets created, want 1", len(f.secrets.created))
			}
			sec := f.secrets.created[0]
			if sec.StorageID != 42 || sec.Project != 7 {
				t.Errorf("secret tagged storage %d project %d, want 42 and 7", sec.StorageID, sec.Project)
			}
			if !reflect.DeepEqual(credentialsOf(t, sec.Values), c.wantValues) {
				t.Errorf("secret holds keys %v, want exactly %v with the sent values", keysOf(sec.Values), keysOf(c.wantValues))
			}
			if len(f.repo.stored) != 1 {
				t.Fatalf("%d records stored, want 1", len(f.repo.stored))
			}
			rec := f.repo.stored[0]
			if rec.SecretARN != testARN {
				t.Errorf("record secret ARN = %q, want %q", rec.SecretARN, testARN)
			}
			if !reflect.DeepEqual(rec.Storage, got.Storage) {
				t.Errorf("stored record %+v differs from the returned storage %+v", rec.Storage, got)
			}
			if len(f.secrets.deletes) != 0 {
				t.Errorf("a secret was deleted on success: %+v", f.secrets.deletes)
			}
			assertNoSecret(t, "service logs", f.logs.String())
		})
	}
}

func TestServiceCreateUsesTimeNowWhenUnset(t *testing.T) {
	f := newFixture()
	f.svc.Now = nil
	before := time.Now().UTC().Truncate(time.Microsecond)
	got, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()
	if got.CreatedAt.Before(before) || got.CreatedAt.After(after) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at %v not between %v and %v in UTC", got.CreatedAt, before, after)
	}
}

func TestServiceCreateFailures(t *testing.T) {
	connErr := &storage.ConnectionError{Reason: "volume_missing", Message: "The volume main.default.landing does not exist.", Err: errors.New("HTTP 404")}
	idErr := errors.New("dynamodb: ProvisionedThroughputExceededException")
	secretErr := errors.New("secretsmanager: LimitExceededException")
	repoErr := errors.New("dynamodb: ConditionalCheckFailedException")

	cases := []struct {
		name        string
		setup       func(*fixture)
		wantIs      []error
		wantPersist bool
		wantCalls   []string
		// wantDeleted: the record and the secret were rolled back;
		// wantSecretDeleted: only the secret was deleted.
		wantDeleted, wantSecretDeleted bool
	}{
		{
			// The check fails after the secret was made beside it: the
			// secret goes, and nothing else was written.
			name: "connection check fails after the secret was made",
			setup: func(f *fixture) {
				f.checker.err, f.secrets.made = connErr, make(chan struct{})
				f.checker.until = f.secrets.made
			},
			wantIs:            []error{connErr},
			wantCalls:         []string{"id", "create-secret", "check", "delete-secret"},
			wantSecretDeleted: true,
		},
		{
			name:        "id allocation fails",
			setup:       func(f *fixture) { f.ids.err = idErr },
			wantIs:      []error{idErr},
			wantPersist: true,
			wantCalls:   []string{"check", "id"},
		},
		{
			name:        "secret creation fails",
			setup:       func(f *fixture) { f.secrets.createErr = secretErr },
			wantIs:      []error{secretErr},
			wantPersist: true,
			wantCalls:   []string{"check", "id", "create-secret"},
		},
		{
			name:        "record write fails",
			setup:       func(f *fixture) { f.repo.err = repoErr },
			wantIs:      []error{repoErr},
			wantPersist: true,
			wantCalls:   []string{"check", "id", "create-secret", "put-record", "delete-record", "delete-secret"},
			wantDeleted: true,
		},
		{
			name:        "record write times out after writing",
			setup:       func(f *fixture) { f.repo.err, f.repo.writeThenFail = context.DeadlineExceeded, true },
			wantIs:      []error{context.DeadlineExceeded},
			wantPersist: true,
			wantCalls:   []string{"check", "id", "create-secret", "put-record", "delete-record", "delete-secret"},
			wantDeleted: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			c.setup(f)
			got, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
			if err == nil {
				t.Fatalf("Create succeeded with %+v, want an error", got)
			}
			if !reflect.DeepEqual(got, core.Created{}) {
				t.Errorf("Create returned a storage with its error: %+v", got)
			}
			for _, want := range c.wantIs {
				if !errors.Is(err, want) {
					t.Errorf("error %v does not wrap %v", err, want)
				}
			}
			if errors.Is(err, core.ErrPersistence) != c.wantPersist {
				t.Errorf("errors.Is(err, ErrPersistence) = %v, want %v (err %v)", !c.wantPersist, c.wantPersist, err)
			}
			var ce *storage.ConnectionError
			if isConn := errors.As(err, &ce); isConn != (c.setup != nil && f.checker.err != nil) {
				t.Errorf("errors.As(err, *ConnectionError) = %v", isConn)
			}
			assertCalls(t, f.j.list(), c.wantCalls)
			// Nothing is left behind: no record, no live secret.
			if len(f.repo.stored) != 0 {
				t.Errorf("records stored: %+v", f.repo.stored)
			}
			if len(f.secrets.live) != 0 {
				t.Errorf("secrets left behind: %v", keysOf(f.secrets.live))
			}
			if c.wantDeleted || c.wantSecretDeleted {
				if len(f.secrets.deletes) != 1 || f.secrets.deletes[0].arn != testARN || f.secrets.deletes[0].ctxErr != nil {
					t.Errorf("secret deletes = %+v, want one of %s with a live context", f.secrets.deletes, testARN)
				}
			}
			if c.wantDeleted {
				if want := []recordDelete{{id: 42, arn: testARN}}; !reflect.DeepEqual(f.repo.deletes, want) {
					t.Errorf("record deletes = %+v, want %+v", f.repo.deletes, want)
				}
			} else if len(f.repo.deletes) != 0 || (!c.wantSecretDeleted && len(f.secrets.deletes) != 0) {
				t.Errorf("rollback ran although nothing was written: %+v %+v", f.secrets.deletes, f.repo.deletes)
			}
			assertNoSecret(t, "error text", err.Error())
			assertNoSecret(t, "service logs", f.logs.String())
		})
	}
}

// The request's context may be done by the time the record write fails
// (the Lambda deadline, the client hanging up): the secret is still removed.
func TestServiceCreateDeletesSecretEvenWhenContextIsCancelled(t *testing.T) {
	for _, name := range []string{"cancelled during the write", "deadline passed during the write"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture()
			var ctx context.Context
			var cancel context.CancelFunc
			if strings.HasPrefix(name, "cancelled") {
				ctx, cancel = context.WithCancel(context.Background())
				f.repo.err = context.Canceled
			} else {
				ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
				f.repo.err = context.DeadlineExceeded
			}
			defer cancel()
			f.repo.before = cancel

			_, err := f.svc.Create(ctx, anyone, patRequest(t), "")
			if !errors.Is(err, core.ErrPersistence) {
				t.Fatalf("error %v does not wrap ErrPersistence", err)
			}
			if len(f.secrets.deletes) != 1 {
				t.Fatalf("%d secret deletes, want 1", len(f.secrets.deletes))
			}
			d := f.secrets.deletes[0]
			if d.arn != testARN {
				t.Errorf("deleted %q, want %q", d.arn, testARN)
			}
			if d.ctxErr != nil {
				t.Errorf("the secret delete ran with a done context (%v): it would never reach Secrets Manager", d.ctxErr)
			}
			if len(f.repo.deletes) != 1 || f.repo.deletes[0].ctxErr != nil {
				t.Errorf("record deletes = %+v, want one with a live context", f.repo.deletes)
			}
			// The clean-up is bounded so a hung call cannot hold the function.
			if !d.hasDeadline || d.deadlineIn <= 0 || d.deadlineIn > time.Minute {
				t.Errorf("delete context deadline: present %v, in %v; want a short bound", d.hasDeadline, d.deadlineIn)
			}
			if len(f.secrets.live) != 0 || len(f.repo.stored) != 0 {
				t.Errorf("left behind: secrets %v, records %+v", keysOf(f.secrets.live), f.repo.stored)
			}
		})
	}
}

func TestServiceCreateLogsFailedSecretDeleteWithoutSecrets(t *testing.T) {
	f := newFixture()
	f.repo.err = errors.New("dynamodb: ConditionalCheckFailedException")
	f.secrets.deleteErr = errors.New("secretsmanager: InternalServiceError deleting " + testARN)
	req := mustDecode(t, baseFields().with("client_secret", jsonString(testClientSecret)).body())

	_, err := f.svc.Create(context.Background(), anyone, req, "")
	if !errors.Is(err, core.ErrPersistence) {
		t.Fatalf("error %v does not wrap ErrPersistence", err)
	}
	out := f.logs.String()
	assertNoSecret(t, "service logs", out)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line about the orphan secret, got %d:\n%s", len(lines), out)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("log line is not JSON: %v", err)
	}
	if entry["level"] != "ERROR" {
		t.Errorf("level = %v, want ERROR", entry["level"])
	}
	if entry["storage_id"] != "42" && entry["storage_id"] != float64(42) {
		t.Errorf("storage_id = %v, want 42", entry["storage_id"])
	}
	if e, _ := entry["error"].(string); !strings.Contains(e, "InternalServiceError") {
		t.Errorf("error attribute = %q, want the delete failure", e)
	}
}

// If the record cannot be removed, the secret is kept with it: a record
// without its secret would be a storage that can never sync.
func TestServiceCreateKeepsSecretWhenRecordCannotBeRemoved(t *testing.T) {
	f := newFixture()
	f.repo.err, f.repo.writeThenFail = context.DeadlineExceeded, true
	f.repo.deleteErr = errors.New("dynamodb: RequestLimitExceeded")
	_, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
	if !errors.Is(err, core.ErrPersistence) {
		t.Fatalf("error %v does not wrap ErrPersistence", err)
	}
	if len(f.secrets.deletes) != 0 {
		t.Errorf("the secret of a record that may exist was deleted")
	}
	if len(f.repo.stored) != 1 || len(f.secrets.live) != 1 || f.repo.stored[0].SecretARN != testARN {
		t.Errorf("record %+v and secret %v should be kept together", f.repo.stored, keysOf(f.secrets.live))
	}
	out := f.logs.String()
	assertNoSecret(t, "service logs", out)
	if !strings.Contains(out, "RequestLimitExceeded") || !strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("the failed rollback is not logged as an error: %s", out)
	}
}

func TestServiceValidateChecksOnly(t *testing.T) {
	connErr := &storage.ConnectionError{Reason: "credentials_refused", Message: "The workspace refused the token."}
	for _, checkErr := range []error{nil, connErr, context.DeadlineExceeded} {
		f := newFixture()
		f.checker.err = checkErr
		err := f.svc.Validate(context.Background(), anyone, patRequest(t))
		if !errors.Is(err, checkErr) || (checkErr == nil && err != nil) {
			t.Errorf("Validate = %v, want %v", err, checkErr)
		}
		if want := []string{"check"}; !reflect.DeepEqual(f.j.list(), want) {
			t.Errorf("calls = %v, want only the check", f.j.list())
		}
		if len(f.checker.conns) != 1 {
			t.Errorf("checker called %d times", len(f.checker.conns))
		}
	}
}

func TestServicePassesTheConnectionToTheChecker(t *testing.T) {
	cases := []struct {
		name string
		body []byte
		want storage.Connection
	}{
		{
			name: "pat with defaults",
			body: baseFields().body(),
			want: storage.Connection{
				Host: testHost, AuthType: storage.AuthPAT, Secrets: storage.Secrets{Token: testToken},
				Catalog: "main", Schema: "default", Volume: "landing", Prefix: "",
				VerifyTLS: true, Timeout: time.Duration(storage.DefaultRequestTimeoutS) * time.Second,
			},
		},
		{
			name: "pat with prefix, timeout, no TLS verification",
			body: baseFields().with("prefix", `"/images/2025/"`, "request_timeout_s", "15", "verify_tls", "false",
				"host", `"HTTPS://Dbc-A1B2C3D4-E5F6.cloud.databricks.com:443/"`).body(),
			want: storage.Connection{
				Host: testHost, AuthType: storage.AuthPAT, Secrets: storage.Secrets{Token: testToken},
				Catalog: "main", Schema: "default", Volume: "landing", Prefix: "images/2025",
				VerifyTLS: false, Timeout: 15 * time.Second,
			},
		},
		{
			name: "dbx_sp",
			body: baseFields().without("token").with("auth_type", `"dbx_sp"`, "client_id", `"sp-client"`,
				"client_secret", jsonString(testClientSecret), "request_timeout_s", "1").body(),
			want: storage.Connection{
				Host: testHost, AuthType: storage.AuthDatabricksSP, ClientID: "sp-client",
				Secrets: storage.Secrets{ClientSecret: testClientSecret},
				Catalog: "main", Schema: "default", Volume: "landing", VerifyTLS: true, Timeout: time.Second,
			},
		},
		{
			name: "azure_ad_sp",
			body: baseFields().without("token").with("auth_type", `"azure_ad_sp"`, "client_id", `"az-client"`,
				"tenant_id", `"tenant-1"`, "client_secret", jsonString(testClientSecret), "prefix", `"a"`).body(),
			want: storage.Connection{
				Host: testHost, AuthType: storage.AuthAzureADSP, ClientID: "az-client", TenantID: "tenant-1",
				Secrets: storage.Secrets{ClientSecret: testClientSecret},
				Catalog: "main", Schema: "default", Volume: "landing", Prefix: "a", VerifyTLS: true,
				Timeout: time.Duration(storage.DefaultRequestTimeoutS) * time.Second,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := mustDecode(t, c.body)
			for _, op := range []string{"validate", "create"} {
				f := newFixture()
				var err error
				if op == "validate" {
					err = f.svc.Validate(context.Background(), anyone, req)
				} else {
					_, err = f.svc.Create(context.Background(), anyone, req, "")
				}
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				if len(f.checker.conns) != 1 {
					t.Fatalf("%s: checker called %d times", op, len(f.checker.conns))
				}
				got, want := f.checker.conns[0], c.want
				if got.Secrets != want.Secrets {
					t.Errorf("%s: connection secrets do not match the request's", op)
				}
				got.Secrets, want.Secrets = storage.Secrets{}, storage.Secrets{}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: connection = %+v\nwant %+v", op, got, want)
				}
			}
		})
	}
}

// takenSecrets refuses the names of the given storage ids, as Secrets
// Manager does when another storage's secret has the name.
type takenSecrets struct {
	*fakeSecrets
	taken map[int64]bool
}

func (s takenSecrets) CreateSecret(ctx context.Context, n core.NewSecret) (arn, versionID string, err error) {
	if s.taken[n.StorageID] {
		s.j.add("create-secret")
		return "", "", fmt.Errorf("ResourceExistsException: %w", core.ErrIDTaken)
	}
	return s.fakeSecrets.CreateSecret(ctx, n)
}

// takenRecords refuses records of the given ids, as another storage's
// record holds them.
type takenRecords struct {
	*fakeRepo
	taken map[int64]bool
}

func (r takenRecords) PutStorage(ctx context.Context, rec storage.Record) error {
	if r.taken[rec.ID] {
		r.j.add("put-record")
		return fmt.Errorf("put storage %d: %w", rec.ID, core.ErrIDTaken)
	}
	return r.fakeRepo.PutStorage(ctx, rec)
}

// A lost or reset id counter hands out an id another storage has: the
// create moves the counter past it and succeeds with a fresh id, touching
// nothing of the other storage.
func TestServiceCreateSkipsTakenIDs(t *testing.T) {
	t.Run("secret name taken", func(t *testing.T) {
		f := newFixture()
		f.svc.Secrets = takenSecrets{f.secrets, map[int64]bool{42: true}}
		got, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if got.ID != 142 || !reflect.DeepEqual(f.ids.skipped, []int64{42}) {
			t.Errorf("id %d, skipped %v; want 142 after skipping 42", got.ID, f.ids.skipped)
		}
		assertCalls(t, f.j.list(), []string{"check", "id", "create-secret", "skip-taken", "id", "create-secret", "put-record"})
		if len(f.secrets.deletes)+len(f.repo.deletes) != 0 {
			t.Errorf("something was deleted: secrets %+v records %+v", f.secrets.deletes, f.repo.deletes)
		}
	})
	t.Run("record taken", func(t *testing.T) {
		f := newFixture()
		f.svc.Records = takenRecords{f.repo, map[int64]bool{42: true}}
		got, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if got.ID != 142 {
			t.Errorf("id %d, want 142", got.ID)
		}
		// Only this create's own secret of the taken id is removed.
		if len(f.secrets.deletes) != 1 || f.secrets.deletes[0].arn != testARN || len(f.repo.stored) != 1 || f.repo.stored[0].ID != 142 {
			t.Errorf("secret deletes %+v, records %+v", f.secrets.deletes, f.repo.stored)
		}
	})
	t.Run("gives up after a few ids", func(t *testing.T) {
		f := newFixture()
		f.svc.Secrets = takenSecrets{f.secrets, map[int64]bool{42: true, 142: true, 242: true}}
		_, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
		if !errors.Is(err, core.ErrPersistence) || !errors.Is(err, core.ErrIDTaken) {
			t.Fatalf("err = %v, want ErrPersistence wrapping ErrIDTaken", err)
		}
		if len(f.secrets.live)+len(f.repo.stored) != 0 {
			t.Errorf("left behind: %v %+v", keysOf(f.secrets.live), f.repo.stored)
		}
	})
}

func TestCallersAreAuthorisedPerProject(t *testing.T) {
	only7 := core.TokenHolder(core.Principal{TokenID: "t7", User: "u", Projects: []int64{7}})
	only8 := core.TokenHolder(core.Principal{TokenID: "t8", User: "u", Projects: []int64{8}})
	all := core.TokenHolder(core.Principal{TokenID: "ta", User: "u", AllProjects: true})
	for _, c := range []struct {
		name   string
		caller core.Caller
		allow  bool
	}{{"granted project", only7, true}, {"other project", only8, false}, {"all projects", all, true}, {"trusted source", anyone, true}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			_, createErr := f.svc.Create(context.Background(), c.caller, patRequest(t), "")
			validateErr := f.svc.Validate(context.Background(), c.caller, patRequest(t))
			for _, err := range []error{createErr, validateErr} {
				var perm *core.PermissionError
				if c.allow != (err == nil) || (!c.allow && (!errors.As(err, &perm) || perm.Project != 7)) {
					t.Errorf("err = %v, want allowed %v", err, c.allow)
				}
			}
			if !c.allow && len(f.j.list()) != 0 {
				t.Errorf("a refused caller reached %v", f.j.list())
			}
		})
	}
}

// memKeys is an in-memory IdempotencyStore over a fakeRepo.
type memKeys struct {
	repo *fakeRepo
	mu   sync.Mutex
	keys map[string]core.IdempotencyRecord
	// until, when set, holds FindKey's answer until it is closed; err is
	// FindKey's failure.
	until <-chan struct{}
	err   error
}

func (m *memKeys) FindKey(_ context.Context, key string) (core.IdempotencyRecord, bool, error) {
	m.repo.j.add("find-key")
	if m.until != nil {
		<-m.until
	}
	if m.err != nil {
		return core.IdempotencyRecord{}, false, m.err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.keys[key]
	return r, ok, nil
}

func (m *memKeys) PutStorageWithKey(ctx context.Context, r storage.Record, key core.IdempotencyRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[key.Key]; ok {
		return core.ErrKeyTaken
	}
	m.keys[key.Key] = key
	return m.repo.PutStorage(ctx, r)
}

func (m *memKeys) DeleteStorageWithKey(ctx context.Context, id int64, arn, key string) error {
	m.mu.Lock()
	delete(m.keys, key)
	m.mu.Unlock()
	return m.repo.DeleteStorage(ctx, id, arn)
}

// Keys are scoped by organization and user: equal keys of callers that
// differ in either never meet; equal keys of one caller replay.
func TestIdempotencyKeysAreScopedByOrganizationAndUser(t *testing.T) {
	f := newFixture()
	keys := &memKeys{repo: f.repo, keys: map[string]core.IdempotencyRecord{}}
	f.svc.Keys = keys
	caller := func(org, user string) core.Caller {
		return core.TokenHolder(core.Principal{TokenID: org + user, Organization: org, User: user, AllProjects: true})
	}
	ids := map[string]int64{}
	for _, c := range []struct{ org, user string }{{"acme", "alice"}, {"other", "alice"}, {"acme", "bob"}, {"", "acme/alice"}, {"acme/alice", ""}} {
		got, err := f.svc.Create(context.Background(), caller(c.org, c.user), patRequest(t), "order-1")
		if err != nil || got.Replayed {
			t.Fatalf("%s/%s: %+v, %v; want a new storage", c.org, c.user, got, err)
		}
		ids[c.org+"|"+c.user] = got.ID
	}
	if len(keys.keys) != 5 {
		t.Errorf("%d keys stored, want 5 independent ones: %v", len(keys.keys), keysOf(keys.keys))
	}
	again, err := f.svc.Create(context.Background(), caller("other", "alice"), patRequest(t), "order-1")
	if err != nil || !again.Replayed || again.ID != ids["other|alice"] {
		t.Errorf("same caller, same key: %+v, %v; want the replay of storage %d", again, err, ids["other|alice"])
	}
}

// doneChecker journals "checked" when the check has answered.
type doneChecker struct{ *fakeChecker }

func (c doneChecker) CheckConnection(ctx context.Context, conn storage.Connection) error {
	defer c.j.add("checked")
	return c.fakeChecker.CheckConnection(ctx, conn)
}

// The AWS work of a create overlaps the connection check: with or without an
// idempotency key, the secret exists before the workspace has answered, and
// the record write is the one call after the check.
func TestCreateMakesTheSecretWhileTheWorkspaceIsChecked(t *testing.T) {
	for _, key := range []string{"", "order-1"} {
		t.Run("key="+key, func(t *testing.T) {
			f := newFixture()
			f.svc.Keys = &memKeys{repo: f.repo, keys: map[string]core.IdempotencyRecord{}}
			f.secrets.made = make(chan struct{})
			f.checker.until = f.secrets.made // the workspace answers only once the secret exists
			f.svc.Checker = doneChecker{f.checker}
			if _, err := f.svc.Create(context.Background(), anyone, patRequest(t), key); err != nil {
				t.Fatalf("Create: %v", err)
			}
			calls := f.j.list()
			checked := slices.Index(calls, "checked")
			if after := calls[checked+1:]; !slices.Equal(after, []string{"put-record"}) {
				t.Errorf("calls = %v: after the check, want only the record write, got %v", calls, after)
			}
			if key != "" && slices.Index(calls, "find-key") > slices.Index(calls, "create-secret") {
				t.Errorf("calls = %v: a secret was made before the key was looked up", calls)
			}
		})
	}
}

// A key that cannot be looked up fails the create before any secret exists.
func TestCreateFailsWhenTheKeyCannotBeLookedUp(t *testing.T) {
	f := newFixture()
	lookupErr := errors.New("dynamodb: ProvisionedThroughputExceededException")
	f.svc.Keys = &memKeys{repo: f.repo, keys: map[string]core.IdempotencyRecord{}, err: lookupErr}
	_, err := f.svc.Create(context.Background(), anyone, patRequest(t), "order-1")
	if !errors.Is(err, core.ErrPersistence) || !errors.Is(err, lookupErr) {
		t.Fatalf("err = %v, want ErrPersistence wrapping the lookup failure", err)
	}
	if len(f.secrets.created)+len(f.repo.stored) != 0 {
		t.Errorf("made secrets %d, records %+v", len(f.secrets.created), f.repo.stored)
	}
}
