package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// LabelStudio is the Label Studio the service defers to for who a caller is
// and which projects exist (Label Studio mode); zero without one.
type LabelStudio struct {
	// URL is Label Studio's base URL (LABEL_STUDIO_URL); empty: the
	// service's own API keys decide (standalone mode).
	URL string
	// TokenSecret names the Secrets Manager secret (ARN or name) holding the
	// service credential, a Label Studio token (LABEL_STUDIO_TOKEN_SECRET).
	// The token itself is never in the environment.
	TokenSecret string
}

// Enabled reports whether a Label Studio is configured.
func (l LabelStudio) Enabled() bool { return l.URL != "" }

// labelStudioFromEnv reads LABEL_STUDIO_URL and LABEL_STUDIO_TOKEN_SECRET.
func labelStudioFromEnv(getenv func(string) string) (LabelStudio, error) {
	l := LabelStudio{
		URL:         strings.TrimSuffix(strings.TrimSpace(getenv("LABEL_STUDIO_URL")), "/"),
		TokenSecret: strings.TrimSpace(getenv("LABEL_STUDIO_TOKEN_SECRET")),
	}
	if l.URL == "" {
		return l, nil
	}
	var errs []error
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// The value is not quoted: a URL with a user part may hold a password.
		errs = append(errs, errors.New("LABEL_STUDIO_URL must be an http(s) URL of a Label Studio, without credentials, query or fragment"))
	}
	if l.TokenSecret == "" {
		errs = append(errs, errors.New("LABEL_STUDIO_TOKEN_SECRET is required with LABEL_STUDIO_URL: the ARN or name of the secret holding the service's Label Studio token"))
	}
	return l, errors.Join(errs...)
}

// secretValueGetter is the Secrets Manager operation the credential needs.
type secretValueGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// newLabelStudio builds the Label Studio authenticator and project access
// for cfg; the service credential is read on first need, not here, so a
// cold start waits for no secret.
func newLabelStudio(cfg Config, sm secretValueGetter) *labelstudio.Authenticator {
	name := cfg.LabelStudio.TokenSecret
	cred := &labelstudio.SecretCredential{Fetch: func(ctx context.Context) (string, error) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
		if err != nil {
			return "", fmt.Errorf("read the Label Studio credential secret %s: %w", name, err)
		}
		return aws.ToString(out.SecretString), nil
	}}
	a := labelstudio.NewAuthenticator(&labelstudio.Client{BaseURL: cfg.LabelStudio.URL, Service: cred})
	a.CacheTTL = cfg.TokenCacheTTL
	return a
}
