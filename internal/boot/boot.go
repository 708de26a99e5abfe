// Package boot is what every function's main does first: a JSON logger at
// AWS_LAMBDA_LOG_LEVEL (the default logger too), the configuration from the
// environment, and the AWS configuration with the service's bounds. A
// problem is logged and ends the process, so that Lambda reports a failed
// init instead of serving with a half-built service.
package boot

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/logging"
)

// Function returns the logger, the configuration and the AWS configuration
// of a function, or exits with status 1.
func Function() (*slog.Logger, config.Config, aws.Config) {
	logger := logging.New(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	slog.SetDefault(logger)
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	awsCfg, err := awsclients.Load(context.Background())
	if err != nil {
		logger.Error("start-up failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	return logger, cfg, awsCfg
}
