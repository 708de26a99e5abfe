package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// An export storage writes a project's annotations into its volume, one
// file per annotation at <prefix>/<annotation id>: on every save (Label
// Studio's webhooks, handed to the export queue at once), and for all of
// them on a sync. Every write of an annotation holds the annotation's
// lock and writes the version Label Studio has at that moment, so
// writes arriving late or twice, from a webhook or a sync, never put an
// older version over a newer one.

// Exporter runs an export storage's writes and syncs.
type Exporter struct {
	Records     StorageReader
	Secrets     SecretReader
	Annotations AnnotationSource
	Volume      VolumeWriter
	Locks       ExportLocks
	Queue       ExportQueue
	Syncs       SyncStore
	// Lease bounds a held annotation lock or sync step
	// (DefaultSyncLease when zero).
	Lease time.Duration
	// Parallel is how many annotations a sync step writes at once (8
	// when zero).
	Parallel int
	Now      func() time.Time
	Logger   *slog.Logger
}

// ExportPageAnnotations is how many annotations an export sync step
// writes.
const ExportPageAnnotations = 200

// AcceptWebhook takes a webhook delivery for export storage id: it checks
// the delivery's secret against the storage's (constant time) and queues
// one write per annotation. It does no write itself, so Label Studio,
// which does not retry a delivery, gets its answer at once; a failure to
// queue is an error (the delivery is lost unless Label Studio is asked to
// send it again, which the export sync makes good).
func (x *Exporter) AcceptWebhook(ctx context.Context, id int64, secret string, ev AnnotationEvent) (int, error) {
	rec, err := x.Records.GetStorage(ctx, id)
	if errors.Is(err, storage.ErrRecordNotFound) {
		return 0, fmt.Errorf("export storage %d: %w", id, ErrWebhookRefused)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: read export storage %d: %w", ErrPersistence, id, err)
	}
	values, _, err := x.Secrets.ReadSecret(ctx, rec.SecretARN, rec.SecretVersionID)
	if err != nil {
		return 0, fmt.Errorf("%w: read the secret of export storage %d: %w", ErrPersistence, id, err)
	}
	want := values[WebhookSecretValue]
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		return 0, fmt.Errorf("export storage %d: %w", id, ErrWebhookRefused)
	}
	if ev.Project != rec.Project {
		// Another project's delivery (a webhook left behind): not ours.
		return 0, nil
	}
	for _, a := range ev.Annotations {
		if err := x.Queue.SendExport(ctx, ExportMessage{Storage: id, Annotation: a, Deleted: ev.Deleted}); err != nil {
			return 0, fmt.Errorf("%w: queue the export of annotation %d: %w", ErrPersistence, a, err)
		}
	}
	return len(ev.Annotations), nil
}

// Handle runs one export message; nil when it is done with, an error when
// it must come back. final: the queue will not deliver it again.
func (x *Exporter) Handle(ctx context.Context, m ExportMessage, final bool) error {
	if m.Annotation == 0 {
		return x.syncStep(ctx, m, final)
	}
	rec, values, err := x.load(ctx, m.Storage)
	if errors.Is(err, ErrNotFound) {
		return nil // the export storage was deleted: nothing more to write
	}
	if err != nil {
		return err
	}
	_, err = x.writeAnnotation(ctx, rec, values, m.Annotation)
	return err
}

func (x *Exporter) load(ctx context.Context, id int64) (storage.Record, map[string]string, error) {
	rec, err := x.Records.GetStorage(ctx, id)
	if errors.Is(err, storage.ErrRecordNotFound) {
		return storage.Record{}, nil, fmt.Errorf("export storage %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return storage.Record{}, nil, fmt.Errorf("%w: read export storage %d: %w", ErrPersistence, id, err)
	}
	values, _, err := x.Secrets.ReadSecret(ctx, rec.SecretARN, rec.SecretVersionID)
	if err != nil {
		return storage.Record{}, nil, fmt.Errorf("%w: read the secret of export storage %d: %w", ErrPersistence, id, err)
	}
	return rec, values, nil
}

// writeOutcome is what writing an annotation did.
type writeOutcome int

const (
	wroteNothing writeOutcome = iota
	wroteFile
	removedFile
)

// writeAnnotation brings the volume's file of an annotation up to Label
// Studio's current version, holding the annotation's lock: written when
// newer than the file's, removed when the annotation is gone and the
// storage may delete objects.
func (x *Exporter) writeAnnotation(ctx context.Context, rec storage.Record, values map[string]string, annotation int64) (writeOutcome, error) {
	now := x.now()
	held, err := x.Locks.LockAnnotation(ctx, rec.ID, annotation, now, now.Add(x.lease()))
	if err != nil {
		if errors.Is(err, ErrSyncBusy) {
			return wroteNothing, err
		}
		return wroteNothing, fmt.Errorf("%w: lock annotation %d: %w", ErrPersistence, annotation, err)
	}
	next := held
	outcome, werr := x.bringUpToDate(ctx, rec, values, annotation, &next)
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := x.Locks.UnlockAnnotation(cctx, rec.ID, annotation, next); err != nil && werr == nil {
		// The file is written; the lock expires by itself and the next
		// writer compares versions again.
		werr = fmt.Errorf("%w: unlock annotation %d: %w", ErrPersistence, annotation, err)
	}
	return outcome, werr
}

func (x *Exporter) bringUpToDate(ctx context.Context, rec storage.Record, values map[string]string, annotation int64, v *AnnotationVersion) (writeOutcome, error) {
	conn := requestOf(rec, values).Connection()
	path := annotationPath(rec, annotation)
	got, err := x.Annotations.Annotation(ctx, rec.Project, annotation)
	switch {
	case errors.Is(err, ErrNotFound):
		if !canDeleteObjects(rec) || v.Removed {
			return wroteNothing, nil
		}
		if err := x.Volume.DeleteFile(ctx, conn, path); err != nil {
			return wroteNothing, err
		}
		*v = AnnotationVersion{Written: v.Written, Removed: true}
		return removedFile, nil
	case err != nil:
		return wroteNothing, err
	}
	if !v.Removed && !v.Written.IsZero() && !got.UpdatedAt.After(v.Written) {
		return wroteNothing, nil // the volume holds this version or a newer one
	}
	// From here the file may exist, whatever the answer: a write whose
	// answer is lost must not leave the record saying it was removed, or
	// a later deletion would leave the file behind.
	v.Removed = false
	if err := x.Volume.WriteFile(ctx, conn, path, got.Body); err != nil {
		return wroteNothing, err
	}
	*v = AnnotationVersion{Written: got.UpdatedAt}
	return wroteFile, nil
}

// annotationPath is where an annotation's file goes: <prefix>/<id>, as
// Label Studio's export storages name it.
func annotationPath(rec storage.Record, annotation int64) string {
	name := strconv.FormatInt(annotation, 10)
	if p := strings.Trim(deref(rec.Prefix), "/"); p != "" {
		return p + "/" + name
	}
	return name
}

// StartExportSync starts an export sync of storage id (POST
// /api/storages/export/databricks/{id}/sync), as Manager.Sync does for an
// import storage: one at a time, a stale one replaced.
func (x *Exporter) StartExportSync(ctx context.Context, id int64) (SyncState, error) {
	if _, _, err := x.load(ctx, id); err != nil {
		return SyncState{}, err
	}
	m := &Manager{Syncs: x.Syncs, SyncQueue: exportSyncQueue{x.Queue}, Now: x.Now, Logger: x.Logger}
	for attempt := 1; ; attempt++ {
		st, err := m.startSync(ctx, id)
		if errors.Is(err, ErrConflict) && attempt < maxUpdateAttempts {
			continue
		}
		return st, err
	}
}

// exportSyncQueue sends a sync's steps on the export queue.
type exportSyncQueue struct{ q ExportQueue }

func (e exportSyncQueue) SendSync(ctx context.Context, m SyncMessage) error {
	if m.Purge {
		return nil // export storages keep no links
	}
	return e.q.SendExport(ctx, ExportMessage{Storage: m.Storage, Job: m.Job, Step: m.Step})
}

// syncStep writes a page of the project's annotations (all of them, in id
// order, the cursor being the last id written) and queues the next page.
func (x *Exporter) syncStep(ctx context.Context, m ExportMessage, final bool) error {
	st, found, err := x.Syncs.GetSync(ctx, m.Storage)
	if err != nil {
		return fmt.Errorf("%w: read the export sync of storage %d: %w", ErrPersistence, m.Storage, err)
	}
	switch {
	case !found || st.Job != m.Job || !st.Status.Active():
		return nil
	case m.Step == st.Step-1:
		return x.sendStep(ctx, st)
	case m.Step != st.Step:
		return nil
	}
	now := x.now()
	if now.Before(st.LeaseUntil) {
		return fmt.Errorf("export storage %d step %d: %w", m.Storage, m.Step, ErrSyncBusy)
	}
	st.LeaseUntil, st.Ping = now.Add(x.lease()), now
	if st.Status == SyncQueued {
		st.Status, st.InProgress = SyncInProgress, now
	}
	if err := x.put(ctx, &st); err != nil {
		return err
	}
	rec, values, err := x.load(ctx, m.Storage)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return x.stepFailed(ctx, st, err, final)
	}
	after, _ := strconv.ParseInt(st.Cursor, 10, 64)
	ids, err := x.Annotations.AnnotationIDs(ctx, rec.Project, after, ExportPageAnnotations)
	if err != nil {
		return x.stepFailed(ctx, st, err, final)
	}
	written, err := x.writeAll(ctx, rec, values, ids)
	if err != nil {
		return x.stepFailed(ctx, st, err, final)
	}
	st.Created += int64(written)
	st.Existed += int64(len(ids) - written)
	st.Step++
	st.LeaseUntil, st.Ping = time.Time{}, x.now()
	if len(ids) < ExportPageAnnotations {
		st.Cursor = ""
		st.Status, st.Finished = SyncCompleted, st.Ping
	} else {
		st.Cursor = strconv.FormatInt(ids[len(ids)-1], 10)
	}
	if err := x.put(ctx, &st); err != nil {
		return err
	}
	if st.Status == SyncCompleted {
		return nil
	}
	return x.sendStep(ctx, st)
}

// writeAll writes annotations a few at a time and counts the files
// written or removed.
func (x *Exporter) writeAll(ctx context.Context, rec storage.Record, values map[string]string, ids []int64) (int, error) {
	var (
		mu      sync.Mutex
		written int
		first   error
		wg      sync.WaitGroup
	)
	parallel := x.Parallel
	if parallel <= 0 {
		parallel = 8
	}
	slots := make(chan struct{}, parallel)
	for _, id := range ids {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			out, err := x.writeAnnotation(ctx, rec, values, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			if out != wroteNothing {
				written++
			}
		}()
	}
	wg.Wait()
	return written, first
}

func (x *Exporter) sendStep(ctx context.Context, st SyncState) error {
	if err := x.Queue.SendExport(ctx, ExportMessage{Storage: st.Storage, Job: st.Job, Step: st.Step}); err != nil {
		return fmt.Errorf("%w: queue the next export step of storage %d: %w", ErrPersistence, st.Storage, err)
	}
	return nil
}

// stepFailed gives the step back for a retry, or fails the sync on the
// last delivery or for good.
func (x *Exporter) stepFailed(ctx context.Context, st SyncState, err error, final bool) error {
	var c *storage.ConnectionError
	permanent := errors.Is(err, ErrWorkspaceRefused) || errors.Is(err, ErrTasksRefused) || (errors.As(err, &c) && !c.Transient())
	if !final && !permanent {
		st.LeaseUntil = time.Time{}
		_ = x.put(ctx, &st)
		return err
	}
	reason := "The export failed: " + exportReason(err) + " Start the sync again: annotations already written are not written twice."
	st.Status, st.Traceback, st.Finished, st.LeaseUntil = SyncFailed, reason, x.now(), time.Time{}
	if perr := x.put(ctx, &st); perr != nil && !errors.Is(perr, ErrConflict) {
		return perr
	}
	return nil
}

func exportReason(err error) string {
	switch {
	case errors.Is(err, ErrWorkspaceRefused):
		return "the workspace refused the storage's credentials for a write."
	case errors.Is(err, ErrTasksRefused):
		return "Label Studio refused the service's request."
	}
	return reasonOf(err)
}

func (x *Exporter) put(ctx context.Context, st *SyncState) error {
	if err := x.Syncs.PutSync(ctx, *st); err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		return fmt.Errorf("%w: write the export sync of storage %d: %w", ErrPersistence, st.Storage, err)
	}
	st.Revision++
	return nil
}

func (x *Exporter) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Exporter) lease() time.Duration {
	if x.Lease > 0 {
		return x.Lease
	}
	return DefaultSyncLease
}

// canDeleteObjects reports whether an export storage deletes the file of
// a deleted annotation.
func canDeleteObjects(rec storage.Record) bool { return rec.CanDeleteObjects }
