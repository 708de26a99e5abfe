package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// SyncWorker runs a sync's steps, one queue message each: a step lists a
// page of the volume, imports the page's new files into the project in one
// bulk import, links the files to their tasks and queues the next step, so
// that a volume of any size is synced by many short invocations with flat
// memory, and the last step completes the sync.
//
// Exactly once: Label Studio's import has no idempotency key, so a step
// marks the sync Unsettled (with a task id below every task it may create)
// before it imports, and marks each task's meta with its storage and file.
// Whatever stops a step after that — a lost answer, a timeout, a crash —
// the next step of the storage, of this sync or a later one, first links
// every task of the storage above that id, so a file is never imported
// twice; a file whose task was deleted in Label Studio is imported again.
type SyncWorker struct {
	Records StorageReader
	Secrets SecretReader
	Syncs   SyncStore
	Queue   SyncQueue
	Pager   VolumePager
	Fetcher FileFetcher
	Tasks   TaskImporter
	// FileBase is the file route's public base URL (scheme and host, the
	// front door's): a task's file URL is FileBase + filecap.URLPath.
	FileBase string
	// Lease is how long a step may hold its sync (longer than the
	// function's timeout); DefaultSyncLease when zero.
	Lease time.Duration
	// PageFiles is how many files a step asks of the listing
	// (DefaultSyncPageFiles when zero).
	PageFiles int
	// Now returns the current time; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Defaults of a SyncWorker.
const (
	DefaultSyncLease     = 3 * time.Minute
	DefaultSyncPageFiles = 1000
	// jsonPageFiles is the files asked per step when files hold JSON
	// tasks, each read whole.
	jsonPageFiles = 50
	// MaxTasksPerImport bounds one bulk import.
	MaxTasksPerImport = 1000
	// MaxTaskFileBytes bounds a file of JSON tasks.
	MaxTaskFileBytes = 32 << 20
	// undefinedDataKey is Label Studio's name for a file's data key when
	// the project has no labeling configuration yet.
	undefinedDataKey = "$undefined$"
)

// ErrSyncBusy is returned when another worker holds the step: the message
// must come back later.
var ErrSyncBusy = errors.New("another worker is running this step of the sync")

// errSyncFailed marks an error that fails the sync for good.
type syncFailure struct{ reason string }

func (e *syncFailure) Error() string { return e.reason }

// Handle runs the work of one queue message. It returns nil when the
// message is done with (run, stale, or failed for good and recorded on the
// storage), an error when it must come back. final says that the queue
// will not deliver it again: a failure then fails the sync.
func (w *SyncWorker) Handle(ctx context.Context, m SyncMessage, final bool) error {
	if m.Purge {
		return w.purge(ctx, m)
	}
	st, found, err := w.Syncs.GetSync(ctx, m.Storage)
	if err != nil {
		return fmt.Errorf("%w: read the sync of storage %d: %w", ErrPersistence, m.Storage, err)
	}
	switch {
	case !found || st.Job != m.Job || !st.Status.Active():
		return nil // a sync replaced, finished or deleted since
	case m.Step == st.Step-1:
		return w.redelivered(ctx, st, final)
	case m.Step != st.Step:
		return nil
	}
	now := w.now()
	if now.Before(st.LeaseUntil) {
		return fmt.Errorf("storage %d step %d: %w", m.Storage, m.Step, ErrSyncBusy)
	}
	st.LeaseUntil = now.Add(w.lease())
	st.Ping = now
	if st.Status == SyncQueued {
		st.Status, st.InProgress = SyncInProgress, now
	}
	if err := w.put(ctx, &st); err != nil {
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("storage %d step %d: %w", m.Storage, m.Step, ErrSyncBusy)
		}
		return err
	}
	err = w.step(ctx, &st)
	var failure *syncFailure
	switch {
	case err == nil:
		return nil
	case errors.As(err, &failure):
		return w.fail(ctx, st, failure.reason)
	case errors.Is(err, ErrConflict):
		return nil // the sync was replaced or deleted meanwhile
	case final:
		return w.fail(ctx, st, "The sync failed after several attempts: "+reasonOf(err)+" Start the sync again: files already imported are not imported twice.")
	}
	// Give the step up now, so that its retry need not wait for the lease.
	st.LeaseUntil = time.Time{}
	if perr := w.put(ctx, &st); perr != nil {
		w.logger().WarnContext(ctx, "a failed sync step could not give up its lease", slog.Int64("storage_id", st.Storage), slog.String("error", perr.Error()))
	}
	return err
}

// resendAfter is how long a sync must have been idle before a step
// delivered again re-sends its successor.
const resendAfter = 30 * time.Second

// redelivered handles a step already run, delivered again. Its successor
// is normally on the queue already, but may have been lost (it is sent
// after the step is recorded, and that send can fail). Re-sending it at
// once would double every duplicate of every step; so it is re-sent only
// when the sync has been idle for resendAfter (or this is the message's
// last delivery), and the message comes back until then.
func (w *SyncWorker) redelivered(ctx context.Context, st SyncState, final bool) error {
	now := w.now()
	switch {
	case now.Before(st.LeaseUntil):
		return nil // the successor is running
	case !final && now.Sub(st.Ping) < resendAfter:
		return fmt.Errorf("storage %d step %d, already run: %w", st.Storage, st.Step-1, ErrSyncBusy)
	}
	return w.send(ctx, SyncMessage{Storage: st.Storage, Job: st.Job, Step: st.Step})
}

// step runs the step st.Step of a sync whose lease it holds.
func (w *SyncWorker) step(ctx context.Context, st *SyncState) error {
	rec, err := w.Records.GetStorage(ctx, st.Storage)
	if errors.Is(err, storage.ErrRecordNotFound) {
		return fmt.Errorf("storage %d was deleted: %w", st.Storage, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%w: read storage %d: %w", ErrPersistence, st.Storage, err)
	}
	values, _, err := w.Secrets.ReadSecret(ctx, rec.SecretARN, rec.SecretVersionID)
	if err != nil {
		return fmt.Errorf("%w: read the secret of storage %d: %w", ErrPersistence, st.Storage, err)
	}
	req := requestOf(rec, values)
	filter, err := filterOf(rec.RegexFilter)
	if err != nil {
		return &syncFailure{"The storage's regex_filter cannot be used: fix it and sync again."}
	}
	if st.Step == 0 {
		if err := w.begin(ctx, st, rec.Project); err != nil {
			return err
		}
	}
	if st.Unsettled {
		if err := w.settle(ctx, st, rec.Project); err != nil {
			return err
		}
	}
	want := w.pageFiles()
	if !rec.UseBlobURLs {
		want = jsonPageFiles
	}
	page, err := w.Pager.ListPage(ctx, req.Connection(), rec.RecursiveScan, filter, st.Cursor, want)
	if err != nil {
		return failureOf(err)
	}
	p := &pageRun{w: w, st: st, rec: rec, values: values, conn: req.Connection()}
	if err := p.run(ctx, page.Files); err != nil {
		return err
	}
	// The links are written: whatever this step imported is settled.
	st.Unsettled = false
	st.Step++
	st.Cursor = page.Next
	st.LeaseUntil = time.Time{}
	st.Ping = w.now()
	if page.Next == "" {
		st.Status, st.Finished = SyncCompleted, st.Ping
		if st.FailedValidation > 0 {
			st.Status = SyncCompletedWithErrors
			st.Traceback = fmt.Sprintf("%d file(s) could not be imported; meta.failed_files names them.", st.FailedValidation)
		}
	}
	if err := w.put(ctx, st); err != nil {
		return err
	}
	if page.Next == "" {
		w.logger().InfoContext(ctx, "sync completed", slog.Int64("storage_id", st.Storage), slog.String("job", st.Job),
			slog.Int64("created", st.Created), slog.Int64("existed", st.Existed), slog.Int64("failed", st.FailedValidation))
		return nil
	}
	return w.send(ctx, SyncMessage{Storage: st.Storage, Job: st.Job, Step: st.Step})
}

// begin reads what the whole sync needs once: the data key for file URLs
// and a task id below every task it will create.
func (w *SyncWorker) begin(ctx context.Context, st *SyncState, project int64) error {
	keys, err := w.Tasks.DataKeys(ctx, project)
	if err != nil {
		return tasksFailure(err)
	}
	st.DataKey = undefinedDataKey
	if len(keys) > 0 {
		st.DataKey = keys[0]
	}
	last, err := w.Tasks.LastTaskID(ctx, project)
	if err != nil {
		return tasksFailure(err)
	}
	st.Watermark = max(st.Watermark, last)
	return w.put(ctx, st)
}

// settle links the tasks an earlier import may have created without links.
func (w *SyncWorker) settle(ctx context.Context, st *SyncState, project int64) error {
	found, err := w.Tasks.OriginsAfter(ctx, project, st.Storage, st.SettledBelow)
	if err != nil {
		return tasksFailure(err)
	}
	byKey := map[string][]ImportedTask{}
	var keys []string
	for _, t := range found {
		if _, ok := byKey[t.Origin.Key]; !ok {
			keys = append(keys, t.Origin.Key)
		}
		byKey[t.Origin.Key] = append(byKey[t.Origin.Key], t)
		st.Watermark = max(st.Watermark, t.ID)
	}
	if len(keys) > 0 {
		links, err := w.Syncs.Links(ctx, st.Storage, keys)
		if err != nil {
			return fmt.Errorf("%w: read links: %w", ErrPersistence, err)
		}
		var out []Link
		for _, key := range keys {
			l := links[key]
			l.Key = key
			changed := false
			for _, t := range byKey[key] {
				if t.Origin.Row < 0 || t.Origin.Row > 1<<20 {
					continue
				}
				for len(l.Tasks) <= t.Origin.Row {
					l.Tasks = append(l.Tasks, 0)
				}
				// The lowest id wins: a task already linked stays linked.
				if l.Tasks[t.Origin.Row] == 0 {
					l.Tasks[t.Origin.Row], changed = t.ID, true
				}
			}
			if changed {
				out = append(out, l)
			}
		}
		if err := w.putLinks(ctx, st.Storage, out); err != nil {
			return err
		}
		w.logger().InfoContext(ctx, "sync settled tasks of an import whose outcome was unknown",
			slog.Int64("storage_id", st.Storage), slog.Int("tasks", len(found)), slog.Int("files", len(out)))
	}
	st.Unsettled = false
	return w.put(ctx, st)
}

// putLinks writes links of a storage, then makes sure the storage still
// exists: a storage deleted meanwhile may have had its links removed
// before these were written, so they are removed here and the sync stops
// (ErrConflict).
func (w *SyncWorker) putLinks(ctx context.Context, storageID int64, links []Link) error {
	if err := w.Syncs.PutLinks(ctx, storageID, links); err != nil {
		return fmt.Errorf("%w: write links: %w", ErrPersistence, err)
	}
	_, err := w.Records.GetStorage(ctx, storageID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, storage.ErrRecordNotFound) {
		return fmt.Errorf("%w: read storage %d: %w", ErrPersistence, storageID, err)
	}
	keys := make([]string, len(links))
	for i, l := range links {
		keys[i] = l.Key
	}
	if err := w.Syncs.DeleteLinks(ctx, storageID, keys); err != nil {
		return fmt.Errorf("%w: remove the links of deleted storage %d: %w", ErrPersistence, storageID, err)
	}
	return fmt.Errorf("storage %d was deleted during the sync: %w", storageID, ErrConflict)
}

// fail records a sync's failure for good.
func (w *SyncWorker) fail(ctx context.Context, st SyncState, reason string) error {
	st.Status, st.Traceback = SyncFailed, reason
	st.Finished, st.Ping = w.now(), w.now()
	st.LeaseUntil = time.Time{}
	if err := w.put(ctx, &st); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil
		}
		return err
	}
	w.logger().WarnContext(ctx, "sync failed", slog.Int64("storage_id", st.Storage), slog.String("job", st.Job), slog.String("reason", reason))
	return nil
}

// purge removes a deleted storage's links, a batch per message.
func (w *SyncWorker) purge(ctx context.Context, m SyncMessage) error {
	if _, err := w.Records.GetStorage(ctx, m.Storage); err == nil {
		return nil // not deleted: never remove a live storage's links
	} else if !errors.Is(err, storage.ErrRecordNotFound) {
		return fmt.Errorf("%w: read storage %d: %w", ErrPersistence, m.Storage, err)
	}
	more, err := w.Syncs.PurgeLinks(ctx, m.Storage, 1000)
	if err != nil {
		return fmt.Errorf("%w: remove the links of storage %d: %w", ErrPersistence, m.Storage, err)
	}
	if more {
		return w.send(ctx, m)
	}
	return nil
}

func (w *SyncWorker) send(ctx context.Context, m SyncMessage) error {
	if err := w.Queue.SendSync(ctx, m); err != nil {
		return fmt.Errorf("%w: queue the next step of storage %d: %w", ErrPersistence, m.Storage, err)
	}
	return nil
}

// put writes st conditionally and advances its revision.
func (w *SyncWorker) put(ctx context.Context, st *SyncState) error {
	if err := w.Syncs.PutSync(ctx, *st); err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		return fmt.Errorf("%w: write the sync of storage %d: %w", ErrPersistence, st.Storage, err)
	}
	st.Revision++
	return nil
}

func (w *SyncWorker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *SyncWorker) lease() time.Duration {
	if w.Lease > 0 {
		return w.Lease
	}
	return DefaultSyncLease
}

func (w *SyncWorker) pageFiles() int {
	if w.PageFiles > 0 {
		return w.PageFiles
	}
	return DefaultSyncPageFiles
}

func (w *SyncWorker) logger() *slog.Logger { return loggerOr(w.Logger) }

// failureOf turns a listing error into a failure for good when no retry
// can help (the cursor), and keeps the others for a retry: the connection
// was checked when the sync started, so a refusal now (a connection reset,
// credentials rotated meanwhile) is retried, and fails the sync with its
// message on the last delivery.
func failureOf(err error) error {
	if errors.Is(err, ErrCursorRefused) {
		return &syncFailure{"The volume's listing could not be continued where the last step stopped. Start the sync again: files already imported are not imported twice."}
	}
	return err
}

// tasksFailure turns a refusal of Label Studio into a failure for good.
func tasksFailure(err error) error {
	if errors.Is(err, ErrTasksRefused) {
		return &syncFailure{"Label Studio refused the sync's request: " + err.Error()}
	}
	return err
}

// reasonOf says in words what a retryable error was.
func reasonOf(err error) string {
	var c *storage.ConnectionError
	switch {
	case errors.As(err, &c):
		return c.Message
	case errors.Is(err, ErrTasksUnavailable):
		return "Label Studio did not answer the import."
	case errors.Is(err, ErrPersistence):
		return "AWS failed to keep the sync's state."
	case errors.Is(err, ErrSyncBusy):
		return "another worker held the sync."
	case errors.Is(err, ErrWorkspaceBusy), errors.Is(err, ErrWorkspaceFailed):
		return "the workspace failed to serve a file."
	case errors.Is(err, context.DeadlineExceeded):
		return "a request timed out."
	}
	return "an unexpected error."
}

// fileURL is the file link of a file of the storage.
func fileURL(base, key string, storageID int64, path string) (string, error) {
	capability, err := filecap.Sign(key, storageID, path)
	if err != nil {
		return "", err
	}
	return base + filecap.URLPath(storageID, capability, path), nil
}

// sortedKeys returns the keys of files in order.
func sortedKeys(files []storage.File) []string {
	keys := make([]string, len(files))
	for i, f := range files {
		keys[i] = f.Key
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// SyncMaxReceives is the sync queue's maxReceiveCount (template.yaml): on
// a message's last receive the worker fails the sync instead of leaving it
// to the dead-letter queue.
const SyncMaxReceives = 5
