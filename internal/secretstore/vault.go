package secretstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/uuid"
)

// VaultAPI is the part of the Secrets Manager client Vault uses.
type VaultAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// Vault reads, versions and deletes existing storage secrets: what the
// function that manages storages does, and the create function may not.
type Vault struct {
	Client VaultAPI
	// RecoveryDays is how long a deleted storage's secret can be restored
	// (7 to 30), or 0 to delete it at once.
	RecoveryDays int32
}

// stageCurrent is the version stage Secrets Manager reads by default.
const stageCurrent = "AWSCURRENT"

// ReadSecret returns a secret's current values and version id.
func (v *Vault) ReadSecret(ctx context.Context, arn string) (map[string]string, string, error) {
	out, err := v.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, "", fmt.Errorf("read secret %s: %w", arn, err)
	}
	var values map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &values); err != nil {
		return nil, "", fmt.Errorf("secret %s is not a JSON object of strings", arn)
	}
	return values, aws.ToString(out.VersionId), nil
}

// PutSecretVersion makes values the secret's current version; Secrets
// Manager keeps the version it replaces as AWSPREVIOUS. The version id is
// chosen here, so that the SDK's retries of a call whose response was lost
// create no second version.
func (v *Vault) PutSecretVersion(ctx context.Context, arn string, values map[string]string) (string, error) {
	body, err := json.Marshal(values)
	if err != nil {
		return "", fmt.Errorf("encode secret %s: %w", arn, err)
	}
	out, err := v.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(arn),
		SecretString:       aws.String(string(body)),
		ClientRequestToken: aws.String(uuid.NewString()),
	})
	if err != nil {
		return "", fmt.Errorf("put a version of secret %s: %w", arn, err)
	}
	return aws.ToString(out.VersionId), nil
}

// RestoreSecretVersion makes versionID current again, taking the stage from
// replacing.
func (v *Vault) RestoreSecretVersion(ctx context.Context, arn, versionID, replacing string) error {
	_, err := v.Client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            aws.String(arn),
		VersionStage:        aws.String(stageCurrent),
		MoveToVersionId:     aws.String(versionID),
		RemoveFromVersionId: aws.String(replacing),
	})
	if err != nil {
		return fmt.Errorf("restore version %s of secret %s: %w", versionID, arn, err)
	}
	return nil
}

// ScheduleSecretDeletion deletes a secret after the recovery window, or at
// once when it is 0. A secret already gone counts as deleted.
func (v *Vault) ScheduleSecretDeletion(ctx context.Context, arn string) error {
	if v.RecoveryDays == 0 {
		return ForceDelete(ctx, v.Client, arn)
	}
	_, err := v.Client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:             aws.String(arn),
		RecoveryWindowInDays: aws.Int64(int64(v.RecoveryDays)),
	})
	if err != nil {
		return fmt.Errorf("schedule the deletion of secret %s: %w", arn, err)
	}
	return nil
}
