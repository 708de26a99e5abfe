package core

import (
	"context"
	"errors"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The ports of an export storage's writes: Label Studio's annotations and
// webhooks, and the volume written to.

// ExportedAnnotation is an annotation as an export storage writes it.
type ExportedAnnotation struct {
	ID   int64
	Task int64
	// UpdatedAt orders the versions of an annotation: an older one never
	// overwrites a newer one.
	UpdatedAt time.Time
	// Body is the file's content: Label Studio's target-storage format
	// (the annotation with its task nested), as its own export storages
	// write it.
	Body []byte
}

// AnnotationSource reads a project's annotations with the service
// credential. Its errors wrap ErrTasksUnavailable when a later attempt may
// succeed and ErrTasksRefused otherwise; a missing annotation wraps
// ErrNotFound.
type AnnotationSource interface {
	// Annotation returns the annotation's current version.
	Annotation(ctx context.Context, project, id int64) (ExportedAnnotation, error)
	// AnnotationIDs lists the ids of the project's annotations above
	// after, in id order, at most limit of them.
	AnnotationIDs(ctx context.Context, project, after int64, limit int) ([]int64, error)
}

// Webhook is a webhook to register on a project: Label Studio posts the
// actions' events to URL with Headers (a secret one among them).
type Webhook struct {
	Project int64
	URL     string
	Headers map[string]string
	Actions []string
}

// Webhooks registers and removes Label Studio webhooks with the service
// credential (errors as AnnotationSource's).
type Webhooks interface {
	RegisterWebhook(ctx context.Context, w Webhook) (id int64, err error)
	// RemoveWebhook removes a webhook; one that is gone counts as removed.
	RemoveWebhook(ctx context.Context, id int64) error
}

// VolumeWriter writes and deletes files of a volume through the Files API.
// Its errors are FetchFile's (ErrWorkspaceRefused, ErrWorkspaceBusy,
// ErrWorkspaceFailed, context.DeadlineExceeded), never holding what the
// workspace wrote.
type VolumeWriter interface {
	// WriteFile writes body to path (relative to the volume root),
	// replacing any file there.
	WriteFile(ctx context.Context, c storage.Connection, path string, body []byte) error
	// DeleteFile deletes path; a missing file counts as deleted.
	DeleteFile(ctx context.Context, c storage.Connection, path string) error
}

// ExportMessage is a unit of the export queue's work: the write (or
// deletion) of one annotation, or a step of an export sync.
type ExportMessage struct {
	Storage int64
	// Annotation names the annotation to write; zero for a sync step.
	Annotation int64
	// Deleted says that Label Studio reported the annotation deleted.
	Deleted bool
	// Job and Step name a sync step.
	Job  string
	Step int64
}

// ExportQueue carries export messages to the export writer.
type ExportQueue interface {
	SendExport(ctx context.Context, m ExportMessage) error
}

// AnnotationVersion is what the volume holds of an annotation.
type AnnotationVersion struct {
	// Written is the updated_at of the version written; zero when none.
	Written time.Time
	// Removed: the file was deleted (the annotation was).
	Removed bool
}

// ExportLocks keeps, per export storage and annotation, the version in the
// volume and a lock that serialises its writers.
type ExportLocks interface {
	// LockAnnotation takes the annotation's lock until until, unless another
	// writer holds it (an error wrapping ErrSyncBusy), and returns what the
	// volume holds.
	LockAnnotation(ctx context.Context, storageID, annotation int64, now, until time.Time) (AnnotationVersion, error)
	// UnlockAnnotation records v and frees the lock.
	UnlockAnnotation(ctx context.Context, storageID, annotation int64, v AnnotationVersion) error
	// ForgetAnnotations removes up to limit annotation records of a deleted
	// storage and reports whether any are left.
	ForgetAnnotations(ctx context.Context, storageID int64, limit int) (more bool, err error)
}

// WebhookSecretValue names, in an export storage's secret, the value Label
// Studio's webhook deliveries must carry in WebhookHeader.
const (
	WebhookSecretValue = "webhook_secret"
	WebhookHeader      = "X-Databricks-Storage-Webhook"
)

// Webhook actions an export storage registers.
var ExportActions = []string{"ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"}

// ErrWebhookRefused is returned for a webhook delivery whose secret does
// not match (or names no export storage).
var ErrWebhookRefused = errors.New("the webhook delivery is not this service's")

// AnnotationEvent is what a webhook delivery says: annotations of the
// project saved, or deleted.
type AnnotationEvent struct {
	Project     int64
	Annotations []int64
	Deleted     bool
}

// ExportState keeps export storages' syncs and what they wrote of each
// annotation (one store: dynamostore.Syncs with Export set).
type ExportState interface {
	SyncStore
	ExportLocks
}
