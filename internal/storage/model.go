// Package storage holds the domain of Databricks import storages: the request
// model, its validation and the connection a check needs. It knows nothing of Lambda,
// API Gateway or AWS; the use cases are in package core.
package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// AuthType selects how the service authenticates to the Databricks workspace.
type AuthType string

// The authentication modes Label Studio offers for Databricks.
const (
	AuthPAT          AuthType = "pat"
	AuthDatabricksSP AuthType = "dbx_sp"
	AuthAzureADSP    AuthType = "azure_ad_sp"
)

// StorageType is the read-only `type` of every storage this service creates.
const StorageType = "databricks"

// Defaults the server fills in for fields a request leaves out.
const (
	DefaultAuthType         = AuthPAT
	DefaultRequestTimeoutS  = 10
	MaxRequestTimeoutS      = 20
	DefaultStreamChunkBytes = 8 << 20
	MinStreamChunkBytes     = 1 << 10
	MaxStreamChunkBytes     = 64 << 20
	DefaultPresignTTL       = 1
	MaxPresignTTL           = 10080
	DefaultStatus           = "initialized"
)

// Settings are the non-secret fields of a storage: what a request may set and
// what the response and the stored record carry.
type Settings struct {
	Project          int64           `json:"project"`
	Host             string          `json:"host"`
	Catalog          string          `json:"catalog"`
	Schema           string          `json:"schema"`
	Volume           string          `json:"volume"`
	Prefix           *string         `json:"prefix"`
	RegexFilter      *string         `json:"regex_filter"`
	AuthType         AuthType        `json:"auth_type"`
	ClientID         *string         `json:"client_id"`
	TenantID         *string         `json:"tenant_id"`
	RecursiveScan    bool            `json:"recursive_scan"`
	UseBlobURLs      bool            `json:"use_blob_urls"`
	VerifyTLS        bool            `json:"verify_tls"`
	RequestTimeoutS  int64           `json:"request_timeout_s"`
	StreamChunkBytes int64           `json:"stream_chunk_bytes"`
	Presign          bool            `json:"presign"`
	PresignTTL       int64           `json:"presign_ttl"`
	Synchronizable   bool            `json:"synchronizable"`
	Status           string          `json:"status"`
	Title            *string         `json:"title"`
	Description      *string         `json:"description"`
	LastSync         *time.Time      `json:"last_sync"`
	LastSyncCount    *int64          `json:"last_sync_count"`
	LastSyncJob      *string         `json:"last_sync_job"`
	Meta             json.RawMessage `json:"meta"`
	Traceback        *string         `json:"traceback"`
}

// Secrets are the write-only credentials of a storage. They never leave the
// service except towards Databricks and Secrets Manager; every rendering of
// them is redacted so a stray log or marshal cannot leak them.
type Secrets struct {
	Token        string
	ClientSecret string
}

const redacted = "[REDACTED]"

// String implements fmt.Stringer without revealing the values.
func (Secrets) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the values.
func (Secrets) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb (%d, %t, %x …), not
// only those that use String and GoString, renders the redaction marker.
func (Secrets) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON renders the secrets as a redaction marker.
func (Secrets) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// Values returns the secrets that were given, keyed by their request field
// name, for storing in the secret store.
func (s Secrets) Values() map[string]string {
	out := make(map[string]string, 2)
	if s.Token != "" {
		out["token"] = s.Token
	}
	if s.ClientSecret != "" {
		out["client_secret"] = s.ClientSecret
	}
	return out
}

// MaxRequestBytes is the largest request body accepted (64 KiB), whatever
// the source.
const MaxRequestBytes = 64 << 10

// ErrTooLarge is returned for a request body over MaxRequestBytes.
var ErrTooLarge = errors.New("request body is too large")

// Request is a validated create or validate request.
type Request struct {
	Settings
	Secrets Secrets `json:"-"`
}

// Storage is a created storage as the API returns it: the settings plus the
// read-only fields, never the secrets.
type Storage struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Settings
}

// Record is what the repository keeps for a storage: the storage, the
// reference to its secret, and its revision.
type Record struct {
	Storage
	SecretARN string
	// Revision counts the writes of the record (1 after the create); an
	// update names the revision it read, so that no write is lost.
	Revision int64
}
