// Package awsclients builds the AWS clients of everything that talks to AWS:
// the three functions (create-storage, manage-storage, sweep), the local
// server and the commands (cmd/sweep, cmd/tokens). They all get the same
// bounded retries and per-attempt timeout; the storage functions and
// cmd/tokens also get clients that link only the operations they call (see
// clients.go).
//
// It is apart from package config, which reads the environment, because
// cmd/tokens needs the clients and not the service's configuration, and
// because the configuration is tested without AWS.
package awsclients

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Retry budget for AWS calls. A create makes at most four calls in a row
// after the connection check; with these bounds even a failing one gives up
// in about 3×3 s + 2×0.5 s, so a create and its rollback finish inside the
// function's 30 s timeout although the check may use 20 s of it.
const (
	MaxAttempts    = 3
	MaxBackoff     = 500 * time.Millisecond
	AttemptTimeout = 3 * time.Second
)

// Load loads the AWS configuration through the standard chain (environment,
// shared files, instance role; AWS_ENDPOINT_URL and friends apply), with an
// HTTP client whose every attempt ends after AttemptTimeout and the retries
// of Bounded.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(AttemptTimeout)
	return Bounded(cfg), nil
}

// Bounded returns cfg with the SDK's standard retryer (throttling, 5xx,
// connection errors) bounded by MaxAttempts and MaxBackoff. Every client is
// built on a configuration that went through it: New's, and the sweep's,
// which builds the SDK's clients straight on it (it links none of the
// reflection that makes the wrappers of clients.go worth their size).
func Bounded(cfg aws.Config) aws.Config {
	cfg.Retryer = retryer
	return cfg
}

// Clients are the storage functions' AWS clients.
type Clients struct {
	// AWS is the configuration the clients were built on (Bounded).
	AWS            aws.Config
	DynamoDB       DynamoDB
	SecretsManager SecretsManager
}

// New builds the clients on cfg (from Load, or a test's configuration with
// its own HTTP client) made Bounded.
func New(cfg aws.Config) Clients {
	cfg = Bounded(cfg)
	return Clients{
		AWS:            cfg,
		DynamoDB:       newDynamoDB(dynamodb.NewFromConfig(cfg)),
		SecretsManager: newSecretsManager(secretsmanager.NewFromConfig(cfg)),
	}
}

func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = MaxBackoff
	})
}
