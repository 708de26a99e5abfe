package labelstudio

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
)

// DefaultCacheTTL is how long an answer of Label Studio is trusted when
// Authenticator.CacheTTL is not set (TOKEN_CACHE_SECONDS' default).
const DefaultCacheTTL = auth.DefaultCacheTTL

// maxNegativeTTL caps how long a refusal is remembered. A refusal kept too
// long locks out someone who just fixed the cause (a token just created, a
// project just made, access just granted), which they see at once; a
// grant kept too long is the revocation delay TOKEN_CACHE_SECONDS accepts.
// Refusals are still cached briefly so that a client retrying a bad token
// in a loop costs Label Studio one call per token per few seconds.
const maxNegativeTTL = 5 * time.Second

// Authenticator authenticates callers by their Label Studio credential and
// decides their project access as that Label Studio would. It implements
// httpapi.Authenticator and core.ProjectAccess. Answers are cached under a
// SHA-256 of the Authorization header (the header itself is kept only in
// the core.Principal of the request); failures to reach Label Studio are
// never cached. Safe for concurrent use.
type Authenticator struct {
	Client *Client
	// CacheTTL is how long a positive answer is reused (0 disables the
	// caches): a user deactivated in Label Studio keeps working here for at
	// most this long on an instance that has seen their token.
	CacheTTL time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time

	users    ttlCache[userAnswer]
	projects ttlCache[error] // "<header hash>/<project>" → nil or a refusal
	exists   ttlCache[error] // "<project>" → nil or a refusal (service credential)
}

// userAnswer is a remembered whoami: the principal, or refused.
type userAnswer struct {
	principal core.Principal
	refused   bool
}

// NewAuthenticator returns an Authenticator over c with DefaultCacheTTL.
func NewAuthenticator(c *Client) *Authenticator {
	return &Authenticator{Client: c, CacheTTL: DefaultCacheTTL}
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Authenticator) negativeTTL() time.Duration { return min(a.CacheTTL, maxNegativeTTL) }

// headerHash is the cache key of a credential.
func headerHash(h string) string {
	sum := sha256.Sum256([]byte(h))
	return hex.EncodeToString(sum[:])
}

// Authenticate implements httpapi.Authenticator: it asks Label Studio who
// the header's credential is (GET /api/current-user/whoami with the header
// verbatim). It returns an error wrapping auth.ErrNoCredentials for a
// missing header, auth.ErrInvalidToken when Label Studio refuses it, and
// one wrapping ErrUnavailable when Label Studio cannot answer.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (core.Principal, error) {
	h := strings.TrimSpace(authorization)
	if h == "" {
		return core.Principal{}, fmt.Errorf("authenticate: %w: missing Authorization header", auth.ErrNoCredentials)
	}
	hash := headerHash(h)
	now := a.now()
	ans, ok := a.users.get(hash, now)
	if !ok || a.CacheTTL <= 0 {
		u, err := a.Client.WhoAmI(ctx, h)
		switch {
		case errors.Is(err, ErrRefused), errors.Is(err, ErrForbidden):
			ans = userAnswer{refused: true}
			remember(a, &a.users, hash, ans, now, false, h)
		case err != nil:
			return core.Principal{}, fmt.Errorf("authenticate: %w", err)
		default:
			ans = userAnswer{principal: principalOf(u, hash)}
			remember(a, &a.users, hash, ans, now, true, h)
		}
	}
	if ans.refused {
		return core.Principal{}, fmt.Errorf("authenticate: %w: Label Studio refused the token", auth.ErrInvalidToken)
	}
	p := ans.principal
	p.Credential = core.NewCredential(h)
	return p, nil
}

// principalOf is the principal of a Label Studio user. Idempotency keys are
// scoped by its organisation and user; the token id logged is a prefix of
// the header's hash, as the API keys' ids are of theirs.
func principalOf(u User, hash string) core.Principal {
	p := core.Principal{TokenID: "ls-" + hash[:12], User: "ls-user-" + strconv.FormatInt(u.ID, 10)}
	if u.ActiveOrganization != nil {
		p.Organization = "ls-org-" + strconv.FormatInt(*u.ActiveOrganization, 10)
	}
	return p
}

// remember caches v under key: positive answers for CacheTTL (at most until
// a bearer token's own expiry), negative ones for the shorter negativeTTL.
func remember[V any](a *Authenticator, c *ttlCache[V], key string, v V, now time.Time, positive bool, header string) {
	if a.CacheTTL <= 0 {
		return
	}
	until := now.Add(a.negativeTTL())
	if positive {
		until = now.Add(a.CacheTTL)
		if exp, ok := bearerExpiry(header); ok && exp.Before(until) {
			until = exp
		}
	}
	c.put(key, v, until)
}

// Authorize implements core.ProjectAccess. A token holder may manage a
// project Label Studio shows them (GET /api/projects/<id> with their own
// header); one it does not show is forbidden when it exists (asked with the
// service credential) and not found otherwise, as Label Studio's storage
// API answers. A trusted AWS source may manage any project that exists.
func (a *Authenticator) Authorize(ctx context.Context, caller core.Caller, project int64) error {
	now := a.now()
	if caller.Principal == nil {
		key := strconv.FormatInt(project, 10)
		if ans, ok := a.exists.get(key, now); ok && a.CacheTTL > 0 {
			return ans
		}
		return a.serviceProject(ctx, key, project, now)
	}
	h := caller.Principal.Credential.Header()
	if h == "" {
		return &core.PermissionError{TokenID: caller.Principal.TokenID, Project: project}
	}
	hash := headerHash(h)
	key := hash + "/" + strconv.FormatInt(project, 10)
	if ans, ok := a.projects.get(key, now); ok && a.CacheTTL > 0 {
		return ans
	}
	err := a.Client.Project(ctx, h, project)
	var ans error
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		// Hidden from the caller: another organisation's project, or none.
		switch exists := a.serviceProject(ctx, strconv.FormatInt(project, 10), project, now); {
		case exists == nil:
			ans = &core.PermissionError{TokenID: caller.Principal.TokenID, Project: project}
		case errors.Is(exists, core.ErrProjectNotFound):
			ans = exists
		default:
			return exists
		}
	case errors.Is(err, ErrForbidden):
		ans = &core.PermissionError{TokenID: caller.Principal.TokenID, Project: project}
	case errors.Is(err, ErrRefused):
		// Refused since it authenticated: forget the user, so that the
		// next request answers 401.
		a.users.remove(hash)
		ans = &core.PermissionError{TokenID: caller.Principal.TokenID, Project: project}
	default:
		return fmt.Errorf("%w: project %d: %w", core.ErrAccessUnavailable, project, err)
	}
	remember(a, &a.projects, key, ans, now, ans == nil, h)
	return ans
}

// serviceProject asks with the service credential whether project exists.
func (a *Authenticator) serviceProject(ctx context.Context, key string, project int64, now time.Time) error {
	err := a.Client.ServiceProject(ctx, project)
	var ans error
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		ans = fmt.Errorf("project %d: %w", project, core.ErrProjectNotFound)
	case errors.Is(err, ErrForbidden):
		ans = &core.PermissionError{TokenID: "service", Project: project}
	default:
		return fmt.Errorf("%w: project %d: %w", core.ErrAccessUnavailable, project, err)
	}
	remember(a, &a.exists, key, ans, now, ans == nil, "")
	return ans
}

// bearerExpiry returns the "exp" of a "Bearer <JWT>" header's token, read
// without verifying it (Label Studio verifies it; this only stops trusting
// a cached answer after the token's own end).
func bearerExpiry(header string) (time.Time, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return time.Time{}, false
	}
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	return time.Unix(int64(*claims.Exp), 0), true
}
