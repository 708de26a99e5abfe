package sweep

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// Bounds of SWEEP_GRACE_MINUTES: at least five minutes, so a create in
// flight (at most 30 s) is never mistaken for an orphan; at most a week.
const (
	MinGraceMinutes = 5
	MaxGraceMinutes = 7 * 24 * 60
)

// Config is the sweep's configuration, read from the environment.
type Config struct {
	// TableName is the storages table (TABLE_NAME, required).
	TableName string
	// SecretNamePrefix starts every storage secret's name
	// (SECRET_NAME_PREFIX, default secretstore.DefaultPrefix).
	SecretNamePrefix string
	// Grace is how old a secret must be before it can be an orphan
	// (SWEEP_GRACE_MINUTES, default 15).
	Grace time.Duration
	// MetricsNamespace is the CloudWatch namespace of the figures each run
	// logs (METRICS_NAMESPACE, default metrics.DefaultNamespace).
	MetricsNamespace string
}

// ConfigFromEnv reads the configuration with getenv (os.Getenv in
// production) and reports every problem at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		MetricsNamespace: cmp.Or(strings.TrimSpace(getenv("METRICS_NAMESPACE")), metrics.DefaultNamespace),
		TableName:        strings.TrimSpace(getenv("TABLE_NAME")),
		SecretNamePrefix: getenv("SECRET_NAME_PREFIX"),
		Grace:            DefaultGrace,
	}
	var errs []error
	if cfg.TableName == "" {
		errs = append(errs, errors.New("TABLE_NAME is required"))
	}
	if cfg.SecretNamePrefix == "" {
		cfg.SecretNamePrefix = secretstore.DefaultPrefix
	}
	if v := strings.TrimSpace(getenv("SWEEP_GRACE_MINUTES")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < MinGraceMinutes || n > MaxGraceMinutes {
			errs = append(errs, fmt.Errorf("SWEEP_GRACE_MINUTES must be an integer from %d to %d, got %q", MinGraceMinutes, MaxGraceMinutes, v))
		} else {
			cfg.Grace = time.Duration(n) * time.Minute
		}
	}
	return cfg, errors.Join(errs...)
}

// New returns a Sweeper over the AWS account awsCfg reaches, with the
// table and prefix of cfg.
func New(awsCfg aws.Config, cfg Config, logger *slog.Logger) *Sweeper {
	return &Sweeper{
		Secrets: secretsmanager.NewFromConfig(awsCfg),
		Records: &dynamostore.Store{Client: dynamodb.NewFromConfig(awsCfg), Table: cfg.TableName},
		Prefix:  cfg.SecretNamePrefix,
		Grace:   cfg.Grace,
		Logger:  logger,
	}
}
