// Package apierror renders errors in Label Studio's API error format.
package apierror

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
)

// Body is Label Studio's error envelope. Every API error uses it; field
// problems go under ValidationErrors, everything else only sets Detail.
type Body struct {
	ID               string              `json:"id"`
	StatusCode       int                 `json:"status_code"`
	Version          string              `json:"version"`
	Detail           string              `json:"detail"`
	ExcInfo          *string             `json:"exc_info"`
	ValidationErrors map[string][]string `json:"validation_errors,omitempty"`
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
