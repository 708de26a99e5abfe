package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// DefaultIdempotencyTTL is how long a key is remembered when the service is
// not told otherwise.
const DefaultIdempotencyTTL = 24 * time.Hour

// Fingerprint identifies a request for idempotency: the non-secret settings
// and which secret fields were given. Secret values are deliberately left
// out, so nothing derived from them is ever stored; a retry that only
// rotates a secret under the same key replays the original storage.
func Fingerprint(req storage.Request) string {
	body, _ := json.Marshal(struct {
		storage.Settings
		HasToken        bool `json:"has_token"`
		HasClientSecret bool `json:"has_client_secret"`
	}{req.Settings, req.Secrets.Token != "", req.Secrets.ClientSecret != ""})
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func (s *Creator) keyTTL() time.Duration {
	if s.KeyTTL > 0 {
		return s.KeyTTL
	}
	return DefaultIdempotencyTTL
}

// replay returns the storage an earlier request with the same key created.
func (s *Creator) replay(ctx context.Context, rec IdempotencyRecord, fingerprint string) (Created, error) {
	if rec.Fingerprint != fingerprint {
		return Created{}, ErrIdempotencyConflict
	}
	r, err := s.Records.GetStorage(ctx, rec.StorageID)
	if errors.Is(err, storage.ErrRecordNotFound) {
		return Created{}, fmt.Errorf("storage %d: %w", rec.StorageID, ErrKeyOfDeletedStorage)
	}
	if err != nil {
		return Created{}, fmt.Errorf("%w: read replayed storage %d: %w", ErrPersistence, rec.StorageID, err)
	}
	return Created{Storage: r.Storage, Replayed: true}, nil
}

// Replay returns the storage an earlier create of the caller with key made,
// if any, without comparing requests. It serves a redelivered event whose
// request can no longer be rebuilt (its handed-over credentials were used
// and deleted by the create that succeeded).
func (s *Creator) Replay(ctx context.Context, caller Caller, key string) (Created, bool, error) {
	if s.Keys == nil || key == "" {
		return Created{}, false, nil
	}
	rec, found, err := s.Keys.FindKey(ctx, caller.keyScope()+":"+key)
	if err != nil {
		return Created{}, false, fmt.Errorf("%w: look up idempotency key: %w", ErrPersistence, err)
	}
	if !found {
		return Created{}, false, nil
	}
	created, err := s.replay(ctx, rec, rec.Fingerprint)
	return created, err == nil, err
}
