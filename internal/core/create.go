package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Created is the outcome of a create.
type Created struct {
	storage.Storage
	// Replayed is true when an earlier request with the same idempotency key
	// created the storage and this call only returned it.
	Replayed bool
}

// Create checks that the caller may manage the project and that the
// connection works, stores the secrets and the record, and returns the
// storage. On failure part-way it removes what it stored.
//
// With an idempotency key (key != ""), the first request creates the
// storage; later ones of the same caller with the same request return it
// (Replayed), and ones with a different request fail with
// ErrIdempotencyConflict. The key is looked up before anything else
// starts: a replay contacts no workspace, reserves no id and creates no
// secret (retries and redeliveries are frequent, and a customer's
// workspace may be slow, rate-limited or down).
//
// Past the key, the AWS work overlaps the connection check: the id is
// reserved and the secret created while the workspace answers, so that the
// record write is the only AWS call that waits for the check. A failed
// check removes the secret it overlapped (the sweep removes it if the
// function dies first).
//
// The answer does not depend on which of the overlapped calls ends first:
// when the check fails, its error is the answer (the caller must fix the
// request, or the workspace must recover), even if the AWS work failed
// too; an AWS failure is the answer only once the check has passed. So an
// AWS failure waits for the check's outcome.
func (s *Creator) Create(ctx context.Context, caller Caller, req storage.Request, key string) (Created, error) {
	if err := authorizeNew(ctx, s.Projects, caller, req.Project); err != nil {
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

	// Every goroutine ends before Create returns, and none is cancelled:
	// the check's outcome decides the answer, and what the id and the
	// secret calls made must be known to be undone.
	var wg sync.WaitGroup
	defer wg.Wait()
	check := checkOutcome{ch: async(&wg, func() error { return s.check(ctx, req) })}
	ids := async(&wg, func() idResult {
		id, err := s.IDs.NextID(ctx)
		return idResult{id, err}
	})

	var reserved idResult
	select {
	case reserved = <-ids:
	case err := <-check.pending():
		if check.set(err) != nil {
			// A failed check wastes the id: ids may have gaps.
			return Created{}, err
		}
		reserved = <-ids
	}
	if reserved.err != nil {
		return Created{}, check.before(fmt.Errorf("%w: allocate id: %w", ErrPersistence, reserved.err))
	}

	made := async(&wg, func() madeSecret { return s.makeSecret(ctx, req, reserved.id) })
	var secret madeSecret
	for made != nil || !check.done {
		select {
		case secret = <-made:
			made = nil
			if secret.err != nil {
				return Created{}, check.before(fmt.Errorf("%w: %w", ErrPersistence, secret.err))
			}
		case err := <-check.pending():
			if check.set(err) != nil {
				if made != nil {
					secret = <-made
				}
				if secret.err == nil {
					s.discardSecret(ctx, secret.id, secret.arn)
				}
				return Created{}, err
			}
		}
	}

	now := s.now().UTC()
	var guard *IdempotencyRecord
	if key != "" {
		guard = &IdempotencyRecord{Key: key, Fingerprint: fingerprint, ExpiresAt: now.Add(s.keyTTL())}
	}
	for attempt := 1; ; attempt++ {
		created := storage.Storage{
			ID:        secret.id,
			Type:      storage.StorageType,
			CreatedAt: now.Truncate(time.Microsecond),
			Settings:  req.Settings,
		}
		record := storage.Record{Storage: created, SecretARN: secret.arn, SecretVersionID: secret.versionID}
		err := s.writeRecord(ctx, record, guard)
		if err == nil {
			return s.created(ctx, record, secret.values, guard)
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
		// Another storage's record has the id although its secret name was
		// free: take a fresh id and a secret under its name.
		id, err := s.skipTaken(ctx, secret.id, err)
		if err != nil {
			return Created{}, fmt.Errorf("%w: %w", ErrPersistence, err)
		}
		if secret = s.makeSecret(ctx, req, id); secret.err != nil {
			return Created{}, fmt.Errorf("%w: %w", ErrPersistence, secret.err)
		}
	}
}

// created runs the hooks of a storage whose record is written; their
// failure undoes the create as a failed record write does. A replay never
// comes here: a retried create registers nothing twice.
func (s *Creator) created(ctx context.Context, record storage.Record, values map[string]string, guard *IdempotencyRecord) (Created, error) {
	if s.Hooks != nil {
		if err := s.Hooks.Created(ctx, record, values); err != nil {
			key := ""
			if guard != nil {
				key = guard.Key
			}
			s.rollback(ctx, record.ID, record.SecretARN, key)
			return Created{}, err
		}
	}
	return Created{Storage: record.Storage}, nil
}

// checkOutcome is the connection check running beside a create's AWS work,
// received at most once.
type checkOutcome struct {
	ch   <-chan error
	done bool
	err  error
}

// pending is the channel the outcome arrives on, nil once it has arrived
// (a nil channel never fires in a select).
func (c *checkOutcome) pending() <-chan error {
	if c.done {
		return nil
	}
	return c.ch
}

// set keeps the outcome received from pending and returns it.
func (c *checkOutcome) set(err error) error {
	c.done, c.err = true, err
	return err
}

// before answers an AWS failure: the check's failure, if it fails, comes
// before it, so this waits for the check.
func (c *checkOutcome) before(awsErr error) error {
	if !c.done {
		c.set(<-c.ch)
	}
	if c.err != nil {
		return c.err
	}
	return awsErr
}

// maxIDAttempts bounds how often a create takes a new id after finding its
// id in use.
const maxIDAttempts = 3

// async runs f in a goroutine counted by wg and delivers its result on a
// channel that never blocks the sender.
func async[T any](wg *sync.WaitGroup, f func() T) chan T {
	out := make(chan T, 1)
	wg.Go(func() { out <- f() })
	return out
}

type idResult struct {
	id  int64
	err error
}

// madeSecret is the secret of a create and the id it is named after.
type madeSecret struct {
	id        int64
	values    map[string]string
	arn       string
	versionID string
	err       error
}

// makeSecret creates the secret of the storage id, moving to a fresh id
// when another storage's secret has the name.
func (s *Creator) makeSecret(ctx context.Context, req storage.Request, id int64) madeSecret {
	values := req.Secrets.For(req.AuthType).Values()
	// The key of the storage's file links (package filecap), kept with its
	// credentials.
	key, err := filecap.NewKey()
	if err != nil {
		return madeSecret{err: err}
	}
	values[filecap.SecretValue] = key
	if s.Hooks != nil {
		extra, err := s.Hooks.SecretValues()
		if err != nil {
			return madeSecret{err: err}
		}
		maps.Copy(values, extra)
	}
	for attempt := 1; ; attempt++ {
		arn, versionID, err := s.Secrets.CreateSecret(ctx, NewSecret{StorageID: id, Project: req.Project, Values: values})
		if err == nil {
			return madeSecret{id: id, values: values, arn: arn, versionID: versionID}
		}
		if !errors.Is(err, ErrIDTaken) || attempt == maxIDAttempts {
			return madeSecret{err: fmt.Errorf("create secret: %w", err)}
		}
		if id, err = s.skipTaken(ctx, id, err); err != nil {
			return madeSecret{err: err}
		}
	}
}

// skipTaken is told that another storage has id (the id counter was lost
// or reset): it moves the counter past every storage and returns a fresh id.
func (s *Creator) skipTaken(ctx context.Context, id int64, cause error) (int64, error) {
	s.logger().WarnContext(ctx, "storage id already in use; the id counter is moved past every storage",
		slog.Int64("storage_id", id), slog.String("error", cause.Error()))
	if err := s.IDs.SkipTaken(ctx, id); err != nil {
		return 0, fmt.Errorf("move the id counter past %d: %w", id, err)
	}
	next, err := s.IDs.NextID(ctx)
	if err != nil {
		return 0, fmt.Errorf("allocate id: %w", err)
	}
	return next, nil
}

// writeRecord writes the record (with its idempotency key when guard is
// set). On failure it removes the record and the secret.
func (s *Creator) writeRecord(ctx context.Context, record storage.Record, guard *IdempotencyRecord) error {
	var err error
	key := ""
	if guard == nil {
		err = s.Records.PutStorage(ctx, record)
	} else {
		key = guard.Key
		g := *guard
		g.StorageID = record.ID
		err = s.Keys.PutStorageWithKey(ctx, record, g)
	}
	if err != nil {
		s.rollback(ctx, record.ID, record.SecretARN, key)
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

// cleanupTimeout bounds the clean-up after a failure.
const cleanupTimeout = 5 * time.Second

// cleanupContext outlives the request's context, because leaving things
// behind is worse than overrunning a moment, and is bounded so that a hung
// call cannot hold the function.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// discardSecret deletes the secret a create made before its check failed.
func (s *Creator) discardSecret(ctx context.Context, id int64, arn string) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := s.Secrets.DeleteSecret(ctx, arn); err != nil {
		s.logger().ErrorContext(ctx, "a refused create left its secret; the sweep will remove it",
			slog.String("storage_id", strconv.FormatInt(id, 10)), slog.String("error", err.Error()))
	}
}

// rollback undoes a create whose record write failed: first the record (the
// write may have happened even though it reported an error), then the
// secret. If the record cannot be removed the secret stays, so that there is
// never a record without its secret.
func (s *Creator) rollback(ctx context.Context, id int64, arn, key string) {
	ctx, cancel := cleanupContext(ctx)
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
