package core

import (
	"context"
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
