package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// hungVault is a vault whose ScheduleSecretDeletion stands for a call that
// never answers: it would hang until its context ends. Rather than wait
// CleanupTimeout (or for ever, without a deadline), it notes the context's
// deadline and fails as the call would when that deadline passed.
type hungVault struct {
	*fakeVault
	hadDeadline bool
	deadline    time.Time
	cancelled   bool // the context had ended before the call
}

func (v *hungVault) ScheduleSecretDeletion(ctx context.Context, _ string) error {
	v.cancelled = ctx.Err() != nil
	v.deadline, v.hadDeadline = ctx.Deadline()
	return context.DeadlineExceeded
}

// A delete whose secret deletion hangs still returns: the scheduling runs
// under a deadline of at most CleanupTimeout, on a context the request's
// cancellation does not end.
func TestDeleteBoundsTheSecretDeletion(t *testing.T) {
	l := newLifecycle(t)
	hung := &hungVault{fakeVault: l.vault}
	l.mgr.Vault = hung
	start := time.Now()
	if err := l.mgr.Delete(context.Background(), owner, 42); err != nil {
		t.Fatalf("delete = %v; the record is gone, the secret is the sweep's", err)
	}
	switch {
	case !hung.hadDeadline:
		t.Fatal("ScheduleSecretDeletion ran without a deadline: a hung call holds the function until Lambda kills it")
	case hung.deadline.After(start.Add(core.CleanupTimeout + time.Second)):
		t.Errorf("deadline %s after the delete began, want at most %s", hung.deadline.Sub(start), core.CleanupTimeout)
	case hung.cancelled:
		t.Error("ScheduleSecretDeletion got an ended context")
	}
	if len(l.repo.stored) != 0 {
		t.Errorf("records %+v, want the record removed", l.repo.stored)
	}
}
