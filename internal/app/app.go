// Package app wires the storage functions together from their
// configuration (package config): the AWS clients (package awsclients), the
// stores, the connection checker and the event dispatcher. The Lambda's main
// and the local server share it, so both run the same code.
package app

import (
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
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// App is the wired service.
type App struct {
	Dispatcher *eventsource.Dispatcher
	HTTP       *httpapi.Handler
	Service    *core.Service
	Store      *dynamostore.Store
	Secrets    *secretstore.Store
	Tokens     *tokenstore.Store
	AWS        aws.Config
}

// Options are the parts New takes from its caller instead of building them.
type Options struct {
	// Checker checks connections; nil means the Databricks checker built
	// from the configuration.
	Checker core.ConnectionChecker
	// RootCAs are the certificate authorities trusted for workspaces and the
	// Azure authority; nil means the system's.
	RootCAs *x509.CertPool
	// CreateOnly builds the create function's service: it never reads,
	// versions or deletes an existing secret (its role may not), so every
	// operation that would answers 500. The manage function, the local
	// server and the tests build the whole service.
	CreateOnly bool
	// Version is reported in error bodies.
	Version string
}

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
	checker := opts.Checker
	if checker == nil {
		checker = databricks.New(databricks.Options{Guard: cfg.Hosts, AzureAuthority: cfg.AzureAuthority, RootCAs: opts.RootCAs})
	}
	decoder := storage.Decoder{Hosts: cfg.Hosts}
	service := &core.Service{
		Checker: metrics.Checker{Inner: checker},
		Secrets: secrets,
		Records: store,
		IDs:     &dynamostore.IDBlocks{Client: db, Table: cfg.TableName, BlockSize: cfg.IDBlockSize},
		Keys:    store,
		KeyTTL:  cfg.IdempotencyTTL,
		Logger:  logger,
	}
	if !opts.CreateOnly {
		service.Vault = &secretstore.Vault{Client: sm, RecoveryDays: cfg.SecretRecoveryDays}
		if lister, ok := checker.(core.FileLister); ok {
			service.Files = lister
		}
	}
	tokenStore := &tokenstore.Store{Client: db, Table: cfg.TableName}
	authenticator := auth.NewAuthenticator(tokenStore)
	authenticator.CacheTTL = cfg.TokenCacheTTL
	handler := &httpapi.Handler{
		Core:             service,
		Auth:             authenticator,
		Decoder:          decoder,
		Version:          opts.Version,
		MetricsNamespace: cfg.MetricsNamespace,
		Logger:           logger,
	}
	return &App{
		Dispatcher: &eventsource.Dispatcher{
			HTTP: handler, Core: service, Decoder: decoder, Failures: store, Version: opts.Version, Logger: logger,
			MetricsNamespace: cfg.MetricsNamespace,
			Credentials:      &secretstore.Incoming{Client: sm, Prefix: cfg.SecretNamePrefix},
		},
		Tokens:  tokenStore,
		HTTP:    handler,
		Service: service,
		Store:   store,
		Secrets: secrets,
		AWS:     clients.AWS,
	}
}
