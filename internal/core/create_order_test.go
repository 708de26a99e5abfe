package core_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// withKeys gives the fixture an idempotency store and makes the storage
// that the key "order-1" replays.
func withKeys(t *testing.T, f *fixture) core.Created {
	t.Helper()
	f.svc.Keys = &memKeys{repo: f.repo, keys: map[string]core.IdempotencyRecord{}}
	first, err := f.svc.Create(context.Background(), anyone, patRequest(t), "order-1")
	if err != nil || first.Replayed {
		t.Fatalf("first Create = %+v, %v; want a new storage", first, err)
	}
	return first
}

// A replay answers from the key alone: it contacts no workspace (retries
// and SQS redeliveries must not hit a customer's workspace, which may be
// slow, rate-limited or down), neither reserves nor waits for an id, and
// makes no secret — whatever the workspace and the id allocator would do.
func TestReplaysTouchNothingButTheKey(t *testing.T) {
	connErr := &storage.ConnectionError{Reason: "credentials_refused", Message: "The workspace refused the token."}
	cases := []struct {
		name  string
		setup func(f *fixture, release <-chan struct{})
	}{
		{"workspace would answer late", func(f *fixture, release <-chan struct{}) { f.checker.until = release }},
		{"workspace would refuse", func(f *fixture, _ <-chan struct{}) { f.checker.err = connErr }},
		{"id reservation would hang", func(f *fixture, release <-chan struct{}) { f.ids.wait = func() { <-release } }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			first := withKeys(t, f)
			release := make(chan struct{})
			defer close(release)
			c.setup(f, release)
			before := len(f.j.list())

			type result struct {
				created core.Created
				err     error
			}
			done := make(chan result, 1)
			go func() {
				created, err := f.svc.Create(context.Background(), anyone, patRequest(t), "order-1")
				done <- result{created, err}
			}()
			var got result
			select {
			case got = <-done:
			case <-time.After(2 * time.Second):
				t.Fatalf("the replay did not answer within 2 s: it waits for the workspace or an id (calls %v)", f.j.list()[before:])
			}
			if got.err != nil || !got.created.Replayed || got.created.ID != first.ID {
				t.Fatalf("replay = %+v, %v; want the replay of storage %d", got.created, got.err, first.ID)
			}
			if calls := f.j.list()[before:]; !slices.Equal(calls, []string{"find-key", "get-record"}) {
				t.Errorf("a replay made the calls %v, want only the key lookup and the record read", calls)
			}
		})
	}
}

// A replay is not a connection-check failure: the check-failure metric
// (whose alarm pages someone) stays at zero however often a retry or a
// redelivery replays.
func TestReplaysAreNotCheckFailures(t *testing.T) {
	f := newFixture()
	withKeys(t, f)
	// The workspace answers only when the request is abandoned: a check in
	// flight during the replay would end cancelled.
	f.checker.until = make(chan struct{})
	f.svc.Checker = metrics.Checker{Inner: f.checker}
	ctx, _ := metrics.Start(context.Background())
	if got, err := f.svc.Create(ctx, anyone, patRequest(t), "order-1"); err != nil || !got.Replayed {
		t.Fatalf("replay = %+v, %v", got, err)
	}
	for _, a := range metrics.RequestAttrs(ctx, "Test/NS", "create", 201, time.Millisecond) {
		if a.Key == "ConnectionCheckFailures" && a.Value.Kind() == slog.KindInt64 && a.Value.Int64() != 0 {
			t.Errorf("a replay counted %d connection-check failures", a.Value.Int64())
		}
	}
}

// When the connection check and the AWS work of one create both fail, the
// answer is the check's, whichever ends first: the same request always gets
// the same answer (for SQS, always "redeliver" or always "give up").
func TestCreateAnswersTheSameWhateverEndsFirst(t *testing.T) {
	refused := &storage.ConnectionError{Reason: "credentials_refused", Message: "The workspace refused the token."}
	timedOut := &storage.ConnectionError{Reason: storage.ReasonTimedOut, Message: "The workspace did not answer in time."}
	awsErr := errors.New("AWS: ThrottlingException")

	// Each order makes the check and one AWS call of the create fail; after
	// is closed when the AWS call has failed, checked when the check has.
	orders := []struct {
		name  string
		setup func(f *fixture, checkErr error)
	}{
		{"id fails, check fails at once", func(f *fixture, checkErr error) {
			f.checker.err, f.ids.err = checkErr, awsErr
		}},
		{"id fails, then check fails", func(f *fixture, checkErr error) {
			failed := make(chan struct{})
			f.checker.err, f.checker.until = checkErr, failed
			f.ids.err, f.ids.wait = awsErr, func() { close(failed) }
		}},
		{"check fails, then id fails", func(f *fixture, checkErr error) {
			f.checker.err, f.checker.done = checkErr, make(chan struct{})
			f.ids.err, f.ids.wait = awsErr, func() { <-f.checker.done }
		}},
		{"secret fails, check fails at once", func(f *fixture, checkErr error) {
			f.checker.err, f.secrets.createErr = checkErr, awsErr
		}},
		{"secret fails, then check fails", func(f *fixture, checkErr error) {
			f.secrets.made = make(chan struct{})
			f.checker.err, f.checker.until = checkErr, f.secrets.made
			f.secrets.createErr = awsErr
		}},
		{"check fails, then secret fails", func(f *fixture, checkErr error) {
			f.checker.err, f.checker.done = checkErr, make(chan struct{})
			f.secrets.createErr = awsErr
			f.ids.wait = func() { <-f.checker.done }
		}},
		{"check fails, secret made", func(f *fixture, checkErr error) {
			f.checker.err = checkErr
		}},
	}
	const runs = 500
	for _, checkErr := range []*storage.ConnectionError{refused, timedOut} {
		for _, o := range orders {
			t.Run(checkErr.Reason+"/"+o.name, func(t *testing.T) {
				answers := map[string]int{}
				for range runs {
					f := newFixture()
					o.setup(f, checkErr)
					_, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
					var ce *storage.ConnectionError
					switch {
					case errors.As(err, &ce) && ce == checkErr && !errors.Is(err, core.ErrPersistence) &&
						core.Transient(err) == checkErr.Transient():
						answers["the check's error"]++
					default:
						answers[err.Error()]++
					}
					if len(f.repo.stored) != 0 || len(f.secrets.live) != 0 {
						t.Fatalf("left behind: records %+v, secrets %v", f.repo.stored, keysOf(f.secrets.live))
					}
				}
				if answers["the check's error"] != runs {
					t.Errorf("answers over %d runs: %v; want the check's error every time", runs, answers)
				}
			})
		}
	}
}

// An AWS failure is the answer only once the check has passed: the create
// waits for the check rather than answer before it knows.
func TestAWSFailuresWaitForTheCheck(t *testing.T) {
	awsErr := errors.New("AWS: ThrottlingException")
	for _, c := range []struct {
		name  string
		setup func(*fixture)
	}{
		{"id", func(f *fixture) { f.ids.err = awsErr }},
		{"secret", func(f *fixture) { f.secrets.createErr = awsErr }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			c.setup(f)
			f.checker.done = make(chan struct{})
			answer := make(chan struct{})
			time.AfterFunc(20*time.Millisecond, func() { close(answer) })
			f.checker.until = answer
			_, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
			if !errors.Is(err, awsErr) || !errors.Is(err, core.ErrPersistence) {
				t.Fatalf("err = %v, want the persistence failure", err)
			}
			select {
			case <-f.checker.done:
			default:
				t.Errorf("the create answered before the check did")
			}
			if errors.Is(f.checker.ctxErr, context.Canceled) {
				t.Errorf("the check was cancelled")
			}
		})
	}
}
