package core

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The ports of a sync: the volume listed page by page, Label Studio's task
// import, the sync's state and links, and the queue that carries its steps.

// ListPage is one step's share of a volume listing.
type ListPage struct {
	// Files are the matching files found, in listing order.
	Files []storage.File
	// Next continues the listing; "" when it is complete.
	Next string
}

// MaxCursorBytes bounds a listing cursor, which the sync state keeps (a
// DynamoDB item holds at most 400 KB).
const MaxCursorBytes = 256 << 10

// VolumePager lists a storage's volume a page at a time, so that a listing
// of any size is spread over many short steps.
type VolumePager interface {
	// ListPage continues the listing of the files under the connection's
	// volume and prefix from cursor ("" starts it): it reads whole
	// directory pages of the Files API (page_size ≤ 1,000, continued with
	// page_token until no next_page_token) until it holds at least want
	// matching files, or the listing is complete, and returns them with
	// the cursor that continues after the last page read (at most
	// MaxCursorBytes long, opaque to the caller). With recursive,
	// subdirectories are listed too (depth first); without, only the
	// prefix's direct children. filter keeps a file when it matches at the
	// start of its key, as Python's re.match (all when nil). Keys and the
	// errors are ListFiles'; a subdirectory that vanished is skipped.
	ListPage(ctx context.Context, c storage.Connection, recursive bool, filter *regexp.Regexp, cursor string, want int) (ListPage, error)
}

// ErrCursorRefused is wrapped by a VolumePager that cannot go on from a
// cursor (not one it made, or a listing it cannot carry over): the sync
// fails, and a new one starts the listing again.
var ErrCursorRefused = errors.New("the listing cannot go on from its cursor")

// TaskOrigin is where a task came from: a file of a storage and, for a
// file of JSON tasks, the index of its item. The import marks each task's
// meta with it, so that an import whose answer was lost can be found.
type TaskOrigin struct {
	Storage int64
	Key     string
	Row     int
}

// NewTask is a task to import.
type NewTask struct {
	Data        map[string]any
	Annotations []any
	Predictions []any
	Origin      TaskOrigin
}

// ImportedTask is a task the project holds and where it came from.
type ImportedTask struct {
	ID     int64
	Origin TaskOrigin
}

// TaskImporter creates tasks in a Label Studio project with the service
// credential. Its errors wrap ErrTasksUnavailable when a later attempt may
// succeed (no answer, 5xx, 429, a timeout) and ErrTasksRefused otherwise
// (the project is gone, the credential is refused, a task is invalid).
type TaskImporter interface {
	// DataKeys returns the data keys of the project's labeling
	// configuration, the first one first (none when it has no
	// configuration yet).
	DataKeys(ctx context.Context, project int64) ([]string, error)
	// LastTaskID returns the highest id of a task in the project now (0
	// when it has none): every task imported later has a higher id.
	LastTaskID(ctx context.Context, project int64) (int64, error)
	// ImportTasks creates tasks in one bulk import and returns their ids
	// in the order of tasks. It sends the import once: when it fails
	// without an answer the tasks may or may not exist (see OriginsAfter).
	ImportTasks(ctx context.Context, project int64, tasks []NewTask) ([]int64, error)
	// OriginsAfter returns the tasks of the project with an id above after
	// that came from storage (their meta says so).
	OriginsAfter(ctx context.Context, project, storage, after int64) ([]ImportedTask, error)
	// Existing returns those of ids that are still tasks of the project.
	Existing(ctx context.Context, project int64, ids []int64) (map[int64]bool, error)
}

// Errors of a TaskImporter.
var (
	ErrTasksUnavailable = errors.New("the tasks were not taken by Label Studio now")
	ErrTasksRefused     = errors.New("the tasks were refused by Label Studio")
)

// Link ties a file of a storage to the tasks it became (one for a file
// with use_blob_urls, one per item for a file of JSON tasks).
type Link struct {
	Key   string
	Tasks []int64
}

// SyncStatus is the status of a storage's sync, Label Studio's values.
type SyncStatus string

// The statuses, as Label Studio names them.
const (
	SyncInitialized         SyncStatus = "initialized"
	SyncQueued              SyncStatus = "queued"
	SyncInProgress          SyncStatus = "in_progress"
	SyncFailed              SyncStatus = "failed"
	SyncCompleted           SyncStatus = "completed"
	SyncCompletedWithErrors SyncStatus = "completed_with_errors"
)

// Active reports whether a sync with this status is queued or running.
func (s SyncStatus) Active() bool { return s == SyncQueued || s == SyncInProgress }

// SyncState is a storage's sync: what the storage shows of it and where
// its steps are.
type SyncState struct {
	Storage int64
	// Job names the sync (last_sync_job); a step of another job is stale.
	Job    string
	Status SyncStatus
	// Attempts counts the syncs started (meta.attempts).
	Attempts                 int64
	Queued, InProgress, Ping time.Time
	// Finished is when it completed or failed (last_sync on success).
	Finished time.Time
	// Created, Existed and FailedValidation count the tasks this sync
	// created, the files already linked, and the files that could not be
	// made tasks.
	Created, Existed, FailedValidation int64
	// Problems names the files that failed (at most MaxSyncProblems).
	Problems []string
	// Traceback is a failed sync's error, in words a user can act on.
	Traceback string

	// Step is the number of the next step; Cursor where its listing
	// starts.
	Step   int64
	Cursor string
	// DataKey is the data key a file's URL goes under (the project's
	// first), read once per sync.
	DataKey string
	// Unsettled: an import was sent whose tasks may exist without links
	// (its answer was lost, or the worker stopped before writing them);
	// the next step first links every task of the storage above
	// SettledBelow.
	Unsettled    bool
	SettledBelow int64
	// Watermark is a task id known to exist before this sync's next
	// import: every task it creates has a higher id.
	Watermark int64
	// LeaseUntil is when the worker running Step gives it up.
	LeaseUntil time.Time
	// Revision orders writes of the state (conditional updates).
	Revision int64
}

// MaxSyncProblems bounds the files a sync names in its outcome.
const MaxSyncProblems = 20

// SyncStore keeps sync states and links.
type SyncStore interface {
	// GetSync returns the storage's sync state; found is false when it
	// never synced.
	GetSync(ctx context.Context, storageID int64) (s SyncState, found bool, err error)
	// GetSyncs returns the sync states of storages (those that have one).
	GetSyncs(ctx context.Context, storageIDs []int64) (map[int64]SyncState, error)
	// PutSync writes s as revision s.Revision+1 if the stored state is
	// still at s.Revision (0: there is none); otherwise it returns an error
	// wrapping ErrConflict.
	PutSync(ctx context.Context, s SyncState) error
	// DeleteSync removes the storage's sync state.
	DeleteSync(ctx context.Context, storageID int64) error
	// Links returns the links of those of keys that have one.
	Links(ctx context.Context, storageID int64, keys []string) (map[string]Link, error)
	// PutLinks writes links (overwriting those of the same keys).
	PutLinks(ctx context.Context, storageID int64, links []Link) error
	// DeleteLinks removes the links of keys.
	DeleteLinks(ctx context.Context, storageID int64, keys []string) error
	// PurgeLinks removes up to limit links of a storage and reports
	// whether any are left.
	PurgeLinks(ctx context.Context, storageID int64, limit int) (more bool, err error)
}

// SyncMessage is a unit of a sync's work on the queue: a step of a job, or
// the removal of a deleted storage's links.
type SyncMessage struct {
	Storage int64
	Job     string
	Step    int64
	// Purge asks for the storage's links to be removed (it was deleted).
	Purge bool
}

// SyncQueue carries sync messages to the sync worker.
type SyncQueue interface {
	SendSync(ctx context.Context, m SyncMessage) error
}
