package labelstudio

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// DefaultCredentialMaxAge is how long a read service credential is used
// before it is read again: a rotated secret reaches every warm instance
// within it, at one Secrets Manager call per instance per period.
const DefaultCredentialMaxAge = 5 * time.Minute

// SecretCredential is the service credential kept in a secret. It is read
// on first need, reused for MaxAge, and read again sooner when Label Studio
// refuses it. It is safe for concurrent use; concurrent first reads wait
// for one fetch.
type SecretCredential struct {
	// Fetch reads the secret's value: a Label Studio legacy API token, or a
	// whole Authorization header value ("Token …" or "Bearer …").
	Fetch func(ctx context.Context) (string, error)
	// MaxAge bounds how long a value is reused (DefaultCredentialMaxAge
	// when zero).
	MaxAge time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	header  string
	fetched time.Time
}

// errEmptySecret is returned for a secret with no token in it.
var errEmptySecret = errors.New("the Label Studio credential secret is empty")

// Authorization implements CredentialSource.
func (s *SecretCredential) Authorization(ctx context.Context) (string, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	maxAge := s.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultCredentialMaxAge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.header != "" && now.Sub(s.fetched) < maxAge {
		return s.header, nil
	}
	v, err := s.Fetch(ctx)
	if err != nil {
		// The error is the store's (a name, an AWS error code), never the
		// value.
		return "", err
	}
	h := AuthorizationFor(v)
	if h == "" {
		return "", errEmptySecret
	}
	s.header, s.fetched = h, now
	return h, nil
}

// Invalidate implements CredentialSource.
func (s *SecretCredential) Invalidate() {
	s.mu.Lock()
	s.header = ""
	s.mu.Unlock()
}

// AuthorizationFor turns a stored credential into an Authorization header
// value: a value that names its scheme is used as it is, a bare token is a
// legacy API token ("Token <value>"). Empty for an empty value.
func AuthorizationFor(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	scheme, _, found := strings.Cut(v, " ")
	if found && (strings.EqualFold(scheme, "Token") || strings.EqualFold(scheme, "Bearer")) {
		return v
	}
	return "Token " + v
}

// StaticCredential is a fixed Authorization header value (tests, tools).
type StaticCredential string

// Authorization implements CredentialSource.
func (s StaticCredential) Authorization(context.Context) (string, error) {
	if s == "" {
		return "", errEmptySecret
	}
	return string(s), nil
}

// Invalidate implements CredentialSource; a fixed value cannot be re-read.
func (StaticCredential) Invalidate() {}

// NewServiceClient is a client of the Label Studio at baseURL whose
// service credential fetch reads on first need (a SecretCredential).
func NewServiceClient(baseURL string, fetch func(ctx context.Context) (string, error)) *Client {
	return &Client{BaseURL: baseURL, Service: &SecretCredential{Fetch: fetch}}
}
