package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// ErrPersistence is wrapped when the storage could not be saved (or read)
// because AWS failed; nothing of a failed create is left behind but what the
// sweep removes. A retry may succeed.
var ErrPersistence = errors.New("storage could not be saved")

// ErrIdempotencyConflict is returned when an idempotency key is reused with
// a different request.
var ErrIdempotencyConflict = errors.New("this idempotency key was already used with a different request")

// ErrKeyOfDeletedStorage is returned when an idempotency key names a
// storage that has been deleted since.
var ErrKeyOfDeletedStorage = errors.New("the storage this idempotency key created has been deleted")

// ErrNotFound is returned for a storage id that names no storage.
var ErrNotFound = errors.New("storage not found")

// PermissionError is returned when the caller may not manage the project.
type PermissionError struct {
	TokenID string
	Project int64
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("token %s may not manage project %d", e.TokenID, e.Project)
}

// Transient reports whether the same request may succeed later: AWS or the
// workspace failed on their side, or time ran out. Everything else needs
// the caller to change the request.
func Transient(err error) bool {
	var connection *storage.ConnectionError
	switch {
	case err == nil:
		return false
	case errors.As(err, &connection):
		return connection.Transient()
	case errors.Is(err, ErrPersistence), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	// An error of no known kind is a fault of the service, not of the
	// request: retrying is the safe answer.
	var validation *storage.ValidationError
	var permission *PermissionError
	return !errors.Is(err, storage.ErrMalformed) && !errors.As(err, &validation) &&
		!errors.As(err, &permission) && !errors.Is(err, ErrIdempotencyConflict) &&
		!errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrKeyOfDeletedStorage)
}
