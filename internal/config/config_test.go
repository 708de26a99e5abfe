package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// defaults is the configuration of an environment that sets only TABLE_NAME.
func defaults() config.Config {
	return config.Config{
		TableName:          "t",
		SecretNamePrefix:   secretstore.DefaultPrefix,
		IDBlockSize:        10,
		IdempotencyTTL:     core.DefaultIdempotencyTTL,
		TokenCacheTTL:      30 * time.Second,
		SecretRecoveryDays: 7,
		MetricsNamespace:   metrics.DefaultNamespace,
		SweepGrace:         15 * time.Minute,
		SyncStaleAfter:     core.DefaultSyncStaleAfter,
	}
}

func TestFromEnv(t *testing.T) {
	with := func(f func(*config.Config)) config.Config {
		c := defaults()
		f(&c)
		return c
	}
	cases := []struct {
		name    string
		env     map[string]string
		want    config.Config
		wantErr []string // every one must be in the error
	}{
		{"defaults", map[string]string{"TABLE_NAME": "t"}, defaults(), nil},
		{"everything set", map[string]string{
			"TABLE_NAME": " t ", "SECRET_NAME_PREFIX": "p/", "SECRETS_KMS_KEY_ID": " key ", "ID_BLOCK_SIZE": "1000",
			"DATABRICKS_ALLOWED_HOST_SUFFIXES": "*.example.com", "DATABRICKS_ALLOW_PRIVATE_HOSTS": "true",
			"AZURE_AUTHORITY_HOST": "https://login.example", "IDEMPOTENCY_TTL_HOURS": "1", "TOKEN_CACHE_SECONDS": "0",
			"SECRET_RECOVERY_DAYS": "0", "METRICS_NAMESPACE": "Team/Storage", "SWEEP_GRACE_MINUTES": "60",
			"SYNC_QUEUE_URL": " https://sqs.example/1/q ", "FILES_BASE_URL": "https://ls.example/", "SYNC_STALE_MINUTES": "3",
		}, config.Config{
			SyncQueueURL: "https://sqs.example/1/q", FilesBaseURL: "https://ls.example", SyncStaleAfter: 3 * time.Minute,
			TableName: "t", SecretNamePrefix: "p/", SecretsKMSKeyID: "key", IDBlockSize: 1000,
			Hosts:          hostguard.Policy{AllowedSuffixes: []string{".example.com"}, AllowPrivate: true},
			AzureAuthority: "https://login.example", IdempotencyTTL: time.Hour, TokenCacheTTL: 0,
			SecretRecoveryDays: 0, MetricsNamespace: "Team/Storage", SweepGrace: time.Hour,
		}, nil},
		{"bounds", map[string]string{"TABLE_NAME": "t", "ID_BLOCK_SIZE": "1", "TOKEN_CACHE_SECONDS": "300",
			"IDEMPOTENCY_TTL_HOURS": "8760", "SECRET_RECOVERY_DAYS": "30", "SWEEP_GRACE_MINUTES": "5"},
			with(func(c *config.Config) {
				c.IDBlockSize, c.TokenCacheTTL, c.IdempotencyTTL, c.SecretRecoveryDays, c.SweepGrace = 1, 300*time.Second, 8760*time.Hour, 30, 5*time.Minute
			}), nil},
		{"other bounds", map[string]string{"TABLE_NAME": "t", "SECRET_RECOVERY_DAYS": "7", "SWEEP_GRACE_MINUTES": "10080"},
			with(func(c *config.Config) { c.SweepGrace = 7 * 24 * time.Hour }), nil},
		{"files base URL with a path", map[string]string{"TABLE_NAME": "t", "FILES_BASE_URL": "https://ls.example/data", "SYNC_STALE_MINUTES": "0"},
			with(func(c *config.Config) { c.FilesBaseURL = "https://ls.example/data" }),
			[]string{`FILES_BASE_URL must be an http(s) URL with a host and no path`, `SYNC_STALE_MINUTES must be an integer from 1 to 1440, got "0"`}},
		{"no table", map[string]string{}, with(func(c *config.Config) { c.TableName = "" }), []string{"TABLE_NAME is required"}},
		{"prefix without slash", map[string]string{"TABLE_NAME": "t", "SECRET_NAME_PREFIX": "label"},
			with(func(c *config.Config) { c.SecretNamePrefix = "label" }), []string{`SECRET_NAME_PREFIX must end with "/", got "label"`}},
		{"every number out of bounds, all reported", map[string]string{"TABLE_NAME": "t", "ID_BLOCK_SIZE": "0",
			"TOKEN_CACHE_SECONDS": "301", "IDEMPOTENCY_TTL_HOURS": "0", "SECRET_RECOVERY_DAYS": "6", "SWEEP_GRACE_MINUTES": "4"},
			defaults(), []string{
				`ID_BLOCK_SIZE must be an integer from 1 to 1000, got "0"`,
				`TOKEN_CACHE_SECONDS must be an integer from 0 to 300, got "301"`,
				`IDEMPOTENCY_TTL_HOURS must be an integer from 1 to 8760, got "0"`,
				`SECRET_RECOVERY_DAYS must be 0 (delete at once) or 7 to 30, got "6"`,
				`SWEEP_GRACE_MINUTES must be an integer from 5 to 10080, got "4"`,
			}},
		{"not numbers", map[string]string{"TABLE_NAME": "t", "ID_BLOCK_SIZE": "ten", "SWEEP_GRACE_MINUTES": "15m", "SECRET_RECOVERY_DAYS": "31"},
			defaults(), []string{"ID_BLOCK_SIZE must be", `SWEEP_GRACE_MINUTES must be an integer from 5 to 10080, got "15m"`, "SECRET_RECOVERY_DAYS must be"}},
		{"sweep grace too long", map[string]string{"TABLE_NAME": "t", "SWEEP_GRACE_MINUTES": "10081"},
			defaults(), []string{"SWEEP_GRACE_MINUTES must be"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := config.FromEnv(func(k string) string { return c.env[k] })
			switch {
			case len(c.wantErr) == 0 && err != nil:
				t.Errorf("error = %v, want none", err)
			case len(c.wantErr) > 0 && err == nil:
				t.Errorf("no error, want %q", c.wantErr)
			}
			for _, want := range c.wantErr {
				if err != nil && !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("config = %+v\nwant     %+v", got, c.want)
			}
		})
	}
}

func TestCheckSweepGrace(t *testing.T) {
	for _, c := range []struct {
		grace time.Duration
		ok    bool
		text  string
	}{
		{time.Second, false, "1s is shorter than the minimum 5m0s"},
		{0, false, "shorter than the minimum"},
		{-time.Minute, false, "shorter than the minimum"},
		{config.MinSweepGrace - time.Nanosecond, false, "shorter than the minimum"},
		{config.MinSweepGrace, true, ""},
		{config.DefaultSweepGrace, true, ""},
		{config.MaxSweepGrace, true, ""},
		{config.MaxSweepGrace + time.Second, false, "longer than the maximum 168h0m0s"},
	} {
		err := config.CheckSweepGrace(c.grace)
		if (err == nil) != c.ok || err != nil && (!errors.Is(err, config.ErrSweepGrace) || !strings.Contains(err.Error(), c.text)) {
			t.Errorf("CheckSweepGrace(%s) = %v, want ok %t, text %q", c.grace, err, c.ok, c.text)
		}
	}
}
