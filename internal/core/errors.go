package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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

// ErrLinkRefused is returned for a file link whose capability does not
// open the file it names: tampered with, of another storage or path,
// signed with a rotated key, or naming a path outside the storage's prefix.
var ErrLinkRefused = errors.New("the file link is not valid")

// ErrWorkspaceRefused is wrapped when the workspace refuses a storage's
// stored credentials for a file (401, 403) or answers in a way the file
// route does not follow (a redirect): the storage must be fixed.
var ErrWorkspaceRefused = errors.New("the workspace refused the storage's credentials")

// ErrWorkspaceBusy is wrapped when the workspace throttles a file read
// (429): later may succeed.
var ErrWorkspaceBusy = errors.New("the workspace is throttling requests")

// ErrWorkspaceFailed is wrapped when the workspace fails a file read (5xx,
// an unexpected answer, no answer): later may succeed.
var ErrWorkspaceFailed = errors.New("the workspace failed to serve the file")

// WrongFunctionError is returned when an operation reaches a function that
// cannot perform it (a manage operation sent to the create function): the
// sender must send it to the other function, so a retry of the same
// invocation cannot help.
type WrongFunctionError struct {
	// Operation is what was asked: "update", "create", …
	Operation string
	// Creates is true when the operation is a create (sent to the manage
	// function), false when it manages an existing storage (sent to the
	// create function).
	Creates bool
}

func (e *WrongFunctionError) Error() string {
	if e.Creates {
		return fmt.Sprintf("this function does not create storages; send %s to the create function", e.Operation)
	}
	return fmt.Sprintf("this function only creates storages; send %s to the manage function", e.Operation)
}

// PermissionError is returned when the caller may not manage the project.
type PermissionError struct {
	TokenID string
	Project int64
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("token %s may not manage project %d", e.TokenID, e.Project)
}

// Kind is the class of an error of the core (or of decoding a request): what
// the caller must do about it. Every adapter derives its answer from the
// kind: the HTTP API its status code, the event sources whether the event
// is retried or refused for good.
type Kind int

// The kinds of error. KindInternal is the zero value: an error of no known
// kind is a fault of the service, not of the request.
const (
	KindInternal Kind = iota
	KindMalformed
	KindTooLarge
	KindInvalid
	KindForbidden
	KindConnectionRefused
	KindWorkspaceUnavailable
	KindNotFound
	KindConflict
	KindKeyReused
	KindKeyOfDeletedStorage
	KindWrongFunction
	KindPersistence
	KindTimeout
	KindAccessUnavailable
	KindLinkRefused
	KindWorkspaceRefused
	KindWorkspaceBusy
	KindWorkspaceFailed
	KindSyncUnavailable
	KindWebhookRefused
)

// kindSpec is one row of the table of kinds.
type kindSpec struct {
	name string
	// status is the HTTP status of an error of the kind.
	status int
	// retryable is true when the same request may succeed later.
	retryable bool
	// matches reports whether err is of the kind; nil for KindInternal,
	// which is what no other kind matches.
	matches func(err error) bool
}

// kinds is the one table of error kinds: name, HTTP status, whether a
// retry can help, and which errors are of the kind. KindOf tries the rows
// in order, so a more specific kind comes before one its errors may wrap
// (a persistence failure may wrap the context's deadline).
var kinds = [...]kindSpec{
	KindInternal: {"internal", http.StatusInternalServerError, true, nil},
	KindMalformed: {"malformed", http.StatusBadRequest, false, func(err error) bool {
		return errors.Is(err, storage.ErrMalformed)
	}},
	KindTooLarge: {"too_large", http.StatusRequestEntityTooLarge, false, func(err error) bool {
		return errors.Is(err, storage.ErrTooLarge)
	}},
	KindInvalid: {"invalid", http.StatusBadRequest, false, func(err error) bool {
		var v *storage.ValidationError
		return errors.As(err, &v)
	}},
	KindForbidden: {"forbidden", http.StatusForbidden, false, func(err error) bool {
		var p *PermissionError
		return errors.As(err, &p)
	}},
	KindConnectionRefused: {"connection_refused", http.StatusBadRequest, false, func(err error) bool {
		var c *storage.ConnectionError
		return errors.As(err, &c) && !c.Transient()
	}},
	// Label Studio answers every failed connection check with a 400, also
	// one the workspace may answer later; events retry it.
	KindWorkspaceUnavailable: {"workspace_unavailable", http.StatusBadRequest, true, func(err error) bool {
		var c *storage.ConnectionError
		return errors.As(err, &c) && c.Transient()
	}},
	// A missing project is not found where it is what the request reads
	// (a list); a create or validate turns it into a field error first.
	KindNotFound: {"not_found", http.StatusNotFound, false, func(err error) bool {
		return errors.Is(err, ErrNotFound) || errors.Is(err, ErrProjectNotFound)
	}},
	// The update has already been merged again over the other write
	// (maxUpdateAttempts); the sender decides whether to try once more.
	KindConflict: {"conflict", http.StatusConflict, false, func(err error) bool {
		return errors.Is(err, ErrConflict)
	}},
	KindKeyReused: {"idempotency_key_reused", http.StatusUnprocessableEntity, false, func(err error) bool {
		return errors.Is(err, ErrIdempotencyConflict)
	}},
	KindKeyOfDeletedStorage: {"idempotency_key_of_deleted_storage", http.StatusUnprocessableEntity, false, func(err error) bool {
		return errors.Is(err, ErrKeyOfDeletedStorage)
	}},
	KindWrongFunction: {"wrong_function", http.StatusMisdirectedRequest, false, func(err error) bool {
		var w *WrongFunctionError
		return errors.As(err, &w)
	}},
	KindPersistence: {"persistence", http.StatusInternalServerError, true, func(err error) bool {
		return errors.Is(err, ErrPersistence)
	}},
	KindTimeout: {"timeout", http.StatusGatewayTimeout, true, func(err error) bool {
		return errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrAccessUnavailable)
	}},
	// Label Studio could not say who the caller is or what they may see:
	// nothing was done, and the same request may succeed later.
	KindAccessUnavailable: {"access_unavailable", http.StatusServiceUnavailable, true, func(err error) bool {
		return errors.Is(err, ErrAccessUnavailable)
	}},
	// The file route's: a link that opens nothing is forbidden; the
	// workspace's failures are a bad gateway's, for the annotator's
	// browser did nothing wrong.
	KindLinkRefused: {"link_refused", http.StatusForbidden, false, func(err error) bool {
		return errors.Is(err, ErrLinkRefused)
	}},
	KindWorkspaceRefused: {"workspace_refused", http.StatusBadGateway, false, func(err error) bool {
		return errors.Is(err, ErrWorkspaceRefused)
	}},
	KindWorkspaceBusy: {"workspace_busy", http.StatusServiceUnavailable, true, func(err error) bool {
		return errors.Is(err, ErrWorkspaceBusy)
	}},
	KindWorkspaceFailed: {"workspace_failed", http.StatusBadGateway, true, func(err error) bool {
		return errors.Is(err, ErrWorkspaceFailed)
	}},
	// A deployment without Label Studio or a sync queue cannot sync, now
	// or later: Label Studio's 400 for a storage that is not
	// synchronizable.
	// A webhook delivery without the export storage's secret.
	KindWebhookRefused: {"webhook_refused", http.StatusForbidden, false, func(err error) bool {
		return errors.Is(err, ErrWebhookRefused)
	}},
	KindSyncUnavailable: {"sync_unavailable", http.StatusBadRequest, false, func(err error) bool {
		return errors.Is(err, ErrSyncUnavailable)
	}},
}

// Kinds lists every kind, KindInternal first.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i := range kinds {
		out[i] = Kind(i)
	}
	return out
}

// KindOf classifies an error; nil has no kind and is reported as
// KindInternal, which callers never ask about.
func KindOf(err error) Kind {
	if err == nil {
		return KindInternal
	}
	for k, spec := range kinds {
		if spec.matches != nil && spec.matches(err) {
			return Kind(k)
		}
	}
	return KindInternal
}

func (k Kind) spec() kindSpec {
	if k < 0 || int(k) >= len(kinds) {
		return kinds[KindInternal]
	}
	return kinds[k]
}

// String is the kind's stable name (e.g. "not_found"), for logs, records
// and direct-invocation results.
func (k Kind) String() string { return k.spec().name }

// Status is the HTTP status code of an error of the kind.
func (k Kind) Status() int { return k.spec().status }

// Retryable reports whether the same request may succeed later: AWS or the
// workspace failed on their side, time ran out, or the service failed in a
// way it does not know. Every other kind needs the caller to change the
// request.
func (k Kind) Retryable() bool { return k.spec().retryable }

// Transient reports whether the same request may succeed later (see
// Kind.Retryable).
func Transient(err error) bool {
	return err != nil && KindOf(err).Retryable()
}
