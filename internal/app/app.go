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
	// Creator creates storages; nil in the manage function.
	Creator *core.Creator
	// Manager manages existing storages; nil in the create function.
	Manager *core.Manager
	Store   *dynamostore.Store
	Secrets *secretstore.Store
	Tokens  *tokenstore.Store
	AWS     aws.Config
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
	tokenStore := &tokenstore.Store{Client: db, Table: cfg.TableName}
	authenticator := auth.NewAuthenticator(tokenStore)
	authenticator.CacheTTL = cfg.TokenCacheTTL
	var creator *core.Creator
	var manager *core.Manager
	handler := &httpapi.Handler{
		Auth:             authenticator,
		Decoder:          decoder,
		Version:          cfg.Version,
		MetricsNamespace: cfg.MetricsNamespace,
		Logger:           logger,
	}
	dispatcher := &eventsource.Dispatcher{
		HTTP: handler, Decoder: decoder, Failures: store, Version: cfg.Version, Logger: logger,
		MetricsNamespace: cfg.MetricsNamespace,
		Credentials:      &secretstore.Incoming{Client: sm, Prefix: cfg.SecretNamePrefix},
	}
	// The adapters' fields are interfaces: only a part that exists is
	// assigned, so that a missing one is nil, not a nil pointer in an
	// interface.
	if opts.Role != RoleManage {
		creator = &core.Creator{
			Checker: metrics.Checker{Inner: checker},
			Secrets: secrets,
			Records: store,
			IDs:     &dynamostore.IDBlocks{Client: db, Table: cfg.TableName, BlockSize: cfg.IDBlockSize},
			Keys:    store,
			KeyTTL:  cfg.IdempotencyTTL,
			Logger:  logger,
		}
		handler.Creator, dispatcher.Creator = creator, creator
	}
	if opts.Role != RoleCreate {
		manager = &core.Manager{
			Checker: metrics.Checker{Inner: checker},
			Records: store,
			Vault:   &secretstore.Vault{Client: sm, RecoveryDays: cfg.SecretRecoveryDays},
			Decoder: decoder,
			Logger:  logger,
		}
		if lister, ok := checker.(core.FileLister); ok {
			manager.Files = lister
		}
		handler.Manager, dispatcher.Manager = manager, manager
	}
	return &App{
		Dispatcher: dispatcher,
		Tokens:     tokenStore,
		HTTP:       handler,
		Creator:    creator,
		Manager:    manager,
		Store:      store,
		Secrets:    secrets,
		AWS:        awsCfg,
	}
}
