// Package auth authenticates callers with Label Studio style API tokens
// ("Authorization: Token <key>"): it parses the header, hashes the token,
// looks it up through a Lookuper (package dynamostore/tokenstore keeps them in
// the table; the plaintext is never stored), checks revocation and expiry,
// caches the answer briefly, and returns the core.Principal the token
// authenticates as.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// ErrNoCredentials is returned when the Authorization header is missing or
// is not of the form "Token <key>" or "Bearer <key>".
var ErrNoCredentials = errors.New("no credentials")

// ErrInvalidToken is returned for a token that is unknown, revoked or
// expired.
var ErrInvalidToken = errors.New("invalid token")

// ErrNotFound is returned by Store.Lookup and Store.Revoke when no token has
// the requested hash or id.
var ErrNotFound = errors.New("token not found")

// tokenIDLen is the number of hex characters of the hash that form a token's
// public id: 48 bits, plenty to tell an operator's tokens apart.
const tokenIDLen = 12

// Hash returns the lower-case hex SHA-256 of a plaintext token, the value
// tokens are stored and looked up by.
//
// A fast, unsalted hash is appropriate here because minted tokens carry 256
// bits of randomness: there is nothing to brute-force, unlike passwords,
// which would need a slow salted hash.
func Hash(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// IDFromHash returns the public token id of the token with the given hash.
// An operator holding a plaintext can find its id as IDFromHash(Hash(p)).
func IDFromHash(hash string) string {
	if len(hash) < tokenIDLen {
		return hash
	}
	return hash[:tokenIDLen]
}

// Token describes a stored token. It never holds the plaintext or the hash.
type Token struct {
	// TokenID is the public identifier used to list and revoke the token.
	TokenID string
	// User is the person or service the token was issued to.
	User string
	// Organization is the Label Studio organization, if any.
	Organization string
	// AllProjects grants every project; Projects is then empty.
	AllProjects bool
	// Projects lists the granted project ids in ascending order.
	Projects []int64
	// CreatedAt is when the token was minted (second precision).
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; nil means never.
	ExpiresAt *time.Time
	// RevokedAt is when the token was revoked; nil means it was not.
	RevokedAt *time.Time
}

// Expired reports whether the token has expired at now.
func (t Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// Active reports whether the token is neither revoked nor expired at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt == nil && !t.Expired(now)
}

// Principal returns the identity the token authenticates as.
func (t Token) Principal() core.Principal {
	return core.Principal{
		TokenID:      t.TokenID,
		User:         t.User,
		Organization: t.Organization,
		AllProjects:  t.AllProjects,
		Projects:     slices.Clone(t.Projects),
	}
}

// Record is a token as Store.Lookup returns it: the public description plus
// the hash it is stored under.
type Record struct {
	Token
	// Hash is the hex SHA-256 of the plaintext.
	Hash string
}
