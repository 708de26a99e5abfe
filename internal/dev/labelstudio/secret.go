package labelstudio

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// ServiceTokenSecret is the local secret holding the service credential. It
// is outside the storage secrets' prefix, where the sweep would take it for
// an orphan.
const ServiceTokenSecret = "label-studio-databricks-storage-local/label-studio-token"

// PutServiceToken stores token as the service credential in the (local)
// Secrets Manager, creating the secret or adding a version, and returns its
// ARN, the value of LABEL_STUDIO_TOKEN_SECRET.
func PutServiceToken(ctx context.Context, cfg aws.Config, name, token string) (string, error) {
	sm := secretsmanager.NewFromConfig(cfg)
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(token)})
	if err == nil {
		return aws.ToString(out.ARN), nil
	}
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create the Label Studio credential secret: %w", err)
	}
	put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(token)})
	if err != nil {
		return "", fmt.Errorf("update the Label Studio credential secret: %w", err)
	}
	return aws.ToString(put.ARN), nil
}
