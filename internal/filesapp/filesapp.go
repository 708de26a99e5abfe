// Package filesapp wires the files function (the file route) from its
// configuration: core.Files over the storage records and secrets (read
// only) and the Databricks file fetcher, behind fileproxy's handler. It is
// apart from package app so that the files function links no API-key,
// storage-API or event-source code.
package filesapp

import (
	"crypto/x509"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdaurl"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/boot"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/fileproxy"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// FilesOptions are the parts NewFiles takes from its caller.
type FilesOptions struct {
	// Fetcher reads files from workspaces; nil means the Databricks
	// client built from the configuration.
	Fetcher core.FileFetcher
	// RootCAs are trusted for workspaces; nil means the system's.
	RootCAs *x509.CertPool
	// Version is reported in error bodies.
	Version string
}

// NewFiles builds the file route's handler (the files function's whole
// service): core.Files over the storage records (read only) and the
// storage secrets (read only), and the Databricks file fetcher.
func NewFiles(awsCfg aws.Config, cfg config.Config, logger *slog.Logger, opts FilesOptions) *fileproxy.Handler {
	clients := awsclients.New(awsCfg)
	fetcher := opts.Fetcher
	if fetcher == nil {
		fetcher = databricks.New(databricks.Options{Guard: cfg.Hosts, AzureAuthority: cfg.AzureAuthority, RootCAs: opts.RootCAs})
	}
	return &fileproxy.Handler{
		Files: &core.Files{
			Records: &dynamostore.Store{Client: clients.DynamoDB, Table: cfg.TableName},
			Secrets: &secretstore.Vault{Client: clients.SecretsManager},
			Fetcher: fetcher,
			Logger:  logger,
		},
		AllowOrigin: cfg.LabelStudio.Origin(),
		Version:     opts.Version,
		Logger:      logger,
	}
}

// RunFiles is the files function's main: as RunLambda, but it serves the
// file route through a Lambda function URL in response-streaming mode
// (aws-lambda-go's lambdaurl adapter over the http.Handler), so a file of
// any size streams through a small buffer.
func RunFiles(version string) {
	logger, cfg, awsCfg := boot.Function()
	lambdaurl.Start(NewFiles(awsCfg, cfg, logger, FilesOptions{Version: version}))
}
