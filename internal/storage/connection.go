package storage

import (
	"errors"
	"time"
)

// Connection is what the connection check needs to reach a volume.
type Connection struct {
	Host     string
	AuthType AuthType
	ClientID string
	TenantID string
	Secrets  Secrets
	Catalog  string
	Schema   string
	Volume   string
	// Prefix is the path under the volume, empty for the volume itself.
	Prefix    string
	VerifyTLS bool
	Timeout   time.Duration
}

// Connection returns what the connection check needs of the request.
func (r Request) Connection() Connection {
	return Connection{
		Host:      r.Host,
		AuthType:  r.AuthType,
		ClientID:  deref(r.ClientID),
		TenantID:  deref(r.TenantID),
		Secrets:   r.Secrets,
		Catalog:   r.Catalog,
		Schema:    r.Schema,
		Volume:    r.Volume,
		Prefix:    deref(r.Prefix),
		VerifyTLS: r.VerifyTLS,
		Timeout:   time.Duration(r.RequestTimeoutS) * time.Second,
	}
}

// ConnectionError is a connection-check failure the caller can fix: bad
// credentials, a missing volume, an unreachable workspace.
type ConnectionError struct {
	// Reason is a stable machine-readable cause, e.g. "credentials_refused".
	Reason string
	// Message is a human-readable explanation that never holds a secret.
	Message string
	// Err is the underlying error, for logs; it must not hold a secret either.
	Err error
}

func (e *ConnectionError) Error() string { return e.Message }

// Reasons of connection failures that a later retry may cure. The checker
// uses these constants; Transient compares against them.
const (
	ReasonTimedOut       = "timed_out"
	ReasonWorkspaceError = "workspace_error"
)

// Transient reports whether retrying later may succeed: the workspace timed
// out or failed on its side. Everything else needs the caller to change the
// request.
func (e *ConnectionError) Transient() bool {
	return e.Reason == ReasonTimedOut || e.Reason == ReasonWorkspaceError
}

// Unwrap returns the underlying error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// ErrRecordNotFound is wrapped by repositories when a record does not exist.
var ErrRecordNotFound = errors.New("storage record not found")

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// File is an object a sync would import, as the files preview lists it.
type File struct {
	Key          string     `json:"key"`
	LastModified *time.Time `json:"last_modified"`
	Size         *int64     `json:"size"`
}

// FileListing is what a listing found, and why it stopped early, if it did.
type FileListing struct {
	Files []File
	// LimitReached is true when more files may follow the last one.
	LimitReached bool
	// TimedOut is true when the listing ran out of time.
	TimedOut bool
}
