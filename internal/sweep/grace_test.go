package sweep_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/storage"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// countingSecrets counts the calls; it lists no secret.
type countingSecrets struct{ calls int }

func (c *countingSecrets) ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	c.calls++
	return &secretsmanager.ListSecretsOutput{}, nil
}

func (c *countingSecrets) DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	c.calls++
	return &secretsmanager.DeleteSecretOutput{}, nil
}

type noRecords struct{}

func (noRecords) GetStorage(context.Context, int64) (storage.Record, error) {
	return storage.Record{}, storage.ErrRecordNotFound
}

// The Sweeper itself refuses a grace period below the minimum, whoever set
// it: a shorter one would take a create in flight for an orphan and delete
// the secret its record is about to name. It calls nothing then.
func TestSweepRefusesAGraceOutOfBounds(t *testing.T) {
	for _, c := range []struct {
		grace  time.Duration
		refuse bool
	}{
		{time.Nanosecond, true},
		{time.Second, true},
		{-time.Minute, true},
		{config.MinSweepGrace - time.Second, true},
		{config.MaxSweepGrace + time.Minute, true},
		{0, false}, // the default
		{config.MinSweepGrace, false},
		{config.MaxSweepGrace, false},
	} {
		t.Run(c.grace.String(), func(t *testing.T) {
			secrets := &countingSecrets{}
			s := &sweep.Sweeper{Secrets: secrets, Records: noRecords{}, Prefix: "p/", Grace: c.grace}
			_, err := s.Sweep(context.Background())
			if !c.refuse {
				if err != nil || secrets.calls != 1 {
					t.Errorf("Sweep = %v after %d calls, want a sweep (one listing)", err, secrets.calls)
				}
				return
			}
			if !errors.Is(err, config.ErrSweepGrace) || !strings.Contains(err.Error(), c.grace.String()) {
				t.Errorf("Sweep = %v, want a refusal naming the grace %s", err, c.grace)
			}
			if secrets.calls != 0 {
				t.Errorf("%d calls to Secrets Manager, want none", secrets.calls)
			}
		})
	}
}
