package awsclients_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
)

// Load's configuration ends each attempt after AttemptTimeout; Load's and
// New's retry at most MaxAttempts times, waiting at most MaxBackoff.
func TestEveryClientIsBounded(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	loaded, err := awsclients.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := loaded.HTTPClient.(*awshttp.BuildableClient); !ok || c.GetTimeout() != awsclients.AttemptTimeout {
		t.Errorf("Load's HTTP client %T has no %s timeout", loaded.HTTPClient, awsclients.AttemptTimeout)
	}
	for name, cfg := range map[string]aws.Config{
		"Load":                loaded,
		"New on SDK defaults": awsclients.New(aws.Config{Region: "us-east-1"}).AWS,
	} {
		r := cfg.Retryer()
		if r.MaxAttempts() != awsclients.MaxAttempts {
			t.Errorf("%s: %d attempts, want %d", name, r.MaxAttempts(), awsclients.MaxAttempts)
		}
		for range 200 {
			if d, err := r.RetryDelay(10, errors.New("throttled")); err != nil || d > awsclients.MaxBackoff {
				t.Errorf("%s: delay %s, %v; want at most %s", name, d, err, awsclients.MaxBackoff)
				break
			}
		}
	}
}
