// Command sweep is the scheduled Lambda function that deletes orphan storage
// secrets (see package sweep). It only wires: configuration from the
// environment (package config: TABLE_NAME, SECRET_NAME_PREFIX,
// SWEEP_GRACE_MINUTES, METRICS_NAMESPACE), the AWS clients (package
// awsclients, as the storage functions'), the logger (level from
// AWS_LAMBDA_LOG_LEVEL) and the sweeper, and logs each run's report as one
// JSON line.
package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lsdbx/databricks-storage/internal/boot"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	logger, cfg, awsCfg := boot.Function()
	logger = logger.With(slog.String("version", version))
	slog.SetDefault(logger)
	sweeper := sweep.New(awsCfg, cfg, logger)
	// The scheduled event carries nothing the sweep needs, so it is ignored.
	lambda.Start(func(ctx context.Context) (sweep.Report, error) {
		report, err := sweeper.Sweep(ctx)
		attrs := []any{slog.Any("report", report)}
		for _, a := range metrics.SweepAttrs(cfg.MetricsNamespace, report.Examined, report.Deleted, report.Skipped) {
			attrs = append(attrs, a)
		}
		if err != nil {
			logger.ErrorContext(ctx, "sweep failed", append(attrs, slog.String("error", err.Error()))...)
			return report, err
		}
		logger.InfoContext(ctx, "sweep finished", attrs...)
		return report, nil
	})
}
