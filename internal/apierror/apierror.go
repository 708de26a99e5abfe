// Package apierror renders errors in Label Studio's API error format.
package apierror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Body is Label Studio's error envelope. Every API error uses it; field
// problems go under ValidationErrors, everything else only sets Detail.
type Body struct {
	ID               string      `json:"id"`
	StatusCode       int         `json:"status_code"`
	Version          string      `json:"version"`
	Detail           string      `json:"detail"`
	ExcInfo          *string     `json:"exc_info"`
	ValidationErrors FieldErrors `json:"validation_errors,omitempty"`
}

// FieldErrors are the problems of a request, field name → messages. They
// render in the order Label Studio lists them (storage.SortFieldNames),
// not sorted; they decode as any map does.
type FieldErrors map[string][]string

// MarshalJSON renders the fields in Label Studio's order.
func (f FieldErrors) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	names := make([]string, 0, len(f))
	for name := range f {
		names = append(names, name)
	}
	storage.SortFieldNames(names)
	var out bytes.Buffer
	out.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			out.WriteByte(',')
		}
		key, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		msgs, err := json.Marshal(f[name])
		if err != nil {
			return nil, err
		}
		out.Write(key)
		out.WriteByte(':')
		out.Write(msgs)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// New builds an error body with a fresh error id.
func New(status int, version, detail string, fields map[string][]string) Body {
	if detail == "" {
		detail = http.StatusText(status)
	}
	return Body{
		ID:               uuid.NewString(),
		StatusCode:       status,
		Version:          version,
		Detail:           detail,
		ValidationErrors: fields,
	}
}

// JSON encodes the body. It cannot fail for this type; the error is dropped
// deliberately so callers always have a body to send.
func (b Body) JSON() []byte {
	out, _ := json.Marshal(b)
	return out
}

// For maps an error of the core (or of decoding a request) to the status
// code, detail and field errors Label Studio would answer with. The status
// is the kind's (core.Kind, declared once in the core); the texts are the
// service's own: an error of unknown kind says nothing of its cause, which
// may hold internal names.
func For(err error) (status int, detail string, fields map[string][]string) {
	kind := core.KindOf(err)
	detail, fields = detailOf(kind, err)
	return kind.Status(), detail, fields
}

// detailOf is the detail and field errors of an error of the kind.
func detailOf(kind core.Kind, err error) (detail string, fields map[string][]string) {
	var validation *storage.ValidationError
	var connection *storage.ConnectionError
	var permission *core.PermissionError
	switch kind {
	case core.KindMalformed:
		return err.Error(), nil
	case core.KindTooLarge:
		return fmt.Sprintf("Request body is too large: the limit is %d bytes.", storage.MaxRequestBytes), nil
	case core.KindInvalid:
		errors.As(err, &validation)
		return "Validation error", validation.Fields
	case core.KindForbidden:
		errors.As(err, &permission)
		return fmt.Sprintf("You do not have permission to perform this action: this token may not manage project %d.", permission.Project), nil
	case core.KindConnectionRefused, core.KindWorkspaceUnavailable:
		errors.As(err, &connection)
		return connection.Message, map[string][]string{"non_field_errors": {connection.Message}}
	case core.KindNotFound:
		if errors.Is(err, core.ErrProjectNotFound) {
			// Label Studio's answer for a project id that names nothing.
			return "No Project matches the given query.", nil
		}
		return "Not found.", nil
	case core.KindConflict:
		return "The storage was changed by another request at the same time; nothing of this request was saved. Retry it.", nil
	case core.KindKeyOfDeletedStorage:
		return "The storage this Idempotency-Key created has been deleted since. Use a new key for a new request.", nil
	case core.KindKeyReused:
		return "This Idempotency-Key was already used with a different request. Use a new key for a new request.", nil
	case core.KindWrongFunction:
		var wrong *core.WrongFunctionError
		errors.As(err, &wrong)
		// The message names the operation and where to send it.
		return wrong.Error() + ".", nil
	case core.KindLinkRefused:
		return "This file link is not valid: it was changed, is for another file, or its storage's file key was rotated.", nil
	case core.KindWorkspaceRefused:
		return "The Databricks workspace refused this storage's credentials for the file; the storage's settings must be fixed.", nil
	case core.KindWorkspaceBusy:
		return "The Databricks workspace is throttling requests; retry later.", nil
	case core.KindWorkspaceFailed:
		return "The Databricks workspace failed to serve the file; retry later.", nil
	case core.KindAccessUnavailable:
		return "Label Studio could not be asked whether this caller may manage the project; nothing was changed. Retry later.", nil
	case core.KindWebhookRefused:
		return "This webhook delivery is not valid: it does not carry the export storage's secret.", nil
	case core.KindSyncUnavailable:
		return "This storage is not synchronizable here: this deployment has no Label Studio to import into or export from (LABEL_STUDIO_URL), or no sync or export queue (SYNC_QUEUE_URL, EXPORT_QUEUE_URL).", nil
	case core.KindTimeout:
		return "The request took too long and was abandoned; nothing was stored. Retry later.", nil
	default:
		return "Internal server error: the storage could not be saved and nothing was stored. Retry later.", nil
	}
}

// KindDetail is the detail of an error of kind that carries nothing of
// its own (the file route's kinds, not found, timeouts).
func KindDetail(kind core.Kind) string {
	detail, _ := detailOf(kind, nil)
	return detail
}

// FromError builds the error body of err (see For).
func FromError(err error, version string) Body {
	status, detail, fields := For(err)
	return New(status, version, detail, fields)
}
