// Package exportapp wires the export writer function: the core's Exporter
// on the table (export storage records, their syncs and annotation
// records), the export storages' secrets (read only), the workspace, the
// Label Studio project (the service credential) and the export queue. It
// links none of the HTTP API.
package exportapp

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
	"github.com/lsdbx/databricks-storage/internal/storage"
	"github.com/lsdbx/databricks-storage/internal/syncqueue"
)

// ErrExportNotConfigured is returned when the configuration lacks what the
// export writer needs.
var ErrExportNotConfigured = errors.New("the export writer needs LABEL_STUDIO_URL, LABEL_STUDIO_TOKEN_SECRET and EXPORT_QUEUE_URL")

// NewExporter builds the export writer's Exporter.
func NewExporter(awsCfg aws.Config, cfg config.Config, logger *slog.Logger, rootCAs *x509.CertPool) (*core.Exporter, error) {
	if !cfg.LabelStudio.Enabled() || cfg.ExportQueueURL == "" {
		return nil, ErrExportNotConfigured
	}
	clients := awsclients.New(awsCfg)
	checker := databricks.New(databricks.Options{Guard: cfg.Hosts, AzureAuthority: cfg.AzureAuthority, RootCAs: rootCAs})
	syncs := &dynamostore.Syncs{Client: awsclients.NewBatchDynamoDB(awsCfg), Table: cfg.TableName, Export: true}
	return &core.Exporter{
		Records:     &dynamostore.Store{Client: clients.DynamoDB, Table: cfg.TableName, Kind: storage.KindExport},
		Secrets:     &secretstore.Vault{Client: clients.SecretsManager},
		Annotations: labelstudio.Tasks{Client: labelstudio.NewServiceClient(cfg.LabelStudio.URL, secretstore.Text(clients.SecretsManager, cfg.LabelStudio.TokenSecret))},
		Volume:      databricks.Volume{Checker: checker},
		Locks:       syncs,
		Queue:       syncqueue.New(awsCfg, cfg.ExportQueueURL),
		Syncs:       syncs,
		Logger:      logger,
	}, nil
}

// New builds the export writer's queue handler.
func New(awsCfg aws.Config, cfg config.Config, logger *slog.Logger, rootCAs *x509.CertPool) (*eventsource.QueueHandler, error) {
	x, err := NewExporter(awsCfg, cfg, logger, rootCAs)
	if err != nil {
		return nil, err
	}
	return eventsource.NewExportHandler(x, core.SyncMaxReceives, logger), nil
}

// Run is the export writer function's main.
func Run() {
	logger, cfg, awsCfg := boot.Function()
	h, err := New(awsCfg, cfg, logger, nil)
	eventsource.RunQueueFunction(logger, "the export writer", h, err)
}
