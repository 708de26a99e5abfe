package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// CounterKey is the partition key of the id counter of storages of kind
// k: each kind counts its own ids, as Label Studio's tables do.
func CounterKey(k storage.Kind) string {
	if k == storage.KindExport {
		return "COUNTER#export-storage-id"
	}
	return "COUNTER#storage-id"
}

// IDBlocks allocates storage ids from one atomic counter, reserving a block
// of ids per call so that a warm instance touches DynamoDB once per block
// instead of once per create. Ids are unique across instances; ids left in a
// block when an instance retires are skipped, as a database sequence skips
// values after a rollback.
//
// The counter heals itself: when it is found missing (deleted, or the table
// restored without it) or an id turns out to be taken (SkipTaken), it is
// moved past the highest storage id, which the by-id index gives in one
// query.
type IDBlocks struct {
	Client    API
	Table     string
	BlockSize int64
	// Kind is the kind of the storages numbered (the zero value: import).
	Kind storage.Kind

	mu   sync.Mutex
	next int64 // next id to hand out
	last int64 // last id of the reserved block
}

// NextID returns an id no other caller of the same table has received.
func (a *IDBlocks) NextID(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == 0 || a.next > a.last {
		if err := a.reserve(ctx); err != nil {
			return 0, err
		}
	}
	id := a.next
	a.next++
	return id, nil
}

// reserve takes the next block of ids. It runs with a.mu held.
func (a *IDBlocks) reserve(ctx context.Context) error {
	size := max(a.BlockSize, 1)
	for range 2 {
		out, err := a.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(a.Table),
			Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: CounterKey(a.Kind)}},
			UpdateExpression:          aws.String("ADD #v :n"),
			ExpressionAttributeNames:  map[string]string{"#v": "value"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.FormatInt(size, 10)}},
			ReturnValues:              types.ReturnValueUpdatedOld,
		})
		if err != nil {
			return fmt.Errorf("reserve storage ids: %w", err)
		}
		old := int64(0)
		if v := numberString(out.Attributes, "value"); v != "" {
			if old, err = strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("reserve storage ids: %w", err)
			}
		} else {
			// The counter was missing: make sure the block is above every
			// storage before handing it out.
			highest, err := a.highestID(ctx)
			if err != nil {
				return err
			}
			if highest > 0 {
				if err := a.raiseTo(ctx, highest); err != nil {
					return err
				}
				continue
			}
		}
		a.next, a.last = old+1, old+size
		return nil
	}
	return errors.New("reserve storage ids: the counter keeps disappearing")
}

// SkipTaken moves the counter past every existing storage after id was
// found in use, and drops this instance's block.
func (a *IDBlocks) SkipTaken(ctx context.Context, id int64) error {
	highest, err := a.highestID(ctx)
	if err != nil {
		return err
	}
	if err := a.raiseTo(ctx, max(highest, id)); err != nil {
		return err
	}
	a.mu.Lock()
	a.next, a.last = 0, 0
	a.mu.Unlock()
	return nil
}

// highestID returns the highest storage id, 0 when there is none.
func (a *IDBlocks) highestID(ctx context.Context) (int64, error) {
	out, err := a.Client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(a.Table),
		IndexName:                 aws.String(IDIndex),
		KeyConditionExpression:    aws.String("#kind = :storage"),
		ExpressionAttributeNames:  map[string]string{"#kind": "kind"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":storage": &types.AttributeValueMemberS{Value: itemKind(a.Kind)}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
		ProjectionExpression:      aws.String("id"),
	})
	if err != nil {
		return 0, fmt.Errorf("find the highest storage id: %w", err)
	}
	if len(out.Items) == 0 {
		return 0, nil
	}
	return numberAttr(out.Items[0], "id")
}

// raiseTo sets the counter to floor unless it is already at or above it.
func (a *IDBlocks) raiseTo(ctx context.Context, floor int64) error {
	n := &types.AttributeValueMemberN{Value: strconv.FormatInt(floor, 10)}
	_, err := a.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(a.Table),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: CounterKey(a.Kind)}},
		UpdateExpression:          aws.String("SET #v = :floor"),
		ConditionExpression:       aws.String("attribute_not_exists(#v) OR #v < :floor"),
		ExpressionAttributeNames:  map[string]string{"#v": "value"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":floor": n},
	})
	var condErr *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &condErr) {
		return fmt.Errorf("move the id counter to %d: %w", floor, err)
	}
	return nil
}
