package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

func (s *Service) keyTTL() time.Duration {
	if s.KeyTTL > 0 {
		return s.KeyTTL
	}
	return DefaultIdempotencyTTL
}

// replay returns the storage an earlier request with the same key created.
func (s *Service) replay(ctx context.Context, rec IdempotencyRecord, fingerprint string) (Created, error) {
	if rec.Fingerprint != fingerprint {
		return Created{}, ErrIdempotencyConflict
	}
	r, err := s.Records.GetStorage(ctx, rec.StorageID)
	if err != nil {
		return Created{}, fmt.Errorf("%w: read replayed storage %d: %w", ErrPersistence, rec.StorageID, err)
	}
	return Created{Storage: r.Storage, Replayed: true}, nil
}
