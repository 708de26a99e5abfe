package secretstore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// ValueGetter is the Secrets Manager operation Text needs.
type ValueGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Text returns a function that reads the current text of the secret name
// (an ARN or a name): how the service's Label Studio credential is read.
// Its errors name the secret, never its value.
func Text(client ValueGetter, name string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
		if err != nil {
			return "", fmt.Errorf("read the secret %s: %w", name, err)
		}
		return aws.ToString(out.SecretString), nil
	}
}
