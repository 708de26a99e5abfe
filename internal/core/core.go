// Package core holds the service's use cases: create and validate a
// Databricks import storage (and, later, read, list, update and delete
// one). Every caller — the HTTP API, SQS, EventBridge, direct invocations,
// the commands under cmd/ — enters through the typed methods of Service.
// Adapters translate requests into these calls and typed errors into their
// own contracts; the core knows nothing of Lambda, HTTP or AWS.
//
// The ports the core needs (records, secrets, ids, idempotency keys, the
// connection check) are the small interfaces in ports.go.
package core

import (
	"log/slog"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Service runs the storage use cases.
type Service struct {
	Checker ConnectionChecker
	Secrets SecretStore
	Records Records
	IDs     IDAllocator
	// Vault reads, versions and deletes existing secrets; nil in the create
	// function, whose role may not.
	Vault SecretVault
	// Files lists a storage's objects for the files preview.
	Files FileLister
	// Decoder validates merged updates with the create's rules.
	Decoder storage.Decoder
	// Projects decides who may manage which project's storages;
	// ListedProjects (the API keys' lists) when nil.
	Projects ProjectAccess
	// Keys keeps idempotency keys; needed only for creates with a key.
	Keys IdempotencyStore
	// KeyTTL is how long an idempotency key is remembered
	// (DefaultIdempotencyTTL when zero).
	KeyTTL time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger receives workflow events; slog.Default when nil.
	Logger *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
