package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// DefaultSyncStaleAfter is how long a queued or running sync may go
// without progress before it is taken for dead (its worker crashed, its
// messages were lost): it then shows as failed and can be started again.
// Far above a step's lease and the queue's redelivery delay.
const DefaultSyncStaleAfter = 15 * time.Minute

// ErrSyncNotQueued is wrapped when a sync could not be handed to the sync
// queue: nothing was started. It is a persistence failure (retryable).
var ErrSyncNotQueued = fmt.Errorf("%w: the sync could not be queued", ErrPersistence)

// ErrSyncUnavailable is returned by a Manager that has no sync store or
// queue: the deployment has no Label Studio to import into.
var ErrSyncUnavailable = errors.New("this deployment does not sync")

// Sync starts a sync of storage id (POST /api/storages/databricks/{id}/sync):
// it checks the connection, queues the sync's first step and returns the
// storage, queued. A sync that is already queued or running is left alone
// and the storage returned as it is, as Label Studio does; one that made
// no progress for SyncStaleAfter is taken for dead and replaced.
func (s *Manager) Sync(ctx context.Context, caller Caller, id int64) (storage.Storage, error) {
	if s.Exporter != nil {
		return s.exportSync(ctx, caller, id)
	}
	if s.Syncs == nil || s.SyncQueue == nil {
		return storage.Storage{}, fmt.Errorf("storage %d: %w", id, ErrSyncUnavailable)
	}
	rec, values, err := s.readSecret(ctx, caller, id)
	if err != nil {
		return storage.Storage{}, err
	}
	if err := s.check(ctx, requestOf(rec, values)); err != nil {
		return storage.Storage{}, err
	}
	if _, err := filterOf(rec.RegexFilter); err != nil {
		return storage.Storage{}, err
	}
	// The tasks carry file links: a storage made before file links gets
	// its key now, so that the worker only ever reads secrets.
	if values[filecap.SecretValue] == "" {
		if _, err := s.writeFileKey(ctx, rec, values); err != nil {
			return storage.Storage{}, err
		}
	}
	for attempt := 1; ; attempt++ {
		st, err := s.startSync(ctx, rec.ID)
		if errors.Is(err, ErrConflict) && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return storage.Storage{}, err
		}
		out := rec.Storage
		ApplySync(&out, st, s.now(), s.staleAfter())
		return out, nil
	}
}

// exportSync starts an export storage's sync (Exporter.StartExportSync)
// once the caller may manage it and its connection works.
func (s *Manager) exportSync(ctx context.Context, caller Caller, id int64) (storage.Storage, error) {
	rec, values, err := s.readSecret(ctx, caller, id)
	if err != nil {
		return storage.Storage{}, err
	}
	if err := s.check(ctx, requestOf(rec, values)); err != nil {
		return storage.Storage{}, err
	}
	st, err := s.Exporter.StartExportSync(ctx, rec.ID)
	if err != nil {
		return storage.Storage{}, err
	}
	out := rec.Storage
	ApplySync(&out, st, s.now(), s.staleAfter())
	return out, nil
}

// startSync queues a new sync unless one is active, and returns the state
// the storage shows.
func (s *Manager) startSync(ctx context.Context, id int64) (SyncState, error) {
	now := s.now()
	old, found, err := s.Syncs.GetSync(ctx, id)
	if err != nil {
		return SyncState{}, fmt.Errorf("%w: read the sync of storage %d: %w", ErrPersistence, id, err)
	}
	if found && old.Status.Active() && !stale(old, now, s.staleAfter()) {
		return old, nil
	}
	next := old
	if !found {
		next = SyncState{Storage: id}
	}
	next.Job = uuid.NewString()
	next.Status = SyncQueued
	next.Attempts++
	next.Queued, next.InProgress, next.Ping, next.Finished = now, time.Time{}, now, time.Time{}
	next.Created, next.Existed, next.FailedValidation = 0, 0, 0
	next.Problems, next.Traceback = nil, ""
	next.Step, next.Cursor, next.DataKey, next.LeaseUntil = 0, "", "", time.Time{}
	// Unsettled, SettledBelow and Watermark carry over: a sync that died
	// part-way may have left tasks without links, which this one links
	// before it imports anything.
	if err := s.Syncs.PutSync(ctx, next); err != nil {
		if errors.Is(err, ErrConflict) {
			return SyncState{}, err
		}
		return SyncState{}, fmt.Errorf("%w: start the sync of storage %d: %w", ErrPersistence, id, err)
	}
	next.Revision++
	if err := s.SyncQueue.SendSync(ctx, SyncMessage{Storage: id, Job: next.Job, Step: 0}); err != nil {
		// Nothing will run it: put back what was there, if nothing else
		// wrote since.
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		var undo error
		if found {
			old.Revision = next.Revision
			undo = s.Syncs.PutSync(cctx, old)
		} else {
			undo = s.Syncs.DeleteSync(cctx, id)
		}
		if undo != nil {
			s.logger().ErrorContext(ctx, "a sync could not be queued nor its queued status undone; it will show as failed once stale",
				slog.Int64("storage_id", id), slog.String("error", undo.Error()))
		}
		return SyncState{}, fmt.Errorf("%w: storage %d: %w", ErrSyncNotQueued, id, err)
	}
	return next, nil
}

func (s *Manager) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Manager) staleAfter() time.Duration {
	if s.SyncStaleAfter > 0 {
		return s.SyncStaleAfter
	}
	return DefaultSyncStaleAfter
}

// stale reports whether an active sync made no progress for too long.
func stale(st SyncState, now time.Time, after time.Duration) bool {
	return st.Status.Active() && now.Sub(st.Ping) > after
}

// withSyncs shows the storages' syncs in their fields.
func (s *Manager) withSyncs(ctx context.Context, out []storage.Storage) error {
	if s.Syncs == nil || len(out) == 0 {
		return nil
	}
	ids := make([]int64, len(out))
	for i, st := range out {
		ids[i] = st.ID
	}
	states, err := s.Syncs.GetSyncs(ctx, ids)
	if err != nil {
		return fmt.Errorf("%w: read the syncs: %w", ErrPersistence, err)
	}
	now := s.now()
	for i := range out {
		if st, ok := states[out[i].ID]; ok {
			ApplySync(&out[i], st, now, s.staleAfter())
		}
	}
	return nil
}

// staleTraceback is what a sync taken for dead says, as Label Studio says
// of a job whose ping is too old.
const staleTraceback = "The sync made no progress for too long and was taken for failed (its worker stopped or its work was lost). Start the sync again: files already imported are not imported twice."

// ApplySync writes a sync's state into the storage's fields as Label
// Studio shows them: status, last_sync (when it completed),
// last_sync_count (tasks this sync created), last_sync_job, traceback and
// meta. A sync without progress for staleAfter shows as failed.
func ApplySync(out *storage.Storage, st SyncState, now time.Time, staleAfter time.Duration) {
	status, traceback := st.Status, st.Traceback
	if stale(st, now, staleAfter) {
		status, traceback = SyncFailed, staleTraceback
	}
	out.Status = string(status)
	job := st.Job
	out.LastSyncJob = &job
	out.LastSync, out.LastSyncCount, out.Traceback = nil, nil, nil
	meta := syncMeta{Attempts: st.Attempts, TimeQueued: pyTime(st.Queued)}
	if !st.InProgress.IsZero() {
		meta.TimeInProgress = pyTime(st.InProgress)
		meta.TimeLastPing = pyTime(st.Ping)
		meta.Duration = ptr(st.Ping.Sub(st.InProgress).Seconds())
	}
	if status != SyncQueued {
		meta.TasksExisted = ptr(st.Existed)
		count := st.Created
		out.LastSyncCount = &count
	}
	if st.FailedValidation > 0 {
		meta.TasksFailedValidation = ptr(st.FailedValidation)
		meta.FailedFiles = st.Problems
	}
	switch status {
	case SyncCompleted, SyncCompletedWithErrors:
		finished := st.Finished
		out.LastSync = &finished
		meta.TimeCompleted = pyTime(finished)
		if !st.InProgress.IsZero() {
			meta.Duration = ptr(finished.Sub(st.InProgress).Seconds())
		}
	case SyncFailed:
		if !st.Finished.IsZero() {
			meta.TimeFailure = pyTime(st.Finished)
		}
	}
	if traceback != "" {
		out.Traceback = &traceback
	}
	out.Meta, _ = json.Marshal(meta) // plain fields: cannot fail
}

// syncMeta is a storage's meta as Label Studio writes it while syncing.
type syncMeta struct {
	Attempts              int64    `json:"attempts"`
	TimeQueued            string   `json:"time_queued,omitempty"`
	TimeInProgress        string   `json:"time_in_progress,omitempty"`
	TimeLastPing          string   `json:"time_last_ping,omitempty"`
	TimeCompleted         string   `json:"time_completed,omitempty"`
	TimeFailure           string   `json:"time_failure,omitempty"`
	Duration              *float64 `json:"duration,omitempty"`
	TasksExisted          *int64   `json:"tasks_existed,omitempty"`
	TasksFailedValidation *int64   `json:"tasks_failed_validation,omitempty"`
	// FailedFiles names the files that became no task, and why (this
	// service's addition).
	FailedFiles []string `json:"failed_files,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// pyTime renders a time as Label Studio's meta does (Python's str of an
// aware datetime in UTC).
func pyTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000+00:00")
}

// requestOf is a stored storage with its stored credentials.
func requestOf(rec storage.Record, values map[string]string) storage.Request {
	req := storage.Request{Settings: rec.Settings, Secrets: storage.Secrets{Token: values["token"], ClientSecret: values["client_secret"]}}
	req.Secrets = req.Secrets.For(req.AuthType)
	return req
}

// filterOf compiles a storage's regex_filter (nil when none).
func filterOf(pattern *string) (*regexp.Regexp, error) {
	if pattern == nil || *pattern == "" {
		return nil, nil
	}
	re, err := regexp.Compile(*pattern)
	if err != nil {
		return nil, &storage.ValidationError{Fields: map[string][]string{"regex_filter": {
			"This pattern cannot be run here (Go regular expressions, RE2 syntax): " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")}}}
	}
	return re, nil
}

// forgetSync removes a deleted storage's sync and has its links removed
// (not its tasks, as Label Studio). A failure leaves links no storage
// names (ids are never reused): logged, harmless but for their space.
func (s *Manager) forgetSync(ctx context.Context, id int64) {
	if s.Syncs == nil {
		return
	}
	if err := s.Syncs.DeleteSync(ctx, id); err != nil {
		s.logger().ErrorContext(ctx, "storage deleted, but its sync state could not be removed",
			slog.Int64("storage_id", id), slog.String("error", err.Error()))
	}
	if s.SyncQueue == nil {
		return
	}
	if err := s.SyncQueue.SendSync(ctx, SyncMessage{Storage: id, Purge: true}); err != nil {
		s.logger().ErrorContext(ctx, "storage deleted, but the removal of its links could not be queued",
			slog.Int64("storage_id", id), slog.String("error", err.Error()))
	}
}
