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
// redelivered message overwrites its own record, which is harmless. The
// error is kept as typed attributes: its kind ("error_kind"), the HTTP
// status Label Studio would have answered ("status_code", the kind's), the
// detail and, for field problems, "validation_errors" (a map of lists of
// messages), so that GetItem shows validation_errors.volume directly.
func (s *Store) RecordFailure(ctx context.Context, f core.Failure) error {
	now := time.Now().UTC()
	item := map[string]types.AttributeValue{
		"pk":          &types.AttributeValueMemberS{Value: FailureKey(f.Source, f.MessageID)},
		"kind":        &types.AttributeValueMemberS{Value: "failure"},
		"source":      &types.AttributeValueMemberS{Value: f.Source},
		"message_id":  &types.AttributeValueMemberS{Value: f.MessageID},
		"error_kind":  &types.AttributeValueMemberS{Value: f.Kind.String()},
		"status_code": &types.AttributeValueMemberN{Value: strconv.Itoa(f.Kind.Status())},
		"detail":      &types.AttributeValueMemberS{Value: f.Detail},
		"created_at":  &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)},
		TTLAttribute:  &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(FailureRetention).Unix(), 10)},
	}
	if len(f.Fields) > 0 {
		fields := make(map[string]types.AttributeValue, len(f.Fields))
		for name, msgs := range f.Fields {
			list := make([]types.AttributeValue, len(msgs))
			for i, m := range msgs {
				list[i] = &types.AttributeValueMemberS{Value: m}
			}
			fields[name] = &types.AttributeValueMemberL{Value: list}
		}
		item["validation_errors"] = &types.AttributeValueMemberM{Value: fields}
	}
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item})
	if err != nil {
		return fmt.Errorf("record failure of %s message %s: %w", f.Source, f.MessageID, err)
	}
	return nil
}
