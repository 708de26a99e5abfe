package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// ProjectAccess decides whether a caller may manage the storages of a
// project. It returns nil, an error wrapping ErrProjectNotFound (the
// project does not exist, or not for this caller), a *PermissionError (it
// exists but the caller may not manage it), or an error wrapping
// ErrAccessUnavailable (no answer could be had; retry later).
//
// ListedProjects is the one of the service's own API keys; package
// labelstudio asks a Label Studio.
type ProjectAccess interface {
	Authorize(ctx context.Context, caller Caller, project int64) error
}

// ErrProjectNotFound is wrapped by a ProjectAccess for a project that does
// not exist. A create or validate answers it as Label Studio's serializer
// does (400 on "project"); reads answer 404.
var ErrProjectNotFound = errors.New("project not found")

// ErrAccessUnavailable is wrapped by a ProjectAccess that could not get an
// answer (Label Studio unreachable); nothing was done and a retry may work.
var ErrAccessUnavailable = errors.New("project access could not be checked")

// ListedProjects is the ProjectAccess of the service's own API keys: a key
// holder may manage the projects its key lists; trusted AWS sources may
// manage every project (the service knows no list of projects).
type ListedProjects struct{}

// Authorize implements ProjectAccess.
func (ListedProjects) Authorize(_ context.Context, caller Caller, project int64) error {
	return caller.authorize(project)
}

// orListed is pa, or ListedProjects when none is configured.
func orListed(pa ProjectAccess) ProjectAccess {
	if pa != nil {
		return pa
	}
	return ListedProjects{}
}

// authorizeNew checks access to the project of a storage to be created (or
// validated): a missing project is a field error, as Label Studio's
// serializer answers a primary key that names nothing.
func authorizeNew(ctx context.Context, pa ProjectAccess, caller Caller, project int64) error {
	err := orListed(pa).Authorize(ctx, caller, project)
	if errors.Is(err, ErrProjectNotFound) {
		return &storage.ValidationError{Fields: map[string][]string{
			"project": {fmt.Sprintf("Invalid pk \"%d\" - object does not exist.", project)},
		}}
	}
	return err
}

// authorizeList checks access to a project whose storages are listed: a
// missing project is not found (Label Studio: 404 "No Project matches the
// given query.").
func authorizeList(ctx context.Context, pa ProjectAccess, caller Caller, project int64) error {
	err := orListed(pa).Authorize(ctx, caller, project)
	if errors.Is(err, ErrProjectNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// authorizeExisting checks access to the project of a stored storage. A
// storage of a project that no longer exists, or that the caller may not
// manage, is not found, as a missing id is: the answer must not confirm
// that the id exists, nor name its project (Label Studio too filters what
// a caller may see). The real reason stays in the error's text for the
// log line.
func authorizeExisting(ctx context.Context, pa ProjectAccess, caller Caller, id, project int64) error {
	err := orListed(pa).Authorize(ctx, caller, project)
	var perm *PermissionError
	if errors.Is(err, ErrProjectNotFound) || errors.As(err, &perm) {
		return fmt.Errorf("storage %d (%v): %w", id, err, ErrNotFound)
	}
	return err
}

// Credential is a caller's Authorization header, kept so that a
// ProjectAccess can ask on the caller's behalf (Label Studio decides what
// its tokens may see). It never prints, logs or marshals its value.
type Credential struct{ header string }

// NewCredential wraps an Authorization header value.
func NewCredential(header string) Credential { return Credential{header: header} }

// Header returns the Authorization header value, to send to the party
// that issued it and nowhere else.
func (c Credential) Header() string { return c.header }

const redacted = "[credential]"

// String implements fmt.Stringer without the value.
func (c Credential) String() string { return redacted }

// GoString implements fmt.GoStringer without the value.
func (c Credential) GoString() string { return redacted }

// LogValue implements slog.LogValuer without the value.
func (c Credential) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler without the value.
func (c Credential) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
