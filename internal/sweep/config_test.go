package sweep_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    sweep.Config
		wantErr string
	}{
		{"defaults", map[string]string{"TABLE_NAME": "t"},
			sweep.Config{TableName: "t", SecretNamePrefix: secretstore.DefaultPrefix, Grace: 15 * time.Minute, MetricsNamespace: metrics.DefaultNamespace}, ""},
		{"everything set", map[string]string{"TABLE_NAME": " t ", "SECRET_NAME_PREFIX": "p/", "SWEEP_GRACE_MINUTES": "60", "METRICS_NAMESPACE": "Team/Storage"},
			sweep.Config{TableName: "t", SecretNamePrefix: "p/", Grace: time.Hour, MetricsNamespace: "Team/Storage"}, ""},
		{"no table", map[string]string{},
			sweep.Config{SecretNamePrefix: secretstore.DefaultPrefix, Grace: 15 * time.Minute, MetricsNamespace: metrics.DefaultNamespace}, "TABLE_NAME is required"},
		{"grace too short", map[string]string{"TABLE_NAME": "t", "SWEEP_GRACE_MINUTES": "1"},
			sweep.Config{TableName: "t", SecretNamePrefix: secretstore.DefaultPrefix, Grace: 15 * time.Minute, MetricsNamespace: metrics.DefaultNamespace}, "SWEEP_GRACE_MINUTES must be"},
		{"grace not a number", map[string]string{"TABLE_NAME": "t", "SWEEP_GRACE_MINUTES": "15m"},
			sweep.Config{TableName: "t", SecretNamePrefix: secretstore.DefaultPrefix, Grace: 15 * time.Minute, MetricsNamespace: metrics.DefaultNamespace}, "SWEEP_GRACE_MINUTES must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sweep.ConfigFromEnv(func(k string) string { return c.env[k] })
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("error = %v, want %q", err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("config = %+v, want %+v", got, c.want)
			}
		})
	}
}
