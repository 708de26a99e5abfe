// Package storage holds the domain of Databricks import storages: the request
// model, its validation and the connection a check needs. It knows nothing of Lambda,
// API Gateway or AWS; the use cases are in package core.
package storage

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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

// StorageType is the read-only `type` of every storage this service creates
// (Label Studio names import and export storages of a type alike).
const StorageType = "databricks"

// Kind tells Label Studio's two storages of a type apart: an import
// (source) storage, whose files become tasks, and an export (target)
// storage, into which annotations are written. They share the connection
// fields and their rules; each has a few fields of its own (importOnly,
// exportOnly), its own ids and its own records and secrets.
type Kind int

// The kinds. The zero value is the import storage, the service's first.
const (
	KindImport Kind = iota
	KindExport
)

// String names the kind as logs and messages do.
func (k Kind) String() string {
	if k == KindExport {
		return "export"
	}
	return "import"
}

// importOnly and exportOnly are the request fields of one kind only; a
// body's field of the other kind is ignored, as Django REST framework
// ignores fields its serializer does not declare.
var (
	importOnly = []string{"presign", "presign_ttl", "recursive_scan"}
	exportOnly = []string{"can_delete_objects"}
)

// Takes reports whether storages of the kind have the field: every field
// of Settings but the other kind's own.
func (k Kind) Takes(field string) bool {
	other := exportOnly
	if k == KindExport {
		other = importOnly
	}
	return !slices.Contains(other, field)
}

// Defaults the server fills in for fields a request leaves out.
const (
	DefaultAuthType         = AuthPAT
	DefaultRequestTimeoutS  = 10
	MaxRequestTimeoutS      = 20
	DefaultStreamChunkBytes = 8 << 20
	MinStreamChunkBytes     = 1 << 10
	MaxStreamChunkBytes     = 64 << 20
	DefaultPresignTTL       = 1
	MinPresignTTL           = 0     // Label Studio's PositiveSmallIntegerField,
	MaxPresignTTL           = 32767 // on PostgreSQL
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
	// CanDeleteObjects (export storages only) deletes an annotation's file
	// when the annotation is deleted. Omitted when false, so that import
	// storages' items and idempotency fingerprints are what they were.
	CanDeleteObjects bool `json:"can_delete_objects,omitempty"`
	// Kind is set by the decoder of the route a request came by, and by the
	// repository from the record: never from a body.
	Kind Kind `json:"-"`
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
//
// Its JSON (MarshalJSON) is Label Studio's: the fields in the serializer's
// order, times as Django REST framework renders them, and meta {} when none
// was stored. A type that embeds Storage renders as the storage alone.
// Settings keeps encoding/json's plain rendering (the idempotency
// fingerprint hashes it), and the DynamoDB item mapping, which reads the
// json tags but not MarshalJSON, keeps RFC 3339 times.
type Storage struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Settings
}

// fieldOrder is the order in which Label Studio's DatabricksImportStorage
// (and DatabricksExportStorage) serializer declares the fields of a request: Django REST framework
// renders a storage, and lists the problems of a request, in this order.
// (The read-only id comes first in a storage and is no request field.)
var fieldOrder = []string{
	"type", "synchronizable", "presign", "last_sync", "last_sync_count", "last_sync_job",
	"status", "traceback", "meta", "title", "description", "created_at", "project",
	// An export storage's own field: its model declares it after the
	// project, before the Databricks fields (a guess at Label Studio
	// Enterprise's order; the SDK's type lists fields alphabetically).
	"can_delete_objects", "host",
	"catalog", "schema", "volume", "prefix", "regex_filter", "auth_type", "token", "client_id",
	"client_secret", "tenant_id", "recursive_scan", "use_blob_urls", "verify_tls",
	"request_timeout_s", "stream_chunk_bytes", "presign_ttl",
}

// nonFieldErrors is the key of the problems that belong to no single field.
const nonFieldErrors = "non_field_errors"

var fieldRanks = func() map[string]int {
	ranks := make(map[string]int, len(fieldOrder))
	for i, name := range fieldOrder {
		ranks[name] = i
	}
	return ranks
}()

func fieldRank(name string) int {
	if rank, ok := fieldRanks[name]; ok {
		return rank
	}
	if name == nonFieldErrors {
		return len(fieldOrder) + 1
	}
	return len(fieldOrder)
}

// SortFieldNames orders field names as Label Studio lists them: the
// serializer's fields in their declared order, then any other names
// alphabetically (id, limit …), then non_field_errors.
func SortFieldNames(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(fieldRank(a), fieldRank(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

// Layouts of Django REST framework's datetime rendering (Python's
// isoformat in UTC, with Z for +00:00).
const (
	layoutMicroseconds = "2006-01-02T15:04:05.000000Z"
	layoutSeconds      = "2006-01-02T15:04:05Z"
)

// MarshalJSON renders the storage as Label Studio does: the fields in the
// serializer's order (id first), created_at with six fractional digits,
// last_sync with six when its microseconds are not zero and none when they
// are, and meta {} when none is stored. One encoding of wire, whose fields
// are in that order.
func (s Storage) MarshalJSON() ([]byte, error) {
	w := wire{
		ID: s.ID, Type: s.Type, Synchronizable: s.Synchronizable, Presign: s.Presign,
		LastSyncCount: s.LastSyncCount, LastSyncJob: s.LastSyncJob, Status: s.Status, Traceback: s.Traceback,
		Meta: s.Meta, Title: s.Title, Description: s.Description, CreatedAt: s.CreatedAt.UTC().Format(layoutMicroseconds),
		Project: s.Project, Host: s.Host, Catalog: s.Catalog, Schema: s.Schema, Volume: s.Volume, Prefix: s.Prefix,
		RegexFilter: s.RegexFilter, AuthType: s.AuthType, ClientID: s.ClientID, TenantID: s.TenantID,
		RecursiveScan: s.RecursiveScan, UseBlobURLs: s.UseBlobURLs, VerifyTLS: s.VerifyTLS,
		RequestTimeoutS: s.RequestTimeoutS, StreamChunkBytes: s.StreamChunkBytes, PresignTTL: s.PresignTTL,
	}
	if s.LastSync != nil {
		t := s.LastSync.UTC()
		layout := layoutSeconds
		if t.Nanosecond()/int(time.Microsecond) != 0 {
			layout = layoutMicroseconds
		}
		rendered := t.Format(layout)
		w.LastSync = &rendered
	}
	if len(w.Meta) == 0 {
		w.Meta = json.RawMessage("{}")
	}
	if s.Kind == KindExport {
		return json.Marshal(exportWire{
			ID: w.ID, Type: w.Type, Synchronizable: w.Synchronizable, LastSync: w.LastSync,
			LastSyncCount: w.LastSyncCount, LastSyncJob: w.LastSyncJob, Status: w.Status, Traceback: w.Traceback,
			Meta: w.Meta, Title: w.Title, Description: w.Description, CreatedAt: w.CreatedAt, Project: w.Project,
			CanDeleteObjects: s.CanDeleteObjects, Host: w.Host, Catalog: w.Catalog, Schema: w.Schema, Volume: w.Volume,
			Prefix: w.Prefix, RegexFilter: w.RegexFilter, AuthType: w.AuthType, ClientID: w.ClientID,
			TenantID: w.TenantID, UseBlobURLs: w.UseBlobURLs, VerifyTLS: w.VerifyTLS,
			RequestTimeoutS: w.RequestTimeoutS, StreamChunkBytes: w.StreamChunkBytes,
		})
	}
	return json.Marshal(w)
}

// exportWire is an export storage as MarshalJSON renders it: wire without
// the import storage's own fields (importOnly), with the export storage's
// (exportOnly), in the order of fieldOrder.
// TestWireHasEveryStorageFieldInSerializerOrder keeps it in step.
type exportWire struct {
	ID               int64           `json:"id"`
	Type             string          `json:"type"`
	Synchronizable   bool            `json:"synchronizable"`
	LastSync         *string         `json:"last_sync"`
	LastSyncCount    *int64          `json:"last_sync_count"`
	LastSyncJob      *string         `json:"last_sync_job"`
	Status           string          `json:"status"`
	Traceback        *string         `json:"traceback"`
	Meta             json.RawMessage `json:"meta"`
	Title            *string         `json:"title"`
	Description      *string         `json:"description"`
	CreatedAt        string          `json:"created_at"`
	Project          int64           `json:"project"`
	CanDeleteObjects bool            `json:"can_delete_objects"`
	Host             string          `json:"host"`
	Catalog          string          `json:"catalog"`
	Schema           string          `json:"schema"`
	Volume           string          `json:"volume"`
	Prefix           *string         `json:"prefix"`
	RegexFilter      *string         `json:"regex_filter"`
	AuthType         AuthType        `json:"auth_type"`
	ClientID         *string         `json:"client_id"`
	TenantID         *string         `json:"tenant_id"`
	UseBlobURLs      bool            `json:"use_blob_urls"`
	VerifyTLS        bool            `json:"verify_tls"`
	RequestTimeoutS  int64           `json:"request_timeout_s"`
	StreamChunkBytes int64           `json:"stream_chunk_bytes"`
}

// wire is an import storage as MarshalJSON renders it: every field of
// Storage but exportOnly under its json name, in the order of fieldOrder (id first), times as
// text. TestWireHasEveryStorageFieldInSerializerOrder keeps it in step
// with Storage and fieldOrder.
type wire struct {
	ID               int64           `json:"id"`
	Type             string          `json:"type"`
	Synchronizable   bool            `json:"synchronizable"`
	Presign          bool            `json:"presign"`
	LastSync         *string         `json:"last_sync"`
	LastSyncCount    *int64          `json:"last_sync_count"`
	LastSyncJob      *string         `json:"last_sync_job"`
	Status           string          `json:"status"`
	Traceback        *string         `json:"traceback"`
	Meta             json.RawMessage `json:"meta"`
	Title            *string         `json:"title"`
	Description      *string         `json:"description"`
	CreatedAt        string          `json:"created_at"`
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
	PresignTTL       int64           `json:"presign_ttl"`
}

// Record is what the repository keeps for a storage: the storage, the
// reference to its secret and to the version of that secret it goes with,
// and its revision.
type Record struct {
	Storage
	SecretARN string
	// SecretVersionID is the version of the secret this record goes with:
	// every reader of the credentials reads this version, never whichever
	// version is current, so that a record and its credentials are written
	// together by the one conditional record write. Empty in records
	// written before records named their version; their credentials are
	// the secret's current version (AWSCURRENT). An id, not a secret.
	SecretVersionID string
	// Revision counts the writes of the record (1 after the create); an
	// update names the revision it read, so that no write is lost.
	Revision int64
}
