package sweep

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// New returns a Sweeper over the AWS account awsCfg reaches (from
// awsclients.Load), with the retries and timeouts the storage functions use
// and the table, prefix and grace of cfg.
func New(awsCfg aws.Config, cfg config.Config, logger *slog.Logger) *Sweeper {
	awsCfg = awsclients.Bounded(awsCfg)
	db := dynamodb.NewFromConfig(awsCfg)
	return &Sweeper{
		Secrets:       secretsmanager.NewFromConfig(awsCfg),
		Records:       &dynamostore.Store{Client: db, Table: cfg.TableName},
		ExportRecords: &dynamostore.Store{Client: db, Table: cfg.TableName, Kind: storage.KindExport},
		Prefix:        cfg.SecretNamePrefix,
		Grace:         cfg.SweepGrace,
		Logger:        logger,
	}
}
