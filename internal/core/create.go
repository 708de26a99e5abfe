package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Created is the outcome of a create.
type Created struct {
	storage.Storage
	// Replayed is true when an earlier request with the same idempotency key
	// created the storage and this call only returned it.
	Replayed bool
}

// Validate checks that the caller may manage the project and that the
// connection works; it saves nothing.
func (s *Service) Validate(ctx context.Context, caller Caller, req storage.Request) error {
	if err := caller.authorize(req.Project); err != nil {
		return err
	}
	return s.check(ctx, req)
}

// Create checks that the caller may manage the project and that the
// connection works, stores the secrets and the record, and returns the
// storage. On failure part-way it removes what it stored.
//
// With an idempotency key (key != ""), the first request creates the
// storage; later ones of the same caller with the same request return it
// (Replayed), and ones with a different request fail with
// ErrIdempotencyConflict.
func (s *Service) Create(ctx context.Context, caller Caller, req storage.Request, key string) (Created, error) {
	if err := caller.authorize(req.Project); err != nil {
		return Created{}, err
	}
	var fingerprint string
	if key != "" {
		if s.Keys == nil {
			return Created{}, fmt.Errorf("%w: idempotency keys are not configured", ErrPersistence)
		}
		key = caller.keyScope() + ":" + key
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
	now := s.now().UTC()
	var guard *IdempotencyRecord
	if key != "" {
		guard = &IdempotencyRecord{Key: key, Fingerprint: fingerprint, ExpiresAt: now.Add(s.keyTTL())}
	}
	id := reserved.id
	for attempt := 1; ; attempt++ {
		created := storage.Storage{
			ID:        id,
			Type:      storage.StorageType,
			CreatedAt: now.Truncate(time.Microsecond),
			Settings:  req.Settings,
		}
		err := s.save(ctx, created, req, guard)
		if err == nil {
			return Created{Storage: created}, nil
		}
		if errors.Is(err, ErrKeyTaken) {
			// A concurrent request with the same key won the race: answer as its replay.
			rec, found, findErr := s.Keys.FindKey(ctx, key)
			if findErr != nil || !found {
				return Created{}, fmt.Errorf("%w: idempotency key taken but unreadable: %w", ErrPersistence, errors.Join(err, findErr))
			}
			return s.replay(ctx, rec, fingerprint)
		}
		if !errors.Is(err, ErrIDTaken) || attempt == maxIDAttempts {
			return Created{}, fmt.Errorf("%w: %w", ErrPersistence, err)
		}
		// The id counter was lost or reset: another storage has this id.
		// Move the counter past every storage and take a fresh id.
		s.logger().WarnContext(ctx, "storage id already in use; the id counter is moved past every storage",
			slog.Int64("storage_id", id), slog.String("error", err.Error()))
		if err := s.IDs.SkipTaken(ctx, id); err != nil {
			return Created{}, fmt.Errorf("%w: move the id counter past %d: %w", ErrPersistence, id, err)
		}
		if id, err = s.IDs.NextID(ctx); err != nil {
			return Created{}, fmt.Errorf("%w: allocate id: %w", ErrPersistence, err)
		}
	}
}

// maxIDAttempts bounds how often a create takes a new id after finding its
// id in use.
const maxIDAttempts = 3

// save stores the secret, then the record (with its idempotency key when
// guard is set). On failure it removes what it stored.
func (s *Service) save(ctx context.Context, created storage.Storage, req storage.Request, guard *IdempotencyRecord) error {
	secrets := req.Secrets.For(req.AuthType).Values()
	arn, err := s.Secrets.CreateSecret(ctx, NewSecret{StorageID: created.ID, Project: req.Project, Values: secrets})
	if err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	record := storage.Record{Storage: created, SecretARN: arn}
	key := ""
	if guard == nil {
		err = s.Records.PutStorage(ctx, record)
	} else {
		key = guard.Key
		g := *guard
		g.StorageID = created.ID
		err = s.Keys.PutStorageWithKey(ctx, record, g)
	}
	if err != nil {
		s.rollback(ctx, created.ID, arn, key)
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

type idResult struct {
	id  int64
	err error
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
		err = s.Records.DeleteStorage(ctx, id, arn)
	} else {
		err = s.Keys.DeleteStorageWithKey(ctx, id, arn, key)
	}
	if err != nil {
		// The undo failed; if the record is confirmed absent the secret can
		// still go, else the two are kept together (a complete storage).
		if _, getErr := s.Records.GetStorage(ctx, id); !errors.Is(getErr, storage.ErrRecordNotFound) {
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

func (s *Service) check(ctx context.Context, req storage.Request) error {
	if s.Checker == nil {
		return nil
	}
	return s.Checker.CheckConnection(ctx, req.Connection())
}
