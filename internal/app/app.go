package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/auth"
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
}

// New loads the AWS configuration (the standard chain, so AWS_ENDPOINT_URL
// and friends apply) and builds the service. Clients are built once, here,
// and shared by every invocation of a warm instance.
func New(ctx context.Context, cfg Config, logger *slog.Logger, opts Options) (*App, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	awsCfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(awsAttemptTimeout)
	return NewWithAWS(awsCfg, cfg, logger, opts), nil
}

// Retry budget for AWS calls. A create makes at most four calls in a row
// after the connection check; with these bounds even a failing one gives up
// in about 3×3 s + 2×0.5 s, so a create and its rollback finish inside the
// function's 30 s timeout although the check may use 20 s of it.
const (
	awsMaxAttempts    = 3
	awsMaxBackoff     = 500 * time.Millisecond
	awsAttemptTimeout = 3 * time.Second
)

// retryer is the SDK's standard retryer (throttling, 5xx, connection
// errors) with the bounds above.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = awsMaxAttempts
		o.MaxBackoff = awsMaxBackoff
	})
}

// NewWithAWS builds the service on an already loaded AWS configuration.
func NewWithAWS(awsCfg aws.Config, cfg Config, logger *slog.Logger, opts Options) *App {
	awsCfg.Retryer = retryer
	db := newDynamoDB(dynamodb.NewFromConfig(awsCfg))
	sm := newSecretsManager(secretsmanager.NewFromConfig(awsCfg))
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
		Decoder: decoder,
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
		Version:          cfg.Version,
		MetricsNamespace: cfg.MetricsNamespace,
		Logger:           logger,
	}
	if cfg.LabelStudio.Enabled() {
		// Label Studio mode: its tokens and projects decide, for the HTTP
		// API and, through the core, for the trusted AWS sources.
		ls := newLabelStudio(cfg, sm)
		handler.Auth, service.Projects = ls, ls
	}
	return &App{
		Dispatcher: &eventsource.Dispatcher{
			HTTP: handler, Core: service, Decoder: decoder, Failures: store, Version: cfg.Version, Logger: logger,
			MetricsNamespace: cfg.MetricsNamespace,
			Credentials:      &secretstore.Incoming{Client: sm, Prefix: cfg.SecretNamePrefix},
		},
		Tokens:  tokenStore,
		HTTP:    handler,
		Service: service,
		Store:   store,
		Secrets: secrets,
		AWS:     awsCfg,
	}
}
