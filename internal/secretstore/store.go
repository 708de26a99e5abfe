// Package secretstore keeps each storage's credentials in one AWS Secrets
// Manager secret.
package secretstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// API is the part of the Secrets Manager client the store uses.
type API interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
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

// Name returns the name of an import storage's secret under prefix.
func Name(prefix string, storageID int64) string {
	return KindName(prefix, storage.KindImport, storageID)
}

// KindName returns the name of the secret of storage storageID of kind k
// under prefix: <prefix>storage-<id> for an import storage,
// <prefix>export-storage-<id> for an export storage, so that an import and
// an export storage with the same id have secrets apart (and IAM can
// grant each its names). ParseName reads it back.
func KindName(prefix string, k storage.Kind, storageID int64) string {
	return prefix + namePart(k) + strconv.FormatInt(storageID, 10)
}

func namePart(k storage.Kind) string {
	if k == storage.KindExport {
		return "export-storage-"
	}
	return "storage-"
}

// ParseName returns the kind and storage id a secret name under prefix
// names (KindName's inverse); ok is false for any other name.
func ParseName(prefix, name string) (k storage.Kind, storageID int64, ok bool) {
	rest, found := strings.CutPrefix(name, prefix)
	if !found {
		return 0, 0, false
	}
	for _, k := range []storage.Kind{storage.KindImport, storage.KindExport} {
		digits, found := strings.CutPrefix(rest, namePart(k))
		if !found {
			continue
		}
		id, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || id < 1 || KindName(prefix, k, id) != name {
			return 0, 0, false
		}
		return k, id, true
	}
	return 0, 0, false
}

// Store creates and deletes storage secrets.
type Store struct {
	Client API
	// Prefix starts every secret name; IAM grants access to this prefix only.
	Prefix string
	// KMSKeyID encrypts the secrets when set; the AWS-managed key otherwise.
	KMSKeyID string
	// Kind is the kind of the storages whose secrets are created (the zero
	// value: import).
	Kind storage.Kind
}

// Name returns the secret name of a storage.
func (s *Store) Name(storageID int64) string { return KindName(s.Prefix, s.Kind, storageID) }

// CreateSecret stores the values as one JSON secret and returns its ARN
// and the id of its first version, which the storage's record names.
//
// Each create carries a fresh token, as the ClientRequestToken (so that the
// SDK's retries of a create whose response was lost succeed instead of
// failing on the secret they made) and as the version id of the secret's
// first version. A failed create deletes a secret of that name only when
// its versions prove it was this create's; a name that belongs to any other
// secret is reported as core.ErrIDTaken and left alone.
func (s *Store) CreateSecret(ctx context.Context, in core.NewSecret) (arn, versionID string, err error) {
	body, err := json.Marshal(in.Values)
	if err != nil {
		return "", "", fmt.Errorf("encode secret for storage %d: %w", in.StorageID, err)
	}
	token := uuid.NewString()
	input := &secretsmanager.CreateSecretInput{
		Name:               aws.String(s.Name(in.StorageID)),
		SecretString:       aws.String(string(body)),
		ClientRequestToken: aws.String(token),
		Description:        aws.String("Databricks credentials of Label Studio " + s.Kind.String() + " storage " + strconv.FormatInt(in.StorageID, 10)),
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
	if err == nil {
		// The token is the first version's id; the answer says so too.
		return aws.ToString(out.ARN), cmp.Or(aws.ToString(out.VersionId), token), nil
	}
	var exists *types.ResourceExistsException
	var invalid *types.InvalidRequestException
	switch {
	case errors.As(err, &exists):
		// Another secret has the name; with this create's token the SDK's
		// own retries would have succeeded.
		return "", "", fmt.Errorf("create secret for storage %d: %w: %w", in.StorageID, core.ErrIDTaken, err)
	case errors.As(err, &invalid) && strings.Contains(invalid.ErrorMessage(), "scheduled for deletion"):
		// A deleted storage's secret, in its recovery window, holds the name.
		return "", "", fmt.Errorf("create secret for storage %d: %w: %w", in.StorageID, core.ErrIDTaken, err)
	}
	s.discard(ctx, input.Name, token)
	return "", "", fmt.Errorf("create secret for storage %d: %w", in.StorageID, err)
}

// discard deletes the secret named name if, and only if, this create made
// it: a lost response can hide a create that happened, and the secret's
// version ids tell whose it is. What it cannot delete, the sweep will.
func (s *Store) discard(ctx context.Context, name *string, token string) {
	ctx, cancel := core.CleanupContext(ctx)
	defer cancel()
	desc, err := s.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: name})
	if err != nil {
		return
	}
	if _, ours := desc.VersionIdsToStages[token]; ours {
		_ = s.DeleteSecret(ctx, aws.ToString(desc.ARN))
	}
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
