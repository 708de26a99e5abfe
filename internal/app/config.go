// Package app wires the service together from its configuration: the AWS
// clients, the stores, the connection checker and the event dispatcher. The
// Lambda's main and the local server share it, so both run the same code.
package app

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// maxTokenCacheSeconds bounds how long a revoked API key keeps working.
const maxTokenCacheSeconds = 300

// Config is the service configuration, read from the environment.
type Config struct {
	// TableName is the DynamoDB table (TABLE_NAME, required).
	TableName string
	// SecretNamePrefix starts every secret name (SECRET_NAME_PREFIX).
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
	// (IDEMPOTENCY_TTL_HOURS, default 24).
	IdempotencyTTL time.Duration
	// TokenCacheTTL is how long a warm instance trusts a token lookup
	// (TOKEN_CACHE_SECONDS, default 30, at most 300; 0 disables the cache).
	TokenCacheTTL time.Duration
	// SecretRecoveryDays is how long a deleted storage's secret can be
	// restored (SECRET_RECOVERY_DAYS: 0 deletes at once, else 7 to 30;
	// default 7).
	SecretRecoveryDays int32
	// MetricsNamespace is the CloudWatch namespace of the metrics in the
	// log lines (METRICS_NAMESPACE, default metrics.DefaultNamespace).
	MetricsNamespace string
	// LabelStudio is the Label Studio that authenticates callers and owns
	// the projects, when one is configured (LABEL_STUDIO_URL,
	// LABEL_STUDIO_TOKEN_SECRET).
	LabelStudio LabelStudio
	// Version is reported in error bodies.
	Version string
}

// ConfigFromEnv reads the configuration with getenv (os.Getenv in production).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		MetricsNamespace: cmp.Or(strings.TrimSpace(getenv("METRICS_NAMESPACE")), metrics.DefaultNamespace),
		TableName:        strings.TrimSpace(getenv("TABLE_NAME")),
		SecretNamePrefix: getenv("SECRET_NAME_PREFIX"),
		SecretsKMSKeyID:  strings.TrimSpace(getenv("SECRETS_KMS_KEY_ID")),
		IDBlockSize:      10,
		Hosts:            hostguard.PolicyFromEnv(getenv),
		AzureAuthority:   strings.TrimSpace(getenv("AZURE_AUTHORITY_HOST")),
	}
	var errs []error
	if cfg.TableName == "" {
		errs = append(errs, errors.New("TABLE_NAME is required"))
	}
	if cfg.SecretNamePrefix == "" {
		cfg.SecretNamePrefix = secretstore.DefaultPrefix
	}
	if !strings.HasSuffix(cfg.SecretNamePrefix, "/") {
		// Access is granted on "<prefix>*": without the slash, "label" would
		// also grant "label-other/…".
		errs = append(errs, fmt.Errorf("SECRET_NAME_PREFIX must end with \"/\", got %q", cfg.SecretNamePrefix))
	}
	cfg.SecretRecoveryDays = 7
	if v := strings.TrimSpace(getenv("SECRET_RECOVERY_DAYS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 0 && (n < 7 || n > 30)) {
			errs = append(errs, fmt.Errorf("SECRET_RECOVERY_DAYS must be 0 (delete at once) or 7 to 30, got %q", v))
		}
		cfg.SecretRecoveryDays = int32(n)
	}
	if v := strings.TrimSpace(getenv("ID_BLOCK_SIZE")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, fmt.Errorf("ID_BLOCK_SIZE must be an integer from 1 to 1000, got %q", v))
		}
		cfg.IDBlockSize = n
	}
	cfg.TokenCacheTTL = auth.DefaultCacheTTL
	if v := strings.TrimSpace(getenv("TOKEN_CACHE_SECONDS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxTokenCacheSeconds {
			errs = append(errs, fmt.Errorf("TOKEN_CACHE_SECONDS must be an integer from 0 to %d, got %q", maxTokenCacheSeconds, v))
		}
		cfg.TokenCacheTTL = time.Duration(n) * time.Second
	}
	ls, err := labelStudioFromEnv(getenv)
	cfg.LabelStudio = ls
	errs = append(errs, err)
	cfg.IdempotencyTTL = core.DefaultIdempotencyTTL
	if v := strings.TrimSpace(getenv("IDEMPOTENCY_TTL_HOURS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 24*365 {
			errs = append(errs, fmt.Errorf("IDEMPOTENCY_TTL_HOURS must be an integer from 1 to 8760, got %q", v))
		}
		cfg.IdempotencyTTL = time.Duration(n) * time.Hour
	}
	return cfg, errors.Join(errs...)
}
