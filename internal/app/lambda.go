package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/logging"
)

// RunLambda is a storage function's main: it reads the configuration from
// the environment, logs JSON to stdout at AWS_LAMBDA_LOG_LEVEL, builds the
// service once per instance and serves invocations until Lambda stops it.
func RunLambda(version string, opts Options) {
	logger := logging.New(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	slog.SetDefault(logger)
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	opts.Version = version
	service, err := New(context.Background(), cfg, logger, opts)
	if err != nil {
		logger.Error("start-up failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(service.Dispatcher)
}
