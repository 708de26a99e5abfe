package app

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lsdbx/databricks-storage/internal/boot"
)

// RunLambda is a storage function's main: it reads the configuration from
// the environment, logs JSON to stdout at AWS_LAMBDA_LOG_LEVEL, builds the
// service once per instance and serves invocations until Lambda stops it.
func RunLambda(version string, opts Options) {
	logger, cfg, awsCfg := boot.Function()
	opts.Version = version
	lambda.Start(NewWithAWS(awsCfg, cfg, logger, opts).Dispatcher)
}
