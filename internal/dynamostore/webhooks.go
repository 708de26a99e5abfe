package dynamostore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// WebhookKey is the partition key of the item that keeps the id of the
// Label Studio webhook of export storage id (core.WebhookStore). The
// webhook's secret is never here: it is in the storage's secret.
func WebhookKey(id int64) string { return "WEBHOOK#" + strconv.FormatInt(id, 10) }

// PutWebhook implements core.WebhookStore.
func (s *Store) PutWebhook(ctx context.Context, storageID, webhookID int64) error {
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]types.AttributeValue{
			"pk":      &types.AttributeValueMemberS{Value: WebhookKey(storageID)},
			"kind":    &types.AttributeValueMemberS{Value: "webhook"},
			"webhook": &types.AttributeValueMemberN{Value: strconv.FormatInt(webhookID, 10)},
		},
	})
	if err != nil {
		return fmt.Errorf("put the webhook of export storage %d: %w", storageID, err)
	}
	return nil
}

// GetWebhook implements core.WebhookStore.
func (s *Store) GetWebhook(ctx context.Context, storageID int64) (int64, bool, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyOf(WebhookKey(storageID)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, false, fmt.Errorf("get the webhook of export storage %d: %w", storageID, err)
	}
	n, ok := out.Item["webhook"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("the webhook of export storage %d: %w", storageID, err)
	}
	return id, true, nil
}

// DeleteWebhook implements core.WebhookStore.
func (s *Store) DeleteWebhook(ctx context.Context, storageID int64) error {
	_, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: keyOf(WebhookKey(storageID))})
	if err != nil {
		return fmt.Errorf("delete the webhook of export storage %d: %w", storageID, err)
	}
	return nil
}
