package core

import (
	"context"
	"errors"
	"io"
	"regexp"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// ConnectionChecker confirms that a workspace accepts the credentials and
// that the volume (and prefix) exists and is a directory. It returns a
// *storage.ConnectionError for problems the caller can fix.
type ConnectionChecker interface {
	CheckConnection(ctx context.Context, c storage.Connection) error
}

// SecretStore keeps one secret per storage.
type SecretStore interface {
	// CreateSecret stores the values under a name derived from the storage id
	// and returns the secret's ARN and the id of the version that holds the
	// values (which the record names). It returns an error wrapping
	// ErrIDTaken when the name belongs to another secret, and never deletes
	// or changes a secret it did not create.
	CreateSecret(ctx context.Context, s NewSecret) (arn, versionID string, err error)
	// DeleteSecret removes a secret at once, without a recovery window.
	DeleteSecret(ctx context.Context, arn string) error
}

// NewSecret is a secret to create for a storage.
type NewSecret struct {
	StorageID int64
	Project   int64
	Values    map[string]string
}

// Repository keeps storage records.
type Repository interface {
	// PutStorage writes a new record and never overwrites an existing one:
	// it returns an error wrapping ErrIDTaken when another storage's record
	// has the id. A record that this very write put there on an earlier
	// attempt (a lost response) counts as written.
	PutStorage(ctx context.Context, r storage.Record) error
	// DeleteStorage removes the record of id if it refers to secretARN; a
	// missing record counts as deleted. It undoes a PutStorage whose outcome
	// is unknown (a timeout can hide a write that happened).
	DeleteStorage(ctx context.Context, id int64, secretARN string) error
	// GetStorage reads a record; it returns an error wrapping
	// storage.ErrRecordNotFound when there is none.
	GetStorage(ctx context.Context, id int64) (storage.Record, error)
}

// Records is the repository the lifecycle of a storage needs.
type Records interface {
	Repository
	// ListProject returns a project's records in id order.
	ListProject(ctx context.Context, project int64) ([]storage.Record, error)
	// ReplaceStorage writes r — its settings and the secret version it
	// names, in one write — over the record it was read from, as revision
	// r.Revision+1, if the stored record is still at r.Revision; otherwise
	// it returns an error wrapping ErrConflict, or storage.ErrRecordNotFound
	// when the record is gone. It never brings back a deleted record.
	ReplaceStorage(ctx context.Context, r storage.Record) error
	// RemoveStorage deletes a record and returns it; storage.ErrRecordNotFound
	// when there is none.
	RemoveStorage(ctx context.Context, id int64) (storage.Record, error)
}

// ErrConflict is wrapped when a record changed between its read and its
// write.
var ErrConflict = errors.New("the storage was changed by another request")

// SecretVault reads, versions and deletes existing storage secrets. Only
// the function that manages storages holds one; the create function's role
// cannot read a secret.
//
// A storage's credentials are the version of its secret that its record
// names (storage.Record.SecretVersionID): an update writes a new version,
// then the record naming it, so the conditional record write decides for
// both, and a failed update has nothing to undo.
type SecretVault interface {
	// ReadSecret returns the values of the secret's version versionID, or of
	// its current version when versionID is empty (records written before
	// records named their version), and the id of the version read.
	ReadSecret(ctx context.Context, arn, versionID string) (values map[string]string, readID string, err error)
	// PutSecretVersion adds values as a new version of the secret without
	// changing which version is current, and returns the version's id.
	PutSecretVersion(ctx context.Context, arn string, values map[string]string) (versionID string, err error)
	// PromoteSecretVersion makes versionID, which a record now names, the
	// secret's current version in place of previous (or of whichever
	// version is current). Bookkeeping only: no reader depends on it.
	PromoteSecretVersion(ctx context.Context, arn, versionID, previous string) error
	// ScheduleSecretDeletion deletes a secret after the configured recovery
	// window (at once when it is zero).
	ScheduleSecretDeletion(ctx context.Context, arn string) error
}

// FileLister lists the objects under a storage's volume and prefix.
type FileLister interface {
	// ListFiles lists files through the connection, recursing when asked,
	// keeping those whose key matches filter (all when nil), and stopping
	// after limit files or when ctx is done.
	ListFiles(ctx context.Context, c storage.Connection, recursive bool, filter *regexp.Regexp, limit int) (storage.FileListing, error)
}

// IDAllocator hands out storage ids unique across all instances.
type IDAllocator interface {
	NextID(ctx context.Context) (int64, error)
	// SkipTaken is told that id is already used by another storage (the
	// counter was lost or reset): it moves the counter above every existing
	// storage, so that the next NextID returns a free id.
	SkipTaken(ctx context.Context, id int64) error
}

// ErrIDTaken is wrapped by a SecretStore or Repository when the storage id
// already belongs to another storage (its secret name or its record). The
// other storage is left untouched.
var ErrIDTaken = errors.New("storage id already in use")

// IdempotencyRecord ties an idempotency key to the storage it created.
type IdempotencyRecord struct {
	Key string
	// Fingerprint identifies the request the key was first used with.
	Fingerprint string
	StorageID   int64
	ExpiresAt   time.Time
}

// IdempotencyStore keeps idempotency keys next to the records they guard.
type IdempotencyStore interface {
	// FindKey returns the unexpired record of key, if any.
	FindKey(ctx context.Context, key string) (IdempotencyRecord, bool, error)
	// PutStorageWithKey writes the storage record and the key in one atomic
	// write; it returns an error wrapping ErrKeyTaken when another storage
	// holds the key, or ErrIDTaken when another storage has the id, and then
	// writes nothing. Items this very write put there on an earlier attempt
	// count as written.
	PutStorageWithKey(ctx context.Context, r storage.Record, key IdempotencyRecord) error
	// DeleteStorageWithKey undoes PutStorageWithKey whose outcome is unknown:
	// it removes the record if it refers to secretARN and the key if it
	// refers to id; what is missing counts as removed.
	DeleteStorageWithKey(ctx context.Context, id int64, secretARN, key string) error
}

// ErrKeyTaken is wrapped when an idempotency key already belongs to another
// storage (a concurrent request with the same key won).
var ErrKeyTaken = errors.New("idempotency key already used")

// Failure is a permanent failure of an event-borne request, kept so that the
// sender can find out what became of its message.
type Failure struct {
	// Source is "sqs", "eventbridge" or "direct".
	Source string
	// MessageID is the SQS message id or the EventBridge event id.
	MessageID string
	// Kind is the kind of the error (never a retryable one).
	Kind Kind
	// Detail says what is wrong, in the words of Label Studio's error.
	Detail string
	// Fields are the problems of the request's fields, field name →
	// messages; nil when none.
	Fields map[string][]string
}

// FailureRecorder keeps permanent failures of event-borne requests.
type FailureRecorder interface {
	RecordFailure(ctx context.Context, f Failure) error
}

// ByteRange is the one range of a file a client asked for (HTTP's single
// byte range): bytes First to Last inclusive, to the end when Last is
// negative; or, when Suffix is positive, the last Suffix bytes.
type ByteRange struct {
	First, Last, Suffix int64
}

// FileRead is what a client asks of a file: its metadata only (Head), or
// its contents, whole or one range, unless its entity tag is one of
// IfNoneMatch (an If-None-Match header's value).
type FileRead struct {
	Head        bool
	Range       *ByteRange
	IfNoneMatch string
}

// FileContent is a workspace's answer for a file. Exactly one of
// NotModified, Unsatisfiable or neither (contents) holds.
type FileContent struct {
	// Body streams the bytes First to Last (all of them when not Partial);
	// nil for a Head read, NotModified or Unsatisfiable. Its reader must
	// close it.
	Body io.ReadCloser
	// Size is the whole file's size, -1 when unknown.
	Size int64
	// Partial: Body holds bytes First to Last (inclusive) of Size.
	Partial     bool
	First, Last int64
	// NotModified: the file's entity tag is one of the read's IfNoneMatch.
	NotModified bool
	// Unsatisfiable: the range starts past the end of the file.
	Unsatisfiable bool
	ContentType   string
	ETag          string
	LastModified  time.Time
}

// Length is the number of bytes Body holds: Last-First+1 for a partial
// answer, else Size.
func (c FileContent) Length() int64 {
	if c.Partial {
		return c.Last - c.First + 1
	}
	return c.Size
}

// FileFetcher reads a file of a storage's volume from its workspace.
type FileFetcher interface {
	// FetchFile reads path, relative to the volume root (checked with
	// filecap.CheckPath), through the connection. It contacts the
	// workspace once. Its errors wrap ErrNotFound (no such file),
	// ErrWorkspaceRefused, ErrWorkspaceBusy, ErrWorkspaceFailed or
	// context.DeadlineExceeded, and hold nothing the workspace sent but a
	// status.
	FetchFile(ctx context.Context, c storage.Connection, path string, r FileRead) (FileContent, error)
}

// StorageReader reads storage records: all the file route may do with
// them.
type StorageReader interface {
	GetStorage(ctx context.Context, id int64) (storage.Record, error)
}

// SecretReader reads a version of a storage's secret: all the file route
// may do with secrets (see SecretVault.ReadSecret).
type SecretReader interface {
	ReadSecret(ctx context.Context, arn, versionID string) (values map[string]string, readID string, err error)
}
