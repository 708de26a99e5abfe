package app

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lsdbx/databricks-storage/internal/logging"
)

// gcPercent is the garbage collector's GOGC in a Lambda instance, unless
// GOGC is set. A warm instance's live heap is small (the clients, a few
// MiB) and a request's garbage short-lived, so the default of 100 collects
// every few requests; 400 collects about a quarter as often, for some
// 10 MiB more peak memory, far inside MemorySize. make bench measured it
// at about 8% less CPU per create (BENCHMARKS.md, section 4).
const gcPercent = 400

// RunLambda is a storage function's main: it reads the configuration from
// the environment, logs JSON to stdout at AWS_LAMBDA_LOG_LEVEL, builds the
// service once per instance and serves invocations until Lambda stops it.
func RunLambda(version string, opts Options) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	logger := logging.New(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	slog.SetDefault(logger)
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	cfg.Version = version
	service, err := New(context.Background(), cfg, logger, opts)
	if err != nil {
		logger.Error("start-up failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(service.Dispatcher)
}
