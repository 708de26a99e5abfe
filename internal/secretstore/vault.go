package secretstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
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

// Staging labels. Which version of a secret goes with a storage is said by
// the storage's record (storage.Record.SecretVersionID), not by a label:
// labels are kept for what they still do (see PromoteSecretVersion).
const (
	// stageCurrent is the version Secrets Manager reads by default, and the
	// version of records that name none.
	stageCurrent = "AWSCURRENT"
	// StagePending marks the version last written and not yet confirmed by
	// a record write. Writing a version with it leaves AWSCURRENT where it
	// is, so a write whose record write then fails changes nothing anybody
	// reads; the next write takes the label, and the version is left
	// unlabelled (an orphan that nothing names, deleted with the secret).
	StagePending = "LSDBX_PENDING"
)

// ReadSecret returns the values of the secret's version versionID, and
// that id; of its current version (AWSCURRENT) when versionID is empty.
func (v *Vault) ReadSecret(ctx context.Context, arn, versionID string) (map[string]string, string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	} else {
		// Named, although it is the default, so that the read does not
		// depend on a default (moto's differs after a stage move).
		in.VersionStage = aws.String(stageCurrent)
	}
	out, err := v.Client.GetSecretValue(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("read secret %s version %q: %w", arn, versionID, err)
	}
	var values map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &values); err != nil {
		return nil, "", fmt.Errorf("secret %s is not a JSON object of strings", arn)
	}
	return values, aws.ToString(out.VersionId), nil
}

// PutSecretVersion adds values as a new version of the secret, labelled
// StagePending and not current, and returns its id: the version becomes
// the storage's when a record write names it. The version id is chosen
// here, so that the SDK's retries of a call whose response was lost create
// no second version.
func (v *Vault) PutSecretVersion(ctx context.Context, arn string, values map[string]string) (string, error) {
	body, err := json.Marshal(values)
	if err != nil {
		return "", fmt.Errorf("encode secret %s: %w", arn, err)
	}
	out, err := v.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(arn),
		SecretString:       aws.String(string(body)),
		ClientRequestToken: aws.String(uuid.NewString()),
		VersionStages:      []string{StagePending},
	})
	if err != nil {
		return "", fmt.Errorf("put a version of secret %s: %w", arn, err)
	}
	return aws.ToString(out.VersionId), nil
}

// PromoteSecretVersion moves AWSCURRENT to versionID, from previous (the
// version the record named before) or, when AWSCURRENT is elsewhere (a
// concurrent update promoted its own), from wherever it is. Nothing reads
// AWSCURRENT for a record that names its version: the label keeps the
// version labelled (Secrets Manager may remove unlabelled versions once a
// secret has more than 100) and AWSCURRENT meaningful to a person reading
// the secret. Concurrent promotions may leave AWSCURRENT on an older
// version than the record names; the next promotion repairs that.
func (v *Vault) PromoteSecretVersion(ctx context.Context, arn, versionID, previous string) error {
	err := v.moveCurrent(ctx, arn, versionID, previous)
	var invalid *types.InvalidParameterException
	if err == nil || !errors.As(err, &invalid) {
		return err
	}
	out, readErr := v.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(arn), VersionStage: aws.String(stageCurrent)})
	if readErr != nil {
		return errors.Join(err, fmt.Errorf("find the current version of secret %s: %w", arn, readErr))
	}
	holder := aws.ToString(out.VersionId)
	if holder == versionID {
		return nil
	}
	return v.moveCurrent(ctx, arn, versionID, holder)
}

func (v *Vault) moveCurrent(ctx context.Context, arn, versionID, from string) error {
	_, err := v.Client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            aws.String(arn),
		VersionStage:        aws.String(stageCurrent),
		MoveToVersionId:     aws.String(versionID),
		RemoveFromVersionId: aws.String(from),
	})
	if err != nil {
		return fmt.Errorf("make version %s of secret %s current: %w", versionID, arn, err)
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
