package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// ExportedKey is the partition key of what an export storage's volume
// holds of an annotation.
func ExportedKey(storageID, annotation int64) string {
	return "EXPORTED#" + strconv.FormatInt(storageID, 10) + "#" + strconv.FormatInt(annotation, 10)
}

// exportedIndexValue is the LinkIndex hash value of an export storage's
// records: the storage id negated, so that they never mix with the links
// of the import storage of the same id.
func exportedIndexValue(storageID int64) string { return strconv.FormatInt(-storageID, 10) }

// LockAnnotation implements core.ExportLocks: a conditional update that
// takes the lock only when it is free (absent or expired).
func (s *Syncs) LockAnnotation(ctx context.Context, storageID, annotation int64, now, until time.Time) (core.AnnotationVersion, error) {
	out, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 keyOf(ExportedKey(storageID, annotation)),
		UpdateExpression:    aws.String("SET lock_until = :until, link_storage = :s, kind = :kind"),
		ConditionExpression: aws.String("attribute_not_exists(lock_until) OR lock_until < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": &types.AttributeValueMemberN{Value: strconv.FormatInt(until.UnixMilli(), 10)},
			":now":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
			":s":     &types.AttributeValueMemberN{Value: exportedIndexValue(storageID)},
			":kind":  &types.AttributeValueMemberS{Value: "exported"},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return core.AnnotationVersion{}, fmt.Errorf("annotation %d of export storage %d: %w", annotation, storageID, core.ErrSyncBusy)
	}
	if err != nil {
		return core.AnnotationVersion{}, fmt.Errorf("lock annotation %d: %w", annotation, err)
	}
	var v core.AnnotationVersion
	if w, ok := out.Attributes["written"].(*types.AttributeValueMemberS); ok {
		v.Written, _ = time.Parse(time.RFC3339Nano, w.Value)
	}
	if r, ok := out.Attributes["removed"].(*types.AttributeValueMemberBOOL); ok {
		v.Removed = r.Value
	}
	return v, nil
}

// UnlockAnnotation implements core.ExportLocks.
func (s *Syncs) UnlockAnnotation(ctx context.Context, storageID, annotation int64, v core.AnnotationVersion) error {
	written := ""
	if !v.Written.IsZero() {
		written = v.Written.UTC().Format(time.RFC3339Nano)
	}
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.Table),
		Key:              keyOf(ExportedKey(storageID, annotation)),
		UpdateExpression: aws.String("SET written = :w, removed = :r REMOVE lock_until"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":w": &types.AttributeValueMemberS{Value: written},
			":r": &types.AttributeValueMemberBOOL{Value: v.Removed},
		},
	})
	if err != nil {
		return fmt.Errorf("unlock annotation %d: %w", annotation, err)
	}
	return nil
}

// ForgetAnnotations implements core.ExportLocks.
func (s *Syncs) ForgetAnnotations(ctx context.Context, storageID int64, limit int) (bool, error) {
	out, err := s.Client.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(LinkIndex),
		KeyConditionExpression:    aws.String("link_storage = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberN{Value: exportedIndexValue(storageID)}},
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return false, fmt.Errorf("find the annotations of export storage %d: %w", storageID, err)
	}
	reqs := make([]types.WriteRequest, 0, len(out.Items))
	for _, item := range out.Items {
		if pk, ok := item["pk"].(*types.AttributeValueMemberS); ok {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyOf(pk.Value)}})
		}
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return false, err
	}
	return len(out.LastEvaluatedKey) > 0 || len(out.Items) == limit, nil
}
