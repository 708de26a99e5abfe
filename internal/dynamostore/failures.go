package dynamostore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// FailureRetention is how long failure records are kept (DynamoDB TTL), the
// same as SQS's longest message retention.
const FailureRetention = 14 * 24 * time.Hour

// FailureKey is the partition key of the failure record of a message or
// event: get it with GetItem to learn why a create did not happen.
func FailureKey(source, messageID string) string { return "FAILURE#" + source + "#" + messageID }

// RecordFailure keeps a permanent failure of an event-borne create. A
// redelivered message overwrites its own record, which is harmless.
func (s *Store) RecordFailure(ctx context.Context, f core.Failure) error {
	now := time.Now().UTC()
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]types.AttributeValue{
			"pk":          &types.AttributeValueMemberS{Value: FailureKey(f.Source, f.MessageID)},
			"kind":        &types.AttributeValueMemberS{Value: "failure"},
			"source":      &types.AttributeValueMemberS{Value: f.Source},
			"message_id":  &types.AttributeValueMemberS{Value: f.MessageID},
			"status_code": &types.AttributeValueMemberN{Value: strconv.Itoa(f.Status)},
			"error":       &types.AttributeValueMemberS{Value: string(f.Error)},
			"created_at":  &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)},
			TTLAttribute:  &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(FailureRetention).Unix(), 10)},
		},
	})
	if err != nil {
		return fmt.Errorf("record failure of %s message %s: %w", f.Source, f.MessageID, err)
	}
	return nil
}
