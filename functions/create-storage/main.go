// Command create-storage is the Lambda function behind
// POST /api/storages/databricks/. It only wires: configuration, logger and
// the dispatcher built by package app.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/logging"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	logger := logging.New(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	slog.SetDefault(logger)
	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	cfg.Version = version
	service, err := app.New(context.Background(), cfg, logger, app.Options{})
	if err != nil {
		logger.Error("start-up failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(service.Dispatcher)
}
