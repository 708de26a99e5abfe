// Package auth authenticates callers with Label Studio style API tokens
// ("Authorization: Token <key>") and tells which projects they may manage.
//
// Tokens live in the service's DynamoDB table, keyed by the SHA-256 of the
// token; the plaintext is never stored:
//
//	pk           "TOKEN#<hex sha256 of the token>"
//	kind         "token"
//	token_id     first 12 hex characters of the hash (public id)
//	user         string
//	organization string, omitted when empty
//	all_projects true, omitted otherwise
//	projects     number set of project ids, omitted when all_projects
//	created_at   RFC 3339, UTC
//	expires_at   epoch seconds, omitted for tokens that never expire
//	revoked_at   RFC 3339, UTC, present once revoked
//
// expires_at is the table's time-to-live attribute, so DynamoDB eventually
// deletes expired tokens; the code checks expiry itself because that
// deletion lags. Token items carry neither "project" nor "id", so they stay
// out of the by-project index.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"time"
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

// ErrTokenExists is returned by Store.Mint when a token with the same hash is
// already stored, which in practice only happens for a fixed plaintext.
var ErrTokenExists = errors.New("token already exists")

// ErrInvalidInput is returned by Store.Mint for an unusable MintInput.
var ErrInvalidInput = errors.New("invalid token input")

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
func (t Token) Principal() Principal {
	return Principal{
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

// Principal is an authenticated caller.
type Principal struct {
	// TokenID identifies the token used; it is safe to log.
	TokenID string
	// User is the token's user.
	User string
	// Organization is the token's organization, possibly empty.
	Organization string
	// AllProjects grants every project the service serves.
	AllProjects bool
	// Projects lists the granted project ids when AllProjects is false.
	Projects []int64
}

// CanManage reports whether the principal may manage storages of project.
//
// The service does not know which organization a project belongs to, so an
// all-projects token may manage any project this deployment serves.
func (p Principal) CanManage(project int64) bool {
	return p.AllProjects || slices.Contains(p.Projects, project)
}
