// Package app wires the storage functions together from their
// configuration (package config): the AWS clients (package awsclients), the
// stores, the connection checker and the event dispatcher. The Lambda's main
// and the local server share it, so both run the same code.
package app

import (
	"cmp"
	"context"
	"crypto/x509"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// App is the wired service.
type App struct {
	Dispatcher *eventsource.Dispatcher
	HTTP       *httpapi.Handler
	// Creator creates storages; nil in the manage function.
	Creator *core.Creator
	// Manager manages existing storages; nil in the create function.
	Manager *core.Manager
	// ExportCreator and ExportManager are Creator and Manager for export
	// storages: the same core over the export storages' records, ids and
	// secrets (ExportStore, ExportSecrets).
	ExportCreator *core.Creator
	ExportManager *core.Manager
	Store         *dynamostore.Store
	Secrets       *secretstore.Store
	ExportStore   *dynamostore.Store
	ExportSecrets *secretstore.Store
	Tokens        *tokenstore.Store
	AWS           aws.Config
}

// Options are the parts New takes from its caller instead of building them.
type Options struct {
	// Checker checks connections; nil means the Databricks checker built
	// from the configuration.
	Checker core.ConnectionChecker
	// RootCAs are the certificate authorities trusted for workspaces and the
	// Azure authority; nil means the system's.
	RootCAs *x509.CertPool
	// Role is what the service may do: the create function's, the manage
	// function's, or (the zero value, for the local server and the tests)
	// both.
	Role Role
	// Version is reported in error bodies.
	Version string
	// OpenAPI is the document the HTTP API serves (openapi.Document):
	// given by the manage function, so that the create function does not
	// carry it.
	OpenAPI []byte
	// Sync builds the syncs' store and queue (syncqueue.Parts): given by
	// the functions that start syncs, so that the create function links
	// neither an SQS client nor DynamoDB's batch operations. Nil: no sync.
	Sync func(cfg aws.Config, table, queueURL string) (core.SyncStore, core.SyncQueue)
	// Export builds the export storages' syncs and annotation records
	// (one dynamostore.Syncs, Export set) and the export queue
	// (syncqueue.ExportParts): given by the function that takes webhook
	// deliveries and starts export syncs (the manage function). Nil: no
	// webhook intake and no export sync.
	// (Interfaces, not the store's type: converted there, the store's
	// methods are linked only into the functions that give it.)
	Export func(cfg aws.Config, table, queueURL string) (core.ExportState, core.ExportQueue)
}

// Role is what a function may do. Each function builds only the part of
// the core its IAM role allows, so an operation it may not do is refused
// for good with where to send it, never attempted and failed as a
// retryable error.
type Role int

// The roles.
const (
	// RoleAll creates and manages: the local server and the tests.
	RoleAll Role = iota
	// RoleCreate creates (the create function): it never reads, versions
	// or deletes an existing secret.
	RoleCreate
	// RoleManage reads, lists, validates, updates and deletes (the manage
	// function): it creates no secret.
	RoleManage
)

// New loads the AWS configuration (awsclients.Load: the standard chain, so
// AWS_ENDPOINT_URL and friends apply) and builds the service. Clients are
// built once, here, and shared by every invocation of a warm instance.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*App, error) {
	awsCfg, err := awsclients.Load(ctx)
	if err != nil {
		return nil, err
	}
	return NewWithAWS(awsCfg, cfg, logger, opts), nil
}

// NewWithAWS builds the service on an already loaded AWS configuration.
func NewWithAWS(awsCfg aws.Config, cfg config.Config, logger *slog.Logger, opts Options) *App {
	clients := awsclients.New(awsCfg)
	db, sm := clients.DynamoDB, clients.SecretsManager
	store := &dynamostore.Store{Client: db, Table: cfg.TableName}
	secrets := &secretstore.Store{Client: sm, Prefix: cfg.SecretNamePrefix, KMSKeyID: cfg.SecretsKMSKeyID}
	// Export storages: the same table and prefix, their own keys and names.
	exportStore := &dynamostore.Store{Client: db, Table: cfg.TableName, Kind: storage.KindExport}
	exportSecrets := &secretstore.Store{Client: sm, Prefix: cfg.SecretNamePrefix, KMSKeyID: cfg.SecretsKMSKeyID, Kind: storage.KindExport}
	checker := opts.Checker
	if checker == nil {
		checker = databricks.New(databricks.Options{Guard: cfg.Hosts, AzureAuthority: cfg.AzureAuthority, RootCAs: opts.RootCAs})
	}
	decoder := storage.Decoder{Hosts: cfg.Hosts}
	tokenStore := &tokenstore.Store{Client: db, Table: cfg.TableName}
	authenticator := auth.NewAuthenticator(tokenStore)
	authenticator.CacheTTL = cfg.TokenCacheTTL
	var creator, exportCreator *core.Creator
	var manager, exportManager *core.Manager
	handler := &httpapi.Handler{
		Auth:             authenticator,
		Decoder:          decoder,
		ExportDecoder:    storage.Decoder{Hosts: cfg.Hosts, Kind: storage.KindExport},
		Version:          opts.Version,
		OpenAPI:          opts.OpenAPI,
		MetricsNamespace: cfg.MetricsNamespace,
		Logger:           logger,
	}
	// Label Studio mode: its tokens and projects decide, for the HTTP API
	// and, through the core, for the trusted AWS sources.
	var projects core.ProjectAccess
	// Export storages' webhooks: registered on their projects where the
	// service knows Label Studio.
	var webhooks core.Webhooks
	if cfg.LabelStudio.Enabled() {
		ls := newLabelStudio(cfg, sm)
		handler.Auth, projects = ls, ls
		webhooks = labelstudio.Webhooks{Client: ls.Client}
	}
	// The public base URL when configured, else the one the create came
	// to (the HTTP API's own domain behind the front door, whose domain
	// the functions cannot be given: the front door depends on them).
	webhookURL := func(ctx context.Context, id int64) string {
		return httpapi.ExportWebhookURL(cmp.Or(cfg.FilesBaseURL, httpapi.RequestBase(ctx)), id)
	}
	dispatcher := &eventsource.Dispatcher{
		HTTP: handler, Decoder: decoder, Failures: store, Version: opts.Version, Logger: logger,
		MetricsNamespace: cfg.MetricsNamespace,
		Credentials:      &secretstore.Incoming{Client: sm, Prefix: cfg.SecretNamePrefix},
	}
	// The adapters' fields are interfaces: only a part that exists is
	// assigned, so that a missing one is nil, not a nil pointer in an
	// interface.
	if opts.Role != RoleManage {
		creator = &core.Creator{
			Checker:  metrics.Checker{Inner: checker},
			Secrets:  secrets,
			Records:  store,
			Projects: projects,
			IDs:      &dynamostore.IDBlocks{Client: db, Table: cfg.TableName, BlockSize: cfg.IDBlockSize},
			Keys:     store,
			KeyTTL:   cfg.IdempotencyTTL,
			Logger:   logger,
		}
		handler.Creator, dispatcher.Creator = creator, creator
		// Export storages are created over HTTP only (no event sources).
		exportCreator = &core.Creator{
			Checker:  metrics.Checker{Inner: checker},
			Secrets:  exportSecrets,
			Records:  exportStore,
			Projects: projects,
			IDs:      &dynamostore.IDBlocks{Client: db, Table: cfg.TableName, BlockSize: cfg.IDBlockSize, Kind: storage.KindExport},
			Keys:     exportStore,
			KeyTTL:   cfg.IdempotencyTTL,
			Logger:   logger,
		}
		if webhooks != nil {
			exportCreator.Hooks = &core.ExportHooks{Webhooks: webhooks, Store: exportStore, URL: webhookURL, Logger: logger}
		}
		handler.ExportCreator = exportCreator
	}
	if opts.Role != RoleCreate {
		manager = &core.Manager{
			Checker:  metrics.Checker{Inner: checker},
			Records:  store,
			Projects: projects,
			Vault:    &secretstore.Vault{Client: sm, RecoveryDays: cfg.SecretRecoveryDays},
			Logger:   logger,
		}
		if lister, ok := checker.(core.FileLister); ok {
			manager.Files = lister
		}
		if cfg.SyncQueueURL != "" && opts.Sync != nil {
			manager.Syncs, manager.SyncQueue = opts.Sync(clients.AWS, cfg.TableName, cfg.SyncQueueURL)
			manager.SyncStaleAfter = cfg.SyncStaleAfter
		}
		handler.Manager, dispatcher.Manager = manager, manager
		// No Files: nothing is imported. Without an export queue (or
		// Label Studio), …/export/databricks/{id}/sync answers Label
		// Studio's 400 (core.ErrSyncUnavailable) and no webhook delivery
		// is taken.
		exportVault := &secretstore.Vault{Client: sm, RecoveryDays: cfg.SecretRecoveryDays}
		exportManager = &core.Manager{
			Checker:  metrics.Checker{Inner: checker},
			Records:  exportStore,
			Projects: projects,
			Vault:    exportVault,
			Logger:   logger,
		}
		var hooks *core.ExportHooks
		if webhooks != nil {
			hooks = &core.ExportHooks{Webhooks: webhooks, Store: exportStore, URL: webhookURL, Logger: logger}
			exportManager.Hooks = hooks
		}
		if cfg.ExportQueueURL != "" && opts.Export != nil {
			syncs, queue := opts.Export(clients.AWS, cfg.TableName, cfg.ExportQueueURL)
			exporter := &core.Exporter{Records: exportStore, Secrets: exportVault, Locks: syncs, Queue: queue, Syncs: syncs, Logger: logger}
			exportManager.Syncs, exportManager.SyncStaleAfter = syncs, cfg.SyncStaleAfter
			if hooks != nil {
				hooks.Locks = syncs
				exportManager.Exporter = exporter
			}
			handler.Webhooks = exporter
		}
		handler.ExportManager = exportManager
	}
	return &App{
		Dispatcher:    dispatcher,
		Tokens:        tokenStore,
		HTTP:          handler,
		Creator:       creator,
		Manager:       manager,
		ExportCreator: exportCreator,
		ExportManager: exportManager,
		Store:         store,
		Secrets:       secrets,
		ExportStore:   exportStore,
		ExportSecrets: exportSecrets,
		AWS:           clients.AWS,
	}
}
