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
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// TransactAPI is the part of the DynamoDB client that writes transactions.
type TransactAPI interface {
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// KeyKey is the partition key of an idempotency key's item (of an import
// storage's create).
func KeyKey(key string) string { return IdempotencyKey(storage.KindImport, key) }

// IdempotencyKey is the partition key of the item of an idempotency key of
// a create of kind k: each kind's keys apart, so that the same key sent to
// both creates never replays one kind's storage as the other's.
func IdempotencyKey(k storage.Kind, key string) string {
	if k == storage.KindExport {
		return "EXPORT-IDEMPOTENCY#" + key
	}
	return "IDEMPOTENCY#" + key
}

func (s *Store) idempotencyKey(key string) string { return IdempotencyKey(s.Kind, key) }

func (s *Store) transact() (TransactAPI, error) {
	t, ok := s.Client.(TransactAPI)
	if !ok {
		return nil, errors.New("the DynamoDB client cannot write transactions")
	}
	return t, nil
}

// FindKey returns the unexpired record of an idempotency key. DynamoDB's TTL
// deletes expired items late, so expiry is checked here too.
func (s *Store) FindKey(ctx context.Context, key string) (core.IdempotencyRecord, bool, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: s.idempotencyKey(key)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return core.IdempotencyRecord{}, false, fmt.Errorf("get idempotency key: %w", err)
	}
	if out.Item == nil {
		return core.IdempotencyRecord{}, false, nil
	}
	rec := core.IdempotencyRecord{Key: key}
	if v, ok := out.Item["fingerprint"].(*types.AttributeValueMemberS); ok {
		rec.Fingerprint = v.Value
	}
	id, errID := numberAttr(out.Item, "storage_id")
	expires, errExp := numberAttr(out.Item, TTLAttribute)
	if err := errors.Join(errID, errExp); err != nil {
		return core.IdempotencyRecord{}, false, fmt.Errorf("decode idempotency key: %w", err)
	}
	rec.StorageID, rec.ExpiresAt = id, time.Unix(expires, 0)
	if !rec.ExpiresAt.After(time.Now()) {
		return core.IdempotencyRecord{}, false, nil
	}
	return rec, true, nil
}

// PutStorageWithKey writes the record and the idempotency key atomically.
// An expired key that TTL has not deleted yet may be taken over.
func (s *Store) PutStorageWithKey(ctx context.Context, r storage.Record, key core.IdempotencyRecord) error {
	tx, err := s.transact()
	if err != nil {
		return err
	}
	r.Revision = 1
	av, err := s.item(r)
	if err != nil {
		return err
	}
	_, err = tx.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                           aws.String(s.Table),
			Item:                                av,
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: &types.Put{
			TableName: aws.String(s.Table),
			Item: map[string]types.AttributeValue{
				"pk":          &types.AttributeValueMemberS{Value: s.idempotencyKey(key.Key)},
				"kind":        &types.AttributeValueMemberS{Value: "idempotency"},
				"fingerprint": &types.AttributeValueMemberS{Value: key.Fingerprint},
				"storage_id":  &types.AttributeValueMemberN{Value: strconv.FormatInt(key.StorageID, 10)},
				TTLAttribute:  &types.AttributeValueMemberN{Value: strconv.FormatInt(key.ExpiresAt.Unix(), 10)},
			},
			ConditionExpression:                 aws.String("attribute_not_exists(pk) OR #exp < :now"),
			ExpressionAttributeNames:            map[string]string{"#exp": TTLAttribute},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Unix(), 10)}},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	}})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(cancelled.CancellationReasons) == 2 {
		record, guard := cancelled.CancellationReasons[0], cancelled.CancellationReasons[1]
		recordOurs := conditionFailed(record) && stringAttr(record.Item, attrSecretARN) == r.SecretARN
		keyOurs := conditionFailed(guard) && numberString(guard.Item, "storage_id") == strconv.FormatInt(r.ID, 10)
		switch {
		case recordOurs && keyOurs:
			// An earlier attempt of this very write succeeded; its response was lost.
			return nil
		case conditionFailed(guard):
			return fmt.Errorf("put storage %d: %w", r.ID, core.ErrKeyTaken)
		case conditionFailed(record):
			return fmt.Errorf("put storage %d: %w", r.ID, core.ErrIDTaken)
		}
	}
	if err != nil {
		return fmt.Errorf("put storage %d with idempotency key: %w", r.ID, err)
	}
	return nil
}

// DeleteStorageWithKey removes the record (if it refers to secretARN) and the
// key (if it refers to id) atomically; what is missing counts as removed.
func (s *Store) DeleteStorageWithKey(ctx context.Context, id int64, secretARN, key string) error {
	tx, err := s.transact()
	if err != nil {
		return err
	}
	_, err = tx.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName:                 aws.String(s.Table),
			Key:                       s.key(id),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR secret_arn = :arn"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":arn": &types.AttributeValueMemberS{Value: secretARN}},
		}},
		{Delete: &types.Delete{
			TableName:                 aws.String(s.Table),
			Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: s.idempotencyKey(key)}},
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR storage_id = :id"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberN{Value: strconv.FormatInt(id, 10)}},
		}},
	}})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) {
		// A condition failed: the key belongs to another storage, so the
		// atomic put never wrote this record either. Nothing of ours is there.
		for _, reason := range cancelled.CancellationReasons {
			if c := aws.ToString(reason.Code); c != "ConditionalCheckFailed" && c != "None" && c != "" {
				return fmt.Errorf("delete storage %d with idempotency key: %w", id, err)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete storage %d with idempotency key: %w", id, err)
	}
	return nil
}

func conditionFailed(r types.CancellationReason) bool {
	return aws.ToString(r.Code) == "ConditionalCheckFailed"
}

func numberString(item map[string]types.AttributeValue, name string) string {
	v, _ := item[name].(*types.AttributeValueMemberN)
	if v == nil {
		return ""
	}
	return v.Value
}

func numberAttr(item map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s missing", name)
	}
	return strconv.ParseInt(v.Value, 10, 64)
}
