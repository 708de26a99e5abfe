package sweep_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// The sweep's AWS calls have the storage functions' bounds, whatever
// configuration it is handed: at most awsclients.MaxAttempts attempts, at
// most awsclients.MaxBackoff between them (the SDK's default waits up to
// 20 s), and, on a configuration from awsclients.Load as the function's,
// each attempt ends after awsclients.AttemptTimeout.
func TestNewBoundsTheAWSCalls(t *testing.T) {
	t.Run("SDK defaults", func(t *testing.T) {
		sdkDefaults := aws.Config{Region: "us-east-1"}
		checkBounded(t, sweep.New(sdkDefaults, config.Config{TableName: "t", SecretNamePrefix: "p/"}, nil), false)
	})
	t.Run("awsclients.Load", func(t *testing.T) {
		t.Setenv("AWS_REGION", "us-east-1")
		awsCfg, err := awsclients.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		checkBounded(t, sweep.New(awsCfg, config.Config{TableName: "t", SecretNamePrefix: "p/"}, nil), true)
	})
}

func checkBounded(t *testing.T, s *sweep.Sweeper, timeout bool) {
	t.Helper()
	secrets, ok := s.Secrets.(*secretsmanager.Client)
	if !ok {
		t.Fatalf("Secrets is a %T", s.Secrets)
	}
	store, _ := s.Records.(*dynamostore.Store)
	records, ok := store.Client.(*dynamodb.Client)
	if !ok {
		t.Fatalf("Records' client is a %T", store.Client)
	}
	for name, o := range map[string]struct {
		retryer aws.Retryer
		http    any
	}{
		"Secrets Manager": {secrets.Options().Retryer, secrets.Options().HTTPClient},
		"DynamoDB":        {records.Options().Retryer, records.Options().HTTPClient},
	} {
		if got := o.retryer.MaxAttempts(); got != awsclients.MaxAttempts {
			t.Errorf("%s: %d attempts, want %d", name, got, awsclients.MaxAttempts)
		}
		// The delay is random up to the bound: sample it.
		for range 200 {
			if d, err := o.retryer.RetryDelay(10, errors.New("throttled")); err != nil || d > awsclients.MaxBackoff {
				t.Errorf("%s: delay before attempt 10 = %s, %v; want at most %s", name, d, err, awsclients.MaxBackoff)
				break
			}
		}
		if c, ok := o.http.(*awshttp.BuildableClient); timeout && (!ok || c.GetTimeout() != awsclients.AttemptTimeout) {
			t.Errorf("%s: HTTP client %T without the %s attempt timeout", name, o.http, awsclients.AttemptTimeout)
		}
	}
}
