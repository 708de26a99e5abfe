// Package syncapp wires the sync worker function: the core's SyncWorker on
// the table, the storage secrets (read only), the workspace, the Label
// Studio project (the service credential) and the sync queue. It links
// none of the HTTP API.
package syncapp

import (
	"crypto/x509"
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/boot"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/syncqueue"
)

// ErrSyncNotConfigured is returned when the configuration lacks what the
// sync worker needs.
var ErrSyncNotConfigured = errors.New("the sync worker needs LABEL_STUDIO_URL, LABEL_STUDIO_TOKEN_SECRET, SYNC_QUEUE_URL and FILES_BASE_URL")

// New builds the sync worker's handler: the core's SyncWorker on
// the table, the storage secrets (read only), the workspace, the Label
// Studio project (the service credential) and the sync queue.
func New(awsCfg aws.Config, cfg config.Config, logger *slog.Logger, rootCAs *x509.CertPool) (*eventsource.QueueHandler, error) {
	if !cfg.LabelStudio.Enabled() || cfg.SyncQueueURL == "" || cfg.FilesBaseURL == "" {
		return nil, ErrSyncNotConfigured
	}
	clients := awsclients.New(awsCfg)
	checker := databricks.New(databricks.Options{Guard: cfg.Hosts, AzureAuthority: cfg.AzureAuthority, RootCAs: rootCAs})
	worker := &core.SyncWorker{
		Records:  &dynamostore.Store{Client: clients.DynamoDB, Table: cfg.TableName},
		Secrets:  &secretstore.Vault{Client: clients.SecretsManager},
		Syncs:    &dynamostore.Syncs{Client: awsclients.NewBatchDynamoDB(awsCfg), Table: cfg.TableName},
		Queue:    syncqueue.New(awsCfg, cfg.SyncQueueURL),
		Pager:    databricks.Volume{Checker: checker},
		Fetcher:  checker,
		Tasks:    labelstudio.Tasks{Client: labelstudio.NewServiceClient(cfg.LabelStudio.URL, secretstore.Text(clients.SecretsManager, cfg.LabelStudio.TokenSecret))},
		FileBase: cfg.FilesBaseURL,
		Logger:   logger,
	}
	return eventsource.NewSyncHandler(worker, core.SyncMaxReceives, logger), nil
}

// Run is the sync worker function's main.
func Run() {
	logger, cfg, awsCfg := boot.Function()
	h, err := New(awsCfg, cfg, logger, nil)
	eventsource.RunQueueFunction(logger, "the sync worker", h, err)
}
