// Package config reads the service's configuration from the environment:
// one typed Config for the three functions (create-storage, manage-storage,
// sweep) and the commands that run their code (cmd/sweep, make run). Each
// variable is parsed and validated here and nowhere else, with its default
// and bounds declared once; the README's Configuration table is the spec.
//
// The package builds no client and links no HTTP, token or event-source
// code, so the sweep can use it; the AWS side is package awsclients. The
// two are apart because this one is pure (environment in, values out) and
// is tested without AWS, while awsclients is what every AWS caller shares,
// cmd/tokens included, which reads no more than TABLE_NAME.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// EnvTableName names the DynamoDB table; the commands' -table defaults to it.
const EnvTableName = "TABLE_NAME"

// Defaults and bounds of the variables.
const (
	// DefaultIDBlockSize is ID_BLOCK_SIZE's default (bounds 1 to 1000).
	DefaultIDBlockSize = 10
	// DefaultTokenCacheTTL is TOKEN_CACHE_SECONDS' default.
	DefaultTokenCacheTTL = 30 * time.Second
	// MaxTokenCacheTTL bounds how long a revoked API key keeps working.
	MaxTokenCacheTTL = 300 * time.Second
	// DefaultSecretRecoveryDays is SECRET_RECOVERY_DAYS' default (0, or 7
	// to 30: Secrets Manager's bounds).
	DefaultSecretRecoveryDays = 7
	// DefaultSweepGrace is SWEEP_GRACE_MINUTES' default: far longer than a
	// create can take (the create function times out after 30 s).
	DefaultSweepGrace = 15 * time.Minute
	// MinSweepGrace is the shortest grace the sweep accepts, from any
	// source: a create in flight (at most 30 s) must never look like an
	// orphan, or the sweep deletes the secret of a record about to be
	// written.
	MinSweepGrace = 5 * time.Minute
	// MaxSweepGrace is the longest grace SWEEP_GRACE_MINUTES and -grace
	// accept: orphans must go within a week.
	MaxSweepGrace = 7 * 24 * time.Hour
)

// Config is the service configuration, read from the environment. A
// function uses the fields it needs; the others keep their defaults.
type Config struct {
	// TableName is the DynamoDB table (TABLE_NAME, required).
	TableName string
	// SecretNamePrefix starts every secret name (SECRET_NAME_PREFIX, default
	// secretstore.DefaultPrefix; it must end with "/").
	SecretNamePrefix string
	// SecretsKMSKeyID encrypts the secrets when set (SECRETS_KMS_KEY_ID).
	SecretsKMSKeyID string
	// IDBlockSize is how many ids an instance reserves at once (ID_BLOCK_SIZE).
	IDBlockSize int64
	// Hosts is the workspace host policy (DATABRICKS_ALLOWED_HOST_SUFFIXES,
	// DATABRICKS_ALLOW_PRIVATE_HOSTS).
	Hosts hostguard.Policy
	// AzureAuthority is the Microsoft Entra ID endpoint for azure_ad_sp
	// (AZURE_AUTHORITY_HOST; https://login.microsoftonline.com when unset).
	AzureAuthority string
	// IdempotencyTTL is how long idempotency keys are remembered
	// (IDEMPOTENCY_TTL_HOURS, default core.DefaultIdempotencyTTL).
	IdempotencyTTL time.Duration
	// TokenCacheTTL is how long a warm instance trusts a token lookup
	// (TOKEN_CACHE_SECONDS; 0 disables the cache).
	TokenCacheTTL time.Duration
	// SecretRecoveryDays is how long a deleted storage's secret can be
	// restored (SECRET_RECOVERY_DAYS: 0 deletes at once).
	SecretRecoveryDays int32
	// MetricsNamespace is the CloudWatch namespace of the metrics in the
	// log lines (METRICS_NAMESPACE, default metrics.DefaultNamespace).
	MetricsNamespace string
	// SweepGrace is how old a secret must be before the sweep may take it
	// for an orphan (SWEEP_GRACE_MINUTES).
	SweepGrace time.Duration
	// LabelStudio is the Label Studio that authenticates callers and owns
	// the projects, when one is configured (LABEL_STUDIO_URL,
	// LABEL_STUDIO_TOKEN_SECRET).
	LabelStudio LabelStudio
	// SyncQueueURL is the queue of the syncs' steps (SYNC_QUEUE_URL): the
	// manage function sends a sync's first step there, the sync worker
	// the next ones. Empty: the function does not sync.
	SyncQueueURL string
	// ExportQueueURL is the queue of the export storages' writes and
	// export syncs' steps (EXPORT_QUEUE_URL): the manage function sends
	// webhook deliveries and a sync's first step there, the export writer
	// the next steps. Empty: the function does not export.
	ExportQueueURL string
	// FilesBaseURL is the public base URL of the file route, the front
	// door's scheme and host (FILES_BASE_URL): synced tasks carry file
	// links under it, and export storages' webhooks are registered under
	// it.
	FilesBaseURL string
	// SyncStaleAfter is how long a sync may make no progress before it is
	// taken for dead (SYNC_STALE_MINUTES, default core.DefaultSyncStaleAfter).
	SyncStaleAfter time.Duration
}

// FromEnv reads the configuration with getenv (os.Getenv in production) and
// reports every problem at once. Fields in error keep their defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		TableName:          strings.TrimSpace(getenv(EnvTableName)),
		SecretNamePrefix:   cmp.Or(getenv("SECRET_NAME_PREFIX"), secretstore.DefaultPrefix),
		SecretsKMSKeyID:    strings.TrimSpace(getenv("SECRETS_KMS_KEY_ID")),
		IDBlockSize:        DefaultIDBlockSize,
		Hosts:              hostguard.PolicyFromEnv(getenv),
		AzureAuthority:     strings.TrimSpace(getenv("AZURE_AUTHORITY_HOST")),
		IdempotencyTTL:     core.DefaultIdempotencyTTL,
		TokenCacheTTL:      DefaultTokenCacheTTL,
		SecretRecoveryDays: DefaultSecretRecoveryDays,
		MetricsNamespace:   cmp.Or(strings.TrimSpace(getenv("METRICS_NAMESPACE")), metrics.DefaultNamespace),
		SweepGrace:         DefaultSweepGrace,
		SyncQueueURL:       strings.TrimSpace(getenv("SYNC_QUEUE_URL")),
		ExportQueueURL:     strings.TrimSpace(getenv("EXPORT_QUEUE_URL")),
		FilesBaseURL:       strings.TrimSuffix(strings.TrimSpace(getenv("FILES_BASE_URL")), "/"),
		SyncStaleAfter:     core.DefaultSyncStaleAfter,
	}
	var errs []error
	ls, err := labelStudioFromEnv(getenv)
	cfg.LabelStudio = ls
	errs = append(errs, err)
	if cfg.TableName == "" {
		errs = append(errs, errors.New(EnvTableName+" is required"))
	}
	if !strings.HasSuffix(cfg.SecretNamePrefix, "/") {
		// Access is granted on "<prefix>*": without the slash, "label" would
		// also grant "label-other/…".
		errs = append(errs, fmt.Errorf("SECRET_NAME_PREFIX must end with \"/\", got %q", cfg.SecretNamePrefix))
	}
	// number reads an integer variable: when it is set and ok, set takes
	// it; when it is set and not ok, rule says what it must be.
	number := func(name string, ok func(n int64) bool, rule string, set func(n int64)) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !ok(n) {
			errs = append(errs, fmt.Errorf("%s must be %s, got %q", name, rule, v))
			return
		}
		set(n)
	}
	number("SECRET_RECOVERY_DAYS", func(n int64) bool { return n == 0 || n >= 7 && n <= 30 },
		"0 (delete at once) or 7 to 30", func(n int64) { cfg.SecretRecoveryDays = int32(n) })
	number("ID_BLOCK_SIZE", func(n int64) bool { return n >= 1 && n <= 1000 },
		"an integer from 1 to 1000", func(n int64) { cfg.IDBlockSize = n })
	maxCache := int64(MaxTokenCacheTTL / time.Second)
	number("TOKEN_CACHE_SECONDS", func(n int64) bool { return n >= 0 && n <= maxCache },
		fmt.Sprintf("an integer from 0 to %d", maxCache), func(n int64) { cfg.TokenCacheTTL = time.Duration(n) * time.Second })
	number("IDEMPOTENCY_TTL_HOURS", func(n int64) bool { return n >= 1 && n <= 24*365 },
		"an integer from 1 to 8760", func(n int64) { cfg.IdempotencyTTL = time.Duration(n) * time.Hour })
	minGrace, maxGrace := int64(MinSweepGrace/time.Minute), int64(MaxSweepGrace/time.Minute)
	number("SWEEP_GRACE_MINUTES", func(n int64) bool { return n >= minGrace && n <= maxGrace },
		fmt.Sprintf("an integer from %d to %d", minGrace, maxGrace), func(n int64) { cfg.SweepGrace = time.Duration(n) * time.Minute })
	number("SYNC_STALE_MINUTES", func(n int64) bool { return n >= 1 && n <= 24*60 },
		"an integer from 1 to 1440", func(n int64) { cfg.SyncStaleAfter = time.Duration(n) * time.Minute })
	if u := cfg.FilesBaseURL; u != "" && !validBaseURL(u) {
		errs = append(errs, fmt.Errorf("FILES_BASE_URL must be an http(s) URL with a host and no path, query or credentials, got %q", u))
	}
	return cfg, errors.Join(errs...)
}

// validBaseURL reports whether u is scheme://host[:port] and nothing else.
func validBaseURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" && p.User == nil &&
		(p.Path == "" || p.Path == "/") && p.RawQuery == "" && p.Fragment == ""
}

// ErrSweepGrace is matched (with errors.Is) by CheckSweepGrace's errors.
var ErrSweepGrace = errors.New("grace period out of bounds")

// CheckSweepGrace reports a sweep grace period outside MinSweepGrace to
// MaxSweepGrace. SWEEP_GRACE_MINUTES has the same bounds; cmd/sweep's -grace
// and the Sweeper itself (whoever set its Grace) go through it.
func CheckSweepGrace(grace time.Duration) error {
	switch {
	case grace < MinSweepGrace:
		return fmt.Errorf("%w: %s is shorter than the minimum %s: a create in flight could lose its secret", ErrSweepGrace, grace, MinSweepGrace)
	case grace > MaxSweepGrace:
		return fmt.Errorf("%w: %s is longer than the maximum %s", ErrSweepGrace, grace, MaxSweepGrace)
	}
	return nil
}
