package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
)

// DefaultCacheTTL is the cache lifetime NewAuthenticator sets: TOKEN_CACHE_SECONDS' default.
const DefaultCacheTTL = config.DefaultTokenCacheTTL

// maxNegativeTTL caps how long an unknown, revoked or expired token is
// remembered, so a token minted just after a failed attempt works soon.
const maxNegativeTTL = 5 * time.Second

// maxCacheEntries bounds each of the positive and negative caches.
const maxCacheEntries = 1024

// Lookuper finds a token by its hash; *Store is one. It returns an error
// wrapping ErrNotFound for an unknown hash.
type Lookuper interface {
	Lookup(ctx context.Context, hash string) (Record, error)
}

// Authenticator turns Authorization headers into principals. It is safe for
// concurrent use and must not be copied after first use.
type Authenticator struct {
	// Store finds tokens.
	Store Lookuper
	// CacheTTL is how long a successful lookup is reused; zero disables
	// caching. A revoked token keeps working for at most this long on an
	// instance that has seen it. Failed lookups (unknown, revoked or expired
	// tokens) are reused for CacheTTL or 5s, whichever is shorter; store
	// errors are never cached.
	CacheTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	positive fifoCache
	negative fifoCache
}

// NewAuthenticator returns an Authenticator over store with the default
// cache lifetime.
func NewAuthenticator(store Lookuper) *Authenticator {
	return &Authenticator{Store: store, CacheTTL: DefaultCacheTTL}
}

// Authenticate checks an Authorization header value of the form
// "Token <key>" or "Bearer <key>" (scheme case-insensitive, surrounding
// whitespace ignored) and returns the token's principal.
//
// It returns an error wrapping ErrNoCredentials for a missing or malformed
// header and ErrInvalidToken for an unknown, revoked or expired token; any
// other error means the token store failed and the caller should answer with
// a server error, not 401. No error message contains the key.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (core.Principal, error) {
	key, err := parseAuthorization(authorization)
	if err != nil {
		return core.Principal{}, err
	}
	hash := Hash(key)
	now := a.now()
	rec, found, ok := a.cached(hash, now)
	if !ok {
		rec, err = a.Store.Lookup(ctx, hash)
		switch {
		case errors.Is(err, ErrNotFound):
			found = false
		case err != nil:
			return core.Principal{}, fmt.Errorf("authenticate: %w", err)
		default:
			found = true
		}
		a.remember(hash, rec, found, now)
	}
	if !found || subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hash)) != 1 {
		return core.Principal{}, fmt.Errorf("authenticate: %w: unknown token", ErrInvalidToken)
	}
	if rec.RevokedAt != nil {
		return core.Principal{}, fmt.Errorf("authenticate: %w: token %s was revoked", ErrInvalidToken, rec.TokenID)
	}
	if rec.Expired(now) {
		return core.Principal{}, fmt.Errorf("authenticate: %w: token %s has expired", ErrInvalidToken, rec.TokenID)
	}
	return rec.Principal(), nil
}

// parseAuthorization returns the key of a "Token <key>" or "Bearer <key>"
// header value.
func parseAuthorization(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", fmt.Errorf("authenticate: %w: missing Authorization header", ErrNoCredentials)
	}
	i := strings.IndexFunc(h, unicode.IsSpace)
	if i < 0 {
		return "", fmt.Errorf("authenticate: %w: Authorization header has no key", ErrNoCredentials)
	}
	scheme, key := h[:i], strings.TrimSpace(h[i:])
	if !strings.EqualFold(scheme, "Token") && !strings.EqualFold(scheme, "Bearer") {
		// The scheme is not quoted: a malformed header might hold a token
		// in its place.
		return "", fmt.Errorf("authenticate: %w: unsupported Authorization scheme", ErrNoCredentials)
	}
	if strings.ContainsFunc(key, unicode.IsSpace) {
		return "", fmt.Errorf("authenticate: %w: malformed Authorization header", ErrNoCredentials)
	}
	return key, nil
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Authenticator) negativeTTL() time.Duration {
	return min(a.CacheTTL, maxNegativeTTL)
}

// cached returns the remembered lookup result for hash, if still fresh.
func (a *Authenticator) cached(hash string, now time.Time) (rec Record, found, ok bool) {
	if a.CacheTTL <= 0 {
		return Record{}, false, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.positive.get(hash, now); ok {
		return e.rec, e.found, true
	}
	if e, ok := a.negative.get(hash, now); ok {
		return e.rec, e.found, true
	}
	return Record{}, false, false
}

// remember caches a lookup result: usable tokens in the positive cache,
// everything else briefly in the negative one, so a flood of bad tokens
// cannot push good ones out.
func (a *Authenticator) remember(hash string, rec Record, found bool, now time.Time) {
	if a.CacheTTL <= 0 {
		return
	}
	e := cacheEntry{rec: rec, found: found}
	a.mu.Lock()
	defer a.mu.Unlock()
	if found && rec.Active(now) {
		e.until = now.Add(a.CacheTTL)
		a.negative.remove(hash)
		a.positive.put(hash, e, maxCacheEntries)
		return
	}
	e.until = now.Add(a.negativeTTL())
	a.positive.remove(hash)
	a.negative.put(hash, e, maxCacheEntries)
}
