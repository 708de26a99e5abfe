//go:build integration

package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newSyncs(t *testing.T, export bool) (*dynamostore.Syncs, *dynamostore.Syncs) {
	t.Helper()
	client := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	table := testenv.NewTable(t)
	return &dynamostore.Syncs{Client: client, Table: table}, &dynamostore.Syncs{Client: client, Table: table, Export: true}
}

// Sync states are written conditionally on their revision, and an import
// storage's and an export storage's of the same id are apart.
func TestSyncStates(t *testing.T) {
	ctx := context.Background()
	imports, exports := newSyncs(t, false)
	st := core.SyncState{Storage: 5, Job: "j1", Status: core.SyncQueued, Queued: time.Now().UTC().Truncate(time.Millisecond), Cursor: "c", Problems: []string{"a: b"}}
	if err := imports.PutSync(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := imports.PutSync(ctx, st); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("a second first write: %v, want ErrConflict", err)
	}
	got, found, err := imports.GetSync(ctx, 5)
	if err != nil || !found || got.Revision != 1 || got.Job != "j1" || got.Cursor != "c" || !got.Queued.Equal(st.Queued) || got.Problems[0] != "a: b" {
		t.Fatalf("GetSync = %+v %v %v", got, found, err)
	}
	got.Status = core.SyncInProgress
	if err := imports.PutSync(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := imports.PutSync(ctx, got); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("a write of an old revision: %v, want ErrConflict", err)
	}
	if _, found, _ := exports.GetSync(ctx, 5); found {
		t.Fatal("the export storage 5 sees the import storage 5's sync")
	}
	all, err := imports.GetSyncs(ctx, []int64{5, 6})
	if err != nil || len(all) != 1 || all[5].Status != core.SyncInProgress {
		t.Fatalf("GetSyncs = %v %v", all, err)
	}
}

// Links: batches past DynamoDB's limits, and a deleted storage's removed
// page by page without touching another storage's.
func TestLinks(t *testing.T) {
	ctx := context.Background()
	s, _ := newSyncs(t, false)
	var links []core.Link
	var keys []string
	for i := range 260 {
		k := fmt.Sprintf("images/%03d.png", i)
		links = append(links, core.Link{Key: k, Tasks: []int64{int64(1000 + i)}})
		keys = append(keys, k)
	}
	if err := s.PutLinks(ctx, 1, links); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLinks(ctx, 2, links[:3]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Links(ctx, 1, append(keys, "missing.png"))
	if err != nil || len(got) != 260 || got["images/007.png"].Tasks[0] != 1007 {
		t.Fatalf("Links = %d links, %v", len(got), err)
	}
	for more := true; more; {
		if more, err = s.PurgeLinks(ctx, 1, 100); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.Links(ctx, 1, keys); len(got) != 0 {
		t.Fatalf("%d links of the purged storage left", len(got))
	}
	if got, _ := s.Links(ctx, 2, keys); len(got) != 3 {
		t.Fatalf("another storage's links: %d, want 3", len(got))
	}
}

// An annotation's lock is held by one writer at a time until it expires,
// and keeps the version written.
func TestAnnotationLocks(t *testing.T) {
	ctx := context.Background()
	imports, exports := newSyncs(t, true)
	now := time.Now()
	if v, err := exports.LockAnnotation(ctx, 3, 42, now, now.Add(time.Minute)); err != nil || !v.Written.IsZero() {
		t.Fatalf("first lock: %+v %v", v, err)
	}
	if _, err := exports.LockAnnotation(ctx, 3, 42, now, now.Add(time.Minute)); !errors.Is(err, core.ErrSyncBusy) {
		t.Fatalf("a held lock: %v, want ErrSyncBusy", err)
	}
	written := now.UTC().Truncate(time.Millisecond)
	if err := exports.UnlockAnnotation(ctx, 3, 42, core.AnnotationVersion{Written: written}); err != nil {
		t.Fatal(err)
	}
	v, err := exports.LockAnnotation(ctx, 3, 42, now, now.Add(time.Minute))
	if err != nil || !v.Written.Equal(written) {
		t.Fatalf("lock after unlock: %+v %v, want written %s", v, err, written)
	}
	// Expired: taken over.
	if _, err := exports.LockAnnotation(ctx, 3, 42, now.Add(2*time.Minute), now.Add(3*time.Minute)); err != nil {
		t.Fatalf("an expired lock: %v", err)
	}
	// The import storage 3's links are not the export storage 3's records.
	if err := imports.PutLinks(ctx, 3, []core.Link{{Key: "a.png", Tasks: []int64{1}}}); err != nil {
		t.Fatal(err)
	}
	if more, err := exports.ForgetAnnotations(ctx, 3, 100); err != nil || more {
		t.Fatalf("ForgetAnnotations = %v %v", more, err)
	}
	if got, _ := imports.Links(ctx, 3, []string{"a.png"}); len(got) != 1 {
		t.Fatal("forgetting an export storage's annotations removed an import storage's link")
	}
	if v, err := exports.LockAnnotation(ctx, 3, 42, now, now.Add(time.Minute)); err != nil || !v.Written.IsZero() {
		t.Fatalf("after forgetting: %+v %v, want nothing written", v, err)
	}
}

// loseOneAnswer forwards every request, and loses the answer of the first
// PutItem after DynamoDB did it, as a connection dropped on the way back.
type loseOneAnswer struct {
	next http.RoundTripper
	lost bool
}

func (l *loseOneAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil && !l.lost && strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") {
		l.lost = true
		resp.Body.Close()
		return nil, errors.New("connection reset after the write")
	}
	return resp, err
}

// A sync state write whose answer was lost is retried by the SDK; the
// retry's condition fails on the write itself, which is a success, not a
// conflict (a conflict would stop the sync).
func TestPutSyncWithALostAnswer(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.AWSConfig(t)
	cfg.HTTPClient = &http.Client{Transport: &loseOneAnswer{next: http.DefaultTransport}}
	plain, _ := newSyncs(t, false)
	s := &dynamostore.Syncs{Client: awsclients.NewBatchDynamoDB(cfg), Table: plain.Table}
	st := core.SyncState{Storage: 8, Job: "j", Status: core.SyncQueued}
	if err := s.PutSync(ctx, st); err != nil {
		t.Fatalf("a first write whose answer was lost: %v, want success", err)
	}
	got, _, _ := plain.GetSync(ctx, 8)
	if err := s.PutSync(ctx, got); err != nil {
		t.Fatal(err)
	}
	// Another writer's change is still a conflict.
	if err := s.PutSync(ctx, got); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("a write over another one: %v, want ErrConflict", err)
	}
}
