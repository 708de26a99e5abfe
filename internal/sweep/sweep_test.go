//go:build integration

package sweep_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// secretValue is stored in every test secret; it must never reach a log.
const secretValue = "dapi-SWEEP-secret-5c1d"

// env is the AWS side of one test: a fresh table and secret prefix on moto.
type env struct {
	sm      *secretsmanager.Client
	records *dynamostore.Store
	secrets *secretstore.Store
	prefix  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	sm := secretsmanager.NewFromConfig(cfg)
	prefix := testenv.NewSecretPrefix(t)
	return &env{
		sm:      sm,
		records: &dynamostore.Store{Client: dynamodb.NewFromConfig(cfg), Table: testenv.NewTable(t)},
		secrets: &secretstore.Store{Client: sm, Prefix: prefix},
		prefix:  prefix,
	}
}

// createSecret creates a storage secret the way the service does.
func (e *env) createSecret(t *testing.T, prefix string, id int64) string {
	t.Helper()
	store := &secretstore.Store{Client: e.sm, Prefix: prefix}
	arn, _, err := store.CreateSecret(context.Background(), core.NewSecret{StorageID: id, Project: 1, Values: map[string]string{"token": secretValue}})
	if err != nil {
		t.Fatalf("create secret %d: %v", id, err)
	}
	return arn
}

// createRaw creates a secret with exactly the given name and tags.
func (e *env) createRaw(t *testing.T, name string, tags map[string]string) string {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(`{"token":"` + secretValue + `"}`)}
	for k, v := range tags {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := e.sm.CreateSecret(context.Background(), in)
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

// putRecord writes the storage record of id, referring to secretARN.
func (e *env) putRecord(t *testing.T, id int64, secretARN string) {
	t.Helper()
	r := storage.Record{
		Storage: storage.Storage{ID: id, Type: "databricks", CreatedAt: time.Now().UTC(), Settings: storage.Settings{
			Project: 1, Host: "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", Catalog: "main", Schema: "default",
			Volume: "landing", AuthType: storage.AuthType("pat"), VerifyTLS: true, RequestTimeoutS: 10,
			StreamChunkBytes: 8 << 20, PresignTTL: 1, Synchronizable: true, Status: "initialized",
		}},
		SecretARN: secretARN,
	}
	if err := e.records.PutStorage(context.Background(), r); err != nil {
		t.Fatalf("put record %d: %v", id, err)
	}
}

func (e *env) createdAt(t *testing.T, arn string) time.Time {
	t.Helper()
	out, err := e.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatalf("describe %s: %v", arn, err)
	}
	return aws.ToTime(out.CreatedDate)
}

// remaining lists the secret names under any of the prefixes, sorted.
func remaining(t *testing.T, prefixes ...string) []string {
	t.Helper()
	var names []string
	for _, p := range prefixes {
		names = append(names, testenv.SecretNames(t, p)...)
	}
	slices.Sort(names)
	return names
}

func newLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestSweepDeletesExactlyTheOldOrphans builds one of each kind of secret,
// then runs a dry run, a sweep and a second sweep over them.
func TestSweepDeletesExactlyTheOldOrphans(t *testing.T) {
	e := newEnv(t)
	outside := strings.TrimSuffix(e.prefix, "/") + "-other/"
	const otherARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:label-studio/databricks-storage/storage-3-AbCdEf"

	// Each kind of secret, and whether the sweep must delete it.
	kinds := []struct {
		name   string
		id     int64
		create func(t *testing.T, id int64) (secretName string)
		orphan bool
	}{
		{"record refers to it", 1, func(t *testing.T, id int64) string {
			e.putRecord(t, id, e.createSecret(t, e.prefix, id))
			return e.secrets.Name(id)
		}, false},
		{"no record", 2, func(t *testing.T, id int64) string {
			e.createSecret(t, e.prefix, id)
			return e.secrets.Name(id)
		}, true},
		{"record refers to another secret", 3, func(t *testing.T, id int64) string {
			e.createSecret(t, e.prefix, id)
			e.putRecord(t, id, otherARN)
			return e.secrets.Name(id)
		}, true},
		{"no record, second one", 4, func(t *testing.T, id int64) string {
			e.createSecret(t, e.prefix, id)
			return e.secrets.Name(id)
		}, true},
		{"without the managed-by tag", 5, func(t *testing.T, id int64) string {
			name := e.secrets.Name(id)
			e.createRaw(t, name, map[string]string{secretstore.TagStorageID: fmt.Sprint(id), secretstore.TagProject: "1"})
			return name
		}, false},
		{"managed-by tag of another value", 6, func(t *testing.T, id int64) string {
			name := e.secrets.Name(id)
			e.createRaw(t, name, map[string]string{secretstore.TagStorageID: fmt.Sprint(id), secretstore.TagManagedBy: "someone-else"})
			return name
		}, false},
		{"outside the prefix", 7, func(t *testing.T, id int64) string {
			e.createSecret(t, outside, id)
			return outside + fmt.Sprintf("storage-%d", id)
		}, false},
	}
	var all, orphans, survivors []string
	for _, k := range kinds {
		name := k.create(t, k.id)
		all = append(all, name)
		if k.orphan {
			orphans = append(orphans, name)
		} else {
			survivors = append(survivors, name)
		}
	}
	// The young one is created at least a second after the others (moto
	// dates secrets to the second), and the clock is set so that it is
	// exactly Grace old: not more than Grace, so not yet an orphan, while
	// every other secret is older than Grace.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	youngARN := e.createSecret(t, e.prefix, 8)
	young := e.secrets.Name(8)
	all = append(all, young)
	survivors = append(survivors, young)
	now := e.createdAt(t, youngARN).Add(config.DefaultSweepGrace)
	slices.Sort(all)
	slices.Sort(orphans)
	slices.Sort(survivors)

	var logs bytes.Buffer
	newSweeper := func(dryRun bool) *sweep.Sweeper {
		return &sweep.Sweeper{
			Secrets: e.sm, Records: e.records, Prefix: e.prefix, Grace: config.DefaultSweepGrace,
			DryRun: dryRun, Now: func() time.Time { return now }, Logger: newLogger(&logs),
		}
	}
	// Secrets under the prefix: every kind except "outside the prefix", plus the young one.
	const examined = 7

	stages := []struct {
		name    string
		dryRun  bool
		want    sweep.Report
		remains []string
	}{
		{"dry run deletes nothing", true,
			sweep.Report{Examined: examined, Orphans: len(orphans), OrphanNames: orphans, SkippedNames: []string{}, DryRun: true}, all},
		{"sweep deletes the orphans", false,
			sweep.Report{Examined: examined, Orphans: len(orphans), Deleted: len(orphans), OrphanNames: orphans, SkippedNames: []string{}}, survivors},
		{"second sweep finds nothing", false,
			sweep.Report{Examined: examined - len(orphans), OrphanNames: []string{}, SkippedNames: []string{}}, survivors},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			got, err := newSweeper(st.dryRun).Sweep(context.Background())
			if err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			slices.Sort(got.OrphanNames)
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", st.want) {
				t.Errorf("report:\n got %+v\nwant %+v", got, st.want)
			}
			if r := remaining(t, e.prefix, outside); !slices.Equal(r, st.remains) {
				t.Errorf("secrets left:\n got %v\nwant %v", r, st.remains)
			}
		})
	}
	if strings.Contains(logs.String(), secretValue) {
		t.Error("a secret value reached the log")
	}
	if !strings.Contains(logs.String(), `"msg":"orphan secret deleted"`) {
		t.Errorf("no deletion logged:\n%s", logs.String())
	}
}

// records wraps the real store and fails the lookups of chosen ids.
type records struct {
	sweep.RecordReader
	fail map[int64]error
}

func (r records) GetStorage(ctx context.Context, id int64) (storage.Record, error) {
	if err := r.fail[id]; err != nil {
		return storage.Record{}, fmt.Errorf("get storage %d: %w", id, err)
	}
	return r.RecordReader.GetStorage(ctx, id)
}

// secretsAPI wraps the real client, counts listings and can fail calls.
type secretsAPI struct {
	sweep.SecretsAPI
	lists     atomic.Int32
	listErr   error
	deleteErr error
}

func (s *secretsAPI) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	s.lists.Add(1)
	if s.listErr != nil {
		return nil, s.listErr
	}
	return s.SecretsAPI.ListSecrets(ctx, in, opts...)
}

func (s *secretsAPI) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	if s.deleteErr != nil {
		return nil, s.deleteErr
	}
	return s.SecretsAPI.DeleteSecret(ctx, in, opts...)
}

// TestSweepLeavesDoubtAlone covers what the sweep must not delete, and how
// failures are reported.
func TestSweepLeavesDoubtAlone(t *testing.T) {
	errThrottled := errors.New("ThrottlingException: rate exceeded")
	managed := func(id string) map[string]string {
		return map[string]string{secretstore.TagManagedBy: secretstore.ManagedBy, secretstore.TagStorageID: id}
	}
	cases := []struct {
		name string
		// setup creates the secret(s) and returns the name of the one that matters.
		setup      func(t *testing.T, e *env) string
		failLookup bool // the record lookup of storage 1 fails
		listErr    error
		deleteErr  error
		noPrefix   bool
		want       sweep.Report // names are filled in from setup's result
		wantErr    error        // errors.Is target; nil: no error
		deleted    bool         // the secret is gone afterwards
	}{
		{
			name:       "record lookup fails",
			setup:      func(t *testing.T, e *env) string { e.createSecret(t, e.prefix, 1); return e.secrets.Name(1) },
			failLookup: true,
			want:       sweep.Report{Examined: 1, Skipped: 1},
			wantErr:    errThrottled,
		},
		{
			name: "malformed storage-id tag",
			setup: func(t *testing.T, e *env) string {
				name := e.prefix + "storage-x"
				e.createRaw(t, name, managed("x"))
				return name
			},
			want: sweep.Report{Examined: 1, Skipped: 1},
		},
		{
			name: "no storage-id tag",
			setup: func(t *testing.T, e *env) string {
				name := e.secrets.Name(1)
				e.createRaw(t, name, map[string]string{secretstore.TagManagedBy: secretstore.ManagedBy})
				return name
			},
			want: sweep.Report{Examined: 1, Skipped: 1},
		},
		{
			name: "name does not match the storage-id tag",
			setup: func(t *testing.T, e *env) string {
				name := e.secrets.Name(2)
				e.createRaw(t, name, managed("1"))
				return name
			},
			want: sweep.Report{Examined: 1, Skipped: 1},
		},
		{
			name: "record names no secret",
			setup: func(t *testing.T, e *env) string {
				e.createSecret(t, e.prefix, 1)
				e.putRecord(t, 1, "")
				return e.secrets.Name(1)
			},
			want: sweep.Report{Examined: 1, Skipped: 1},
		},
		{
			name:      "delete fails",
			setup:     func(t *testing.T, e *env) string { e.createSecret(t, e.prefix, 1); return e.secrets.Name(1) },
			deleteErr: errThrottled,
			want:      sweep.Report{Examined: 1, Orphans: 1},
			wantErr:   errThrottled,
		},
		{
			name:    "listing fails",
			setup:   func(t *testing.T, e *env) string { e.createSecret(t, e.prefix, 1); return e.secrets.Name(1) },
			listErr: errThrottled,
			want:    sweep.Report{},
			wantErr: errThrottled,
		},
		{
			name:     "no prefix",
			setup:    func(t *testing.T, e *env) string { e.createSecret(t, e.prefix, 1); return e.secrets.Name(1) },
			noPrefix: true,
			want:     sweep.Report{},
			wantErr:  sweep.ErrNoPrefix,
		},
		{
			name:    "orphan is deleted",
			setup:   func(t *testing.T, e *env) string { e.createSecret(t, e.prefix, 1); return e.secrets.Name(1) },
			want:    sweep.Report{Examined: 1, Orphans: 1, Deleted: 1},
			deleted: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			name := c.setup(t, e)
			api := &secretsAPI{SecretsAPI: e.sm, listErr: c.listErr, deleteErr: c.deleteErr}
			recs := records{RecordReader: e.records, fail: map[int64]error{}}
			if c.failLookup {
				recs.fail[1] = errThrottled
			}
			s := &sweep.Sweeper{
				Secrets: api, Records: recs, Prefix: e.prefix,
				Now:    func() time.Time { return time.Now().Add(time.Hour) },
				Logger: newLogger(&bytes.Buffer{}),
			}
			if c.noPrefix {
				s.Prefix = ""
			}
			got, err := s.Sweep(context.Background())
			switch {
			case c.wantErr != nil && !errors.Is(err, c.wantErr):
				t.Errorf("error = %v, want one wrapping %v", err, c.wantErr)
			case c.wantErr == nil && err != nil:
				t.Errorf("error = %v, want none", err)
			}
			want := c.want
			want.OrphanNames, want.SkippedNames = []string{}, []string{}
			if want.Orphans > 0 {
				want.OrphanNames = []string{name}
			}
			if want.Skipped > 0 {
				want.SkippedNames = []string{name}
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
				t.Errorf("report:\n got %+v\nwant %+v", got, want)
			}
			left := remaining(t, e.prefix)
			if gone := !slices.Contains(left, name); gone != c.deleted {
				t.Errorf("secret deleted = %v, want %v (left: %v)", gone, c.deleted, left)
			}
		})
	}
}

// TestSweepPaginates lists in pages of two and must still find and delete
// every orphan: the sweep lists everything before it deletes anything.
func TestSweepPaginates(t *testing.T) {
	e := newEnv(t)
	var want []string
	for id := int64(1); id <= 5; id++ {
		e.createSecret(t, e.prefix, id)
		want = append(want, e.secrets.Name(id))
	}
	e.putRecord(t, 6, e.createSecret(t, e.prefix, 6))
	api := &secretsAPI{SecretsAPI: e.sm}
	s := &sweep.Sweeper{
		Secrets: api, Records: e.records, Prefix: e.prefix, PageSize: 2,
		Now: func() time.Time { return time.Now().Add(time.Hour) }, Logger: newLogger(&bytes.Buffer{}),
	}
	got, err := s.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got.OrphanNames)
	if got.Examined != 6 || got.Deleted != 5 || !slices.Equal(got.OrphanNames, want) {
		t.Errorf("report = %+v", got)
	}
	if n := api.lists.Load(); n < 3 {
		t.Errorf("ListSecrets called %d times, want at least 3 pages", n)
	}
	if left := remaining(t, e.prefix); !slices.Equal(left, []string{e.secrets.Name(6)}) {
		t.Errorf("left: %v", left)
	}
}
