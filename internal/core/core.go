// Package core holds the service's use cases: create and validate a
// Databricks import storage, and read, list, update and delete one. Every
// caller — the HTTP API, SQS, EventBridge, direct invocations, the commands
// under internal/dev/cmd — enters through the typed methods of a Creator or
// a Manager. Adapters translate requests into these calls and typed errors
// (see Kind) into their own contracts; the core knows nothing of Lambda,
// HTTP or AWS.
//
// What a function may do is its type: the create function holds only a
// Creator, whose ports cannot read, version or delete an existing secret,
// so it cannot even express a manage operation; the manage function holds
// a Manager.
//
// The ports the core needs (records, secrets, ids, idempotency keys, the
// connection check) are the small interfaces in ports.go.
package core

import (
	"context"
	"log/slog"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Creator creates storages: the create function's use cases.
type Creator struct {
	Checker ConnectionChecker
	Secrets SecretStore
	Records Repository
	IDs     IDAllocator
	// Projects decides who may manage which project's storages;
	// ListedProjects (the API keys' lists) when nil.
	Projects ProjectAccess
	// Keys keeps idempotency keys; needed only for creates with a key.
	Keys IdempotencyStore
	// Hooks runs a kind of storage's own steps of a create (an export
	// storage's webhook); nil for none.
	Hooks StorageHooks
	// KeyTTL is how long an idempotency key is remembered
	// (DefaultIdempotencyTTL when zero).
	KeyTTL time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger receives workflow events; slog.Default when nil.
	Logger *slog.Logger
}

// Manager reads, lists, updates, validates and deletes existing storages:
// the manage function's use cases.
type Manager struct {
	Checker ConnectionChecker
	Records Records
	// Projects decides who may manage which project's storages;
	// ListedProjects (the API keys' lists) when nil.
	Projects ProjectAccess
	// Vault reads, versions and deletes the storages' secrets.
	Vault SecretVault
	// Files lists a storage's objects for the files preview.
	Files FileLister
	// Syncs keeps the storages' syncs and links, and SyncQueue starts
	// syncs; nil where the function does not sync.
	Syncs     SyncStore
	SyncQueue SyncQueue
	// Exporter starts the syncs of export storages (Sync then exports
	// instead of importing); nil for import storages.
	Exporter *Exporter
	// Hooks runs a kind of storage's own steps of a delete (an export
	// storage's webhook); nil for none.
	Hooks StorageHooks
	// SyncStaleAfter is DefaultSyncStaleAfter when zero.
	SyncStaleAfter time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger receives workflow events; slog.Default when nil.
	Logger *slog.Logger
}

// Validate checks that the caller may manage the project and that the
// connection works; it saves nothing.
func (s *Creator) Validate(ctx context.Context, caller Caller, req storage.Request) error {
	return validate(ctx, s.Checker, s.Projects, caller, req)
}

// Validate checks that the caller may manage the project and that the
// connection works; it saves nothing.
func (s *Manager) Validate(ctx context.Context, caller Caller, req storage.Request) error {
	return validate(ctx, s.Checker, s.Projects, caller, req)
}

func validate(ctx context.Context, checker ConnectionChecker, pa ProjectAccess, caller Caller, req storage.Request) error {
	if err := authorizeNew(ctx, pa, caller, req.Project); err != nil {
		return err
	}
	return check(ctx, checker, req)
}

func (s *Creator) check(ctx context.Context, req storage.Request) error {
	return check(ctx, s.Checker, req)
}

func (s *Manager) check(ctx context.Context, req storage.Request) error {
	return check(ctx, s.Checker, req)
}

func check(ctx context.Context, checker ConnectionChecker, req storage.Request) error {
	if checker == nil {
		return nil
	}
	return checker.CheckConnection(ctx, req.Connection())
}

func (s *Creator) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Creator) logger() *slog.Logger { return loggerOr(s.Logger) }

func (s *Manager) logger() *slog.Logger { return loggerOr(s.Logger) }

func loggerOr(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}
