package dynamostore

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const counterKey = "COUNTER#storage-id"

// IDBlocks allocates storage ids from one atomic counter, reserving a block
// of ids per call so that a warm instance touches DynamoDB once per block
// instead of once per create. Ids are unique across instances; ids left in a
// block when an instance retires are skipped, as a database sequence skips
// values after a rollback.
type IDBlocks struct {
	Client    API
	Table     string
	BlockSize int64

	mu   sync.Mutex
	next int64 // next id to hand out
	last int64 // last id of the reserved block
}

// NextID returns an id no other caller of the same table has received.
func (a *IDBlocks) NextID(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == 0 || a.next > a.last {
		size := max(a.BlockSize, 1)
		out, err := a.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(a.Table),
			Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: counterKey}},
			UpdateExpression:          aws.String("ADD #v :n"),
			ExpressionAttributeNames:  map[string]string{"#v": "value"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.FormatInt(size, 10)}},
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		if err != nil {
			return 0, fmt.Errorf("reserve storage ids: %w", err)
		}
		v, ok := out.Attributes["value"].(*types.AttributeValueMemberN)
		if !ok {
			return 0, fmt.Errorf("reserve storage ids: counter has no numeric value")
		}
		last, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reserve storage ids: %w", err)
		}
		a.next, a.last = last-size+1, last
	}
	id := a.next
	a.next++
	return id, nil
}
