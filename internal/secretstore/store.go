// Package secretstore keeps each storage's credentials in one AWS Secrets
// Manager secret.
package secretstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// API is the part of the Secrets Manager client the store uses.
type API interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// Tag keys set on every secret, so a secret can be traced to its storage
// (and the sweep can find secrets whose record never appeared), and the
// value of TagManagedBy.
const (
	TagProject   = "label-studio:project"
	TagStorageID = "label-studio:storage-id"
	TagManagedBy = "managed-by"
	ManagedBy    = "label-studio-databricks-storage"
)

// DefaultPrefix starts the secret names when no prefix is configured.
const DefaultPrefix = "label-studio/databricks-storage/"

// Name returns the name of a storage's secret under prefix.
func Name(prefix string, storageID int64) string {
	return prefix + "storage-" + strconv.FormatInt(storageID, 10)
}

// Store creates and deletes storage secrets.
type Store struct {
	Client API
	// Prefix starts every secret name; IAM grants access to this prefix only.
	Prefix string
	// KMSKeyID encrypts the secrets when set; the AWS-managed key otherwise.
	KMSKeyID string
}

// Name returns the secret name of a storage.
func (s *Store) Name(storageID int64) string { return Name(s.Prefix, storageID) }

// CreateSecret stores the values as one JSON secret and returns its ARN.
func (s *Store) CreateSecret(ctx context.Context, in core.NewSecret) (string, error) {
	body, err := json.Marshal(in.Values)
	if err != nil {
		return "", fmt.Errorf("encode secret for storage %d: %w", in.StorageID, err)
	}
	input := &secretsmanager.CreateSecretInput{
		Name:         aws.String(s.Name(in.StorageID)),
		SecretString: aws.String(string(body)),
		Description:  aws.String("Databricks credentials of Label Studio import storage " + strconv.FormatInt(in.StorageID, 10)),
		Tags: []types.Tag{
			{Key: aws.String(TagProject), Value: aws.String(strconv.FormatInt(in.Project, 10))},
			{Key: aws.String(TagStorageID), Value: aws.String(strconv.FormatInt(in.StorageID, 10))},
			{Key: aws.String(TagManagedBy), Value: aws.String(ManagedBy)},
		},
	}
	if s.KMSKeyID != "" {
		input.KmsKeyId = aws.String(s.KMSKeyID)
	}
	out, err := s.Client.CreateSecret(ctx, input)
	if err != nil {
		s.discard(ctx, in.StorageID)
		return "", fmt.Errorf("create secret for storage %d: %w", in.StorageID, err)
	}
	return aws.ToString(out.ARN), nil
}

// discardTimeout bounds the clean-up after a failed create.
const discardTimeout = 5 * time.Second

// discard deletes, by name, a secret whose creation reported an error: a
// lost response can hide a create that happened. Ids are never reused, so
// the name can belong to no one else. What it cannot delete, the sweep will.
func (s *Store) discard(ctx context.Context, storageID int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discardTimeout)
	defer cancel()
	_ = s.DeleteSecret(ctx, s.Name(storageID))
}

// DeleteSecret deletes a secret (by ARN or name) at once, without a recovery window. A secret
// that is already gone counts as deleted.
func (s *Store) DeleteSecret(ctx context.Context, arn string) error {
	return ForceDelete(ctx, s.Client, arn)
}

// DeleteAPI is the part of the Secrets Manager client ForceDelete uses.
type DeleteAPI interface {
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// ForceDelete deletes a secret (by ARN or name) at once, without a recovery
// window. A secret that is already gone counts as deleted.
func ForceDelete(ctx context.Context, client DeleteAPI, id string) error {
	_, err := client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:                   aws.String(id),
		ForceDeleteWithoutRecovery: aws.Bool(true),
	})
	var notFound *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("delete secret %s: %w", id, err)
	}
	return nil
}
