package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

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
	// holds the key, and then writes nothing.
	PutStorageWithKey(ctx context.Context, r Record, key IdempotencyRecord) error
	// DeleteStorageWithKey undoes PutStorageWithKey whose outcome is unknown:
	// it removes the record if it refers to secretARN and the key if it
	// refers to id; what is missing counts as removed.
	DeleteStorageWithKey(ctx context.Context, id int64, secretARN, key string) error
	// GetStorage reads a stored record by id.
	GetStorage(ctx context.Context, id int64) (Record, error)
}

// ErrKeyTaken is wrapped when an idempotency key already belongs to another
// storage (a concurrent request with the same key won).
var ErrKeyTaken = errors.New("idempotency key already used")

// ErrIdempotencyConflict is returned when a key is reused with a different
// request.
var ErrIdempotencyConflict = errors.New("this idempotency key was already used with a different request")

// DefaultIdempotencyTTL is how long a key is remembered when the service is
// not told otherwise.
const DefaultIdempotencyTTL = 24 * time.Hour

// Created is the outcome of a create.
type Created struct {
	Storage
	// Replayed is true when an earlier request with the same idempotency key
	// created the storage and this call only returned it.
	Replayed bool
}

// Fingerprint identifies a request for idempotency: the non-secret settings
// and which secret fields were given. Secret values are deliberately left
// out, so nothing derived from them is ever stored; a retry that only
// rotates a secret under the same key replays the original storage.
func Fingerprint(req Request) string {
	body, _ := json.Marshal(struct {
		Settings
		HasToken        bool `json:"has_token"`
		HasClientSecret bool `json:"has_client_secret"`
	}{req.Settings, req.Secrets.Token != "", req.Secrets.ClientSecret != ""})
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// replay returns the storage an earlier request with the same key created.
func (s *Service) replay(ctx context.Context, rec IdempotencyRecord, fingerprint string) (Created, error) {
	if rec.Fingerprint != fingerprint {
		return Created{}, ErrIdempotencyConflict
	}
	r, err := s.Keys.GetStorage(ctx, rec.StorageID)
	if err != nil {
		return Created{}, fmt.Errorf("%w: read replayed storage %d: %w", ErrPersistence, rec.StorageID, err)
	}
	return Created{Storage: r.Storage, Replayed: true}, nil
}
