package app

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// secretValueGetter is the Secrets Manager operation the credential needs.
type secretValueGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// newLabelStudio builds the Label Studio authenticator and project access
// for cfg; the service credential is read on first need, not here, so a
// cold start waits for no secret.
func newLabelStudio(cfg config.Config, sm secretValueGetter) *labelstudio.Authenticator {
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
