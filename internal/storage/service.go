package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Connection is what the connection check needs to reach a volume.
type Connection struct {
	Host     string
	AuthType AuthType
	ClientID string
	TenantID string
	Secrets  Secrets
	Catalog  string
	Schema   string
	Volume   string
	// Prefix is the path under the volume, empty for the volume itself.
	Prefix    string
	VerifyTLS bool
	Timeout   time.Duration
}

// ConnectionChecker confirms that a workspace accepts the credentials and
// that the volume (and prefix) exists and is a directory. It returns a
// *ConnectionError for problems the caller can fix.
type ConnectionChecker interface {
	CheckConnection(ctx context.Context, c Connection) error
}

// ConnectionError is a connection-check failure the caller can fix: bad
// credentials, a missing volume, an unreachable workspace.
type ConnectionError struct {
	// Reason is a stable machine-readable cause, e.g. "credentials_refused".
	Reason string
	// Message is a human-readable explanation that never holds a secret.
	Message string
	// Err is the underlying error, for logs; it must not hold a secret either.
	Err error
}

func (e *ConnectionError) Error() string { return e.Message }

// Reasons of connection failures that a later retry may cure.
const (
	ReasonTimedOut       = "timed_out"
	ReasonWorkspaceError = "workspace_error"
)

// Transient reports whether retrying later may succeed: the workspace timed
// out or failed on its side. Everything else needs the caller to change the
// request.
func (e *ConnectionError) Transient() bool {
	return e.Reason == ReasonTimedOut || e.Reason == ReasonWorkspaceError
}

// Unwrap returns the underlying error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// SecretStore keeps one secret per storage.
type SecretStore interface {
	// CreateSecret stores the values under a name derived from the storage id
	// and returns the secret's ARN.
	CreateSecret(ctx context.Context, s NewSecret) (arn string, err error)
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
	// PutStorage writes a new record and never overwrites an existing one.
	PutStorage(ctx context.Context, r Record) error
	// DeleteStorage removes the record of id if it refers to secretARN; a
	// missing record counts as deleted. It undoes a PutStorage whose outcome
	// is unknown (a timeout can hide a write that happened).
	DeleteStorage(ctx context.Context, id int64, secretARN string) error
	// GetStorage reads a record; it returns an error wrapping
	// ErrRecordNotFound when there is none.
	GetStorage(ctx context.Context, id int64) (Record, error)
}

// ErrRecordNotFound is wrapped by repositories when a record does not exist.
var ErrRecordNotFound = errors.New("storage record not found")

// IDAllocator hands out storage ids unique across all instances.
type IDAllocator interface {
	NextID(ctx context.Context) (int64, error)
}

// Service runs the create and validate workflows.
type Service struct {
	Checker ConnectionChecker
	Secrets SecretStore
	Repo    Repository
	IDs     IDAllocator
	// Keys keeps idempotency keys; needed only for CreateIdempotent.
	Keys IdempotencyStore
	// KeyTTL is how long an idempotency key is remembered
	// (DefaultIdempotencyTTL when zero).
	KeyTTL time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger receives workflow events; slog.Default when nil.
	Logger *slog.Logger
}

// ErrPersistence is wrapped by Create when the storage could not be saved;
// nothing of it is left behind.
var ErrPersistence = errors.New("storage could not be saved")

// Validate checks the connection and saves nothing.
func (s *Service) Validate(ctx context.Context, req Request) error {
	return s.check(ctx, req)
}

// Create checks the connection, stores the secrets and the record, and
// returns the storage. On failure part-way it removes what it stored.
func (s *Service) Create(ctx context.Context, req Request) (Storage, error) {
	created, err := s.CreateIdempotent(ctx, req, "")
	return created.Storage, err
}

// CreateIdempotent is Create with an idempotency key: the first request with
// a key creates the storage; later ones with the same request return it
// (Replayed), and ones with a different request fail with
// ErrIdempotencyConflict. An empty key means no idempotency.
func (s *Service) CreateIdempotent(ctx context.Context, req Request, key string) (Created, error) {
	var fingerprint string
	if key != "" {
		if s.Keys == nil {
			return Created{}, fmt.Errorf("%w: idempotency keys are not configured", ErrPersistence)
		}
		fingerprint = Fingerprint(req)
		rec, found, err := s.Keys.FindKey(ctx, key)
		if err != nil {
			return Created{}, fmt.Errorf("%w: look up idempotency key: %w", ErrPersistence, err)
		}
		if found {
			return s.replay(ctx, rec, fingerprint)
		}
	}
	// The id is reserved while the workspace is checked, so that an id-block
	// refill never adds a round trip to the critical path. A failed check
	// wastes the id: ids may have gaps.
	ids := make(chan idResult, 1)
	go func() {
		id, err := s.IDs.NextID(ctx)
		ids <- idResult{id, err}
	}()
	if err := s.check(ctx, req); err != nil {
		return Created{}, err
	}
	reserved := <-ids
	if reserved.err != nil {
		return Created{}, fmt.Errorf("%w: allocate id: %w", ErrPersistence, reserved.err)
	}
	id := reserved.id
	now := s.now().UTC()
	storage := Storage{
		ID:        id,
		Type:      StorageType,
		CreatedAt: now.Truncate(time.Microsecond),
		Settings:  req.Settings,
	}
	arn, err := s.Secrets.CreateSecret(ctx, NewSecret{StorageID: id, Project: req.Project, Values: req.Secrets.Values()})
	if err != nil {
		return Created{}, fmt.Errorf("%w: create secret: %w", ErrPersistence, err)
	}
	record := Record{Storage: storage, SecretARN: arn}
	if key == "" {
		if err := s.Repo.PutStorage(ctx, record); err != nil {
			s.rollback(ctx, id, arn, "")
			return Created{}, fmt.Errorf("%w: write record: %w", ErrPersistence, err)
		}
		return Created{Storage: storage}, nil
	}
	guard := IdempotencyRecord{Key: key, Fingerprint: fingerprint, StorageID: id, ExpiresAt: now.Add(s.keyTTL())}
	err = s.Keys.PutStorageWithKey(ctx, record, guard)
	if err == nil {
		return Created{Storage: storage}, nil
	}
	s.rollback(ctx, id, arn, key)
	if !errors.Is(err, ErrKeyTaken) {
		return Created{}, fmt.Errorf("%w: write record: %w", ErrPersistence, err)
	}
	// A concurrent request with the same key won the race: answer as its replay.
	rec, found, findErr := s.Keys.FindKey(ctx, key)
	if findErr != nil || !found {
		return Created{}, fmt.Errorf("%w: idempotency key taken but unreadable: %w", ErrPersistence, errors.Join(err, findErr))
	}
	return s.replay(ctx, rec, fingerprint)
}

type idResult struct {
	id  int64
	err error
}

func (s *Service) keyTTL() time.Duration {
	if s.KeyTTL > 0 {
		return s.KeyTTL
	}
	return DefaultIdempotencyTTL
}

// rollbackTimeout bounds the clean-up after a failed write.
const rollbackTimeout = 5 * time.Second

// rollback undoes a create whose record write failed: first the record (the
// write may have happened even though it reported an error), then the
// secret. If the record cannot be removed the secret stays, so that there is
// never a record without its secret. It runs even when the request's context
// is done, because leaving things behind is worse than overrunning a moment.
func (s *Service) rollback(ctx context.Context, id int64, arn, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	storageID := slog.String("storage_id", strconv.FormatInt(id, 10))
	var err error
	if key == "" {
		err = s.Repo.DeleteStorage(ctx, id, arn)
	} else {
		err = s.Keys.DeleteStorageWithKey(ctx, id, arn, key)
	}
	if err != nil {
		// The undo failed; if the record is confirmed absent the secret can
		// still go, else the two are kept together (a complete storage).
		if _, getErr := s.Repo.GetStorage(ctx, id); !errors.Is(getErr, ErrRecordNotFound) {
			s.logger().ErrorContext(ctx, "rollback could not remove the record; record and secret kept together",
				storageID, slog.String("error", err.Error()))
			return
		}
	}
	if err := s.Secrets.DeleteSecret(ctx, arn); err != nil {
		s.logger().ErrorContext(ctx, "rollback left an orphan secret; the sweep will remove it",
			storageID, slog.String("error", err.Error()))
	}
}

func (s *Service) check(ctx context.Context, req Request) error {
	if s.Checker == nil {
		return nil
	}
	conn := Connection{
		Host:      req.Host,
		AuthType:  req.AuthType,
		ClientID:  deref(req.ClientID),
		TenantID:  deref(req.TenantID),
		Secrets:   req.Secrets,
		Catalog:   req.Catalog,
		Schema:    req.Schema,
		Volume:    req.Volume,
		Prefix:    deref(req.Prefix),
		VerifyTLS: req.VerifyTLS,
		Timeout:   time.Duration(req.RequestTimeoutS) * time.Second,
	}
	return s.Checker.CheckConnection(ctx, conn)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
