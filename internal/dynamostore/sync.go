package dynamostore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// LinkIndex is the index of links by storage (hash "link_storage" N, range
// "pk"), through which a deleted storage's links are found and removed.
const LinkIndex = "by-link-storage"

// BatchAPI is the part of the DynamoDB client the sync store needs beyond
// API.
type BatchAPI interface {
	API
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Syncs keeps the storages' sync states and links (core.SyncStore), and
// what export storages wrote (core.ExportLocks).
type Syncs struct {
	Client BatchAPI
	Table  string
	// Export keeps export storages' syncs (EXPORTSYNC#<id>), apart from
	// the import storages' of the same ids.
	Export bool
}

// ExportSyncKey is the partition key of an export storage's sync state.
func ExportSyncKey(storageID int64) string { return "EXPORTSYNC#" + strconv.FormatInt(storageID, 10) }

func (s *Syncs) syncKey(storageID int64) string {
	if s.Export {
		return ExportSyncKey(storageID)
	}
	return SyncKey(storageID)
}

// SyncKey is the partition key of a storage's sync state.
func SyncKey(storageID int64) string { return "SYNC#" + strconv.FormatInt(storageID, 10) }

// LinkKey is the partition key of the link of a storage's file: the key is
// hashed, for a partition key holds at most 2,048 bytes and a path more.
func LinkKey(storageID int64, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "LINK#" + strconv.FormatInt(storageID, 10) + "#" + hex.EncodeToString(sum[:])
}

// syncItem is a sync state's item.
type syncItem struct {
	PK               string    `dynamodbav:"pk"`
	Kind             string    `dynamodbav:"kind"`
	Storage          int64     `dynamodbav:"storage"`
	Job              string    `dynamodbav:"job"`
	Status           string    `dynamodbav:"status"`
	Attempts         int64     `dynamodbav:"attempts"`
	Queued           time.Time `dynamodbav:"time_queued"`
	InProgress       time.Time `dynamodbav:"time_in_progress"`
	Ping             time.Time `dynamodbav:"time_last_ping"`
	Finished         time.Time `dynamodbav:"time_finished"`
	Created          int64     `dynamodbav:"tasks_created"`
	Existed          int64     `dynamodbav:"tasks_existed"`
	FailedValidation int64     `dynamodbav:"tasks_failed_validation"`
	Problems         []string  `dynamodbav:"failed_files,omitempty"`
	Traceback        string    `dynamodbav:"traceback,omitempty"`
	Step             int64     `dynamodbav:"step"`
	Cursor           string    `dynamodbav:"cursor,omitempty"`
	DataKey          string    `dynamodbav:"data_key,omitempty"`
	Unsettled        bool      `dynamodbav:"unsettled"`
	SettledBelow     int64     `dynamodbav:"settled_below"`
	Watermark        int64     `dynamodbav:"watermark"`
	LeaseUntil       time.Time `dynamodbav:"lease_until"`
	Revision         int64     `dynamodbav:"revision"`
	// WriteToken tells this very write from another one when its
	// condition fails on a retry (see PutSync).
	WriteToken string `dynamodbav:"write_token"`
}

func itemOfSync(pk string, s core.SyncState) syncItem {
	return syncItem{
		PK: pk, Kind: "sync", Storage: s.Storage, Job: s.Job, Status: string(s.Status),
		Attempts: s.Attempts, Queued: s.Queued, InProgress: s.InProgress, Ping: s.Ping, Finished: s.Finished,
		Created: s.Created, Existed: s.Existed, FailedValidation: s.FailedValidation, Problems: s.Problems,
		Traceback: s.Traceback, Step: s.Step, Cursor: s.Cursor, DataKey: s.DataKey, Unsettled: s.Unsettled,
		SettledBelow: s.SettledBelow, Watermark: s.Watermark, LeaseUntil: s.LeaseUntil, Revision: s.Revision,
	}
}

func (it syncItem) state() core.SyncState {
	return core.SyncState{
		Storage: it.Storage, Job: it.Job, Status: core.SyncStatus(it.Status), Attempts: it.Attempts,
		Queued: it.Queued, InProgress: it.InProgress, Ping: it.Ping, Finished: it.Finished,
		Created: it.Created, Existed: it.Existed, FailedValidation: it.FailedValidation, Problems: it.Problems,
		Traceback: it.Traceback, Step: it.Step, Cursor: it.Cursor, DataKey: it.DataKey, Unsettled: it.Unsettled,
		SettledBelow: it.SettledBelow, Watermark: it.Watermark, LeaseUntil: it.LeaseUntil, Revision: it.Revision,
	}
}

func keyOf(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
}

// GetSync implements core.SyncStore (a strongly consistent read: the
// worker's guard depends on the latest step).
func (s *Syncs) GetSync(ctx context.Context, storageID int64) (core.SyncState, bool, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyOf(s.syncKey(storageID)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return core.SyncState{}, false, fmt.Errorf("get sync %d: %w", storageID, err)
	}
	if out.Item == nil {
		return core.SyncState{}, false, nil
	}
	var it syncItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return core.SyncState{}, false, fmt.Errorf("decode sync %d: %w", storageID, err)
	}
	return it.state(), true, nil
}

// GetSyncs implements core.SyncStore.
func (s *Syncs) GetSyncs(ctx context.Context, storageIDs []int64) (map[int64]core.SyncState, error) {
	out := map[int64]core.SyncState{}
	keys := make([]map[string]types.AttributeValue, 0, len(storageIDs))
	for _, id := range storageIDs {
		keys = append(keys, keyOf(s.syncKey(id)))
	}
	err := s.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var it syncItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		out[it.Storage] = it.state()
		return nil
	})
	return out, err
}

// maxBatchGet and maxBatchWrite are DynamoDB's batch sizes.
const (
	maxBatchGet   = 100
	maxBatchWrite = 25
	// maxBatchRounds bounds the retries of unprocessed items.
	maxBatchRounds = 8
)

// batchParallel is how many batches of one call are in flight at once:
// a page's 40 batch writes one after another would take as long as its
// import into Label Studio.
const batchParallel = 8

// inBatches runs do on each batch of n items of size, batchParallel at a
// time, and returns the first error.
func inBatches(ctx context.Context, n, size int, do func(ctx context.Context, start, end int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(batchParallel)
	for start := 0; start < n; start += size {
		g.Go(func() error { return do(ctx, start, min(start+size, n)) })
	}
	return g.Wait()
}

// batchGet reads keys (distinct) in batches, retrying what DynamoDB left
// unprocessed, and passes each item found to each (one call at a time).
func (s *Syncs) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, each func(map[string]types.AttributeValue) error) error {
	var mu sync.Mutex
	return inBatches(ctx, len(keys), maxBatchGet, func(ctx context.Context, start, end int) error {
		todo := keys[start:end]
		for round := 0; len(todo) > 0; round++ {
			if round == maxBatchRounds {
				return fmt.Errorf("batch get: %d keys left unprocessed", len(todo))
			}
			if round > 0 {
				if err := pause(ctx, round); err != nil {
					return err
				}
			}
			out, err := s.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.Table: {Keys: todo, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return fmt.Errorf("batch get: %w", err)
			}
			mu.Lock()
			for _, item := range out.Responses[s.Table] {
				if err := each(item); err != nil {
					mu.Unlock()
					return fmt.Errorf("batch get: decode: %w", err)
				}
			}
			mu.Unlock()
			todo = out.UnprocessedKeys[s.Table].Keys
		}
		return nil
	})
}

// batchWrite writes requests in batches, retrying what DynamoDB left
// unprocessed.
func (s *Syncs) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	return inBatches(ctx, len(reqs), maxBatchWrite, func(ctx context.Context, start, end int) error {
		todo := reqs[start:end]
		for round := 0; len(todo) > 0; round++ {
			if round == maxBatchRounds {
				return fmt.Errorf("batch write: %d items left unprocessed", len(todo))
			}
			if round > 0 {
				if err := pause(ctx, round); err != nil {
					return err
				}
			}
			out, err := s.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.Table: todo}})
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			todo = out.UnprocessedItems[s.Table]
		}
		return nil
	})
}

// pause backs off before a retry of unprocessed items.
func pause(ctx context.Context, round int) error {
	t := time.NewTimer(time.Duration(25<<min(round, 5)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// PutSync implements core.SyncStore. The write carries a random token:
// when the SDK retries a write whose answer was lost, the retry's
// condition fails on the write itself, which the token tells apart from
// another writer's (that is a conflict).
func (s *Syncs) PutSync(ctx context.Context, st core.SyncState) error {
	it := itemOfSync(s.syncKey(st.Storage), st)
	it.Revision = st.Revision + 1
	var token [12]byte
	if _, err := rand.Read(token[:]); err != nil {
		return fmt.Errorf("put sync %d: %w", st.Storage, err)
	}
	it.WriteToken = hex.EncodeToString(token[:])
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("encode sync %d: %w", st.Storage, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}
	if st.Revision == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("revision = :r")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":r": &types.AttributeValueMemberN{Value: strconv.FormatInt(st.Revision, 10)}}
	}
	_, err = s.Client.PutItem(ctx, in)
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		if s.wrote(ctx, it) {
			return nil
		}
		return fmt.Errorf("sync %d changed: %w", st.Storage, core.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put sync %d: %w", st.Storage, err)
	}
	return nil
}

// wrote reports whether the stored sync state is it, written by an earlier
// attempt of the same PutSync.
func (s *Syncs) wrote(ctx context.Context, it syncItem) bool {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyOf(it.PK), ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		return false
	}
	var stored syncItem
	return attributevalue.UnmarshalMap(out.Item, &stored) == nil && stored.Revision == it.Revision && stored.WriteToken == it.WriteToken
}

// DeleteSync implements core.SyncStore.
func (s *Syncs) DeleteSync(ctx context.Context, storageID int64) error {
	_, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: keyOf(s.syncKey(storageID))})
	if err != nil {
		return fmt.Errorf("delete sync %d: %w", storageID, err)
	}
	return nil
}

// linkItem is a link's item.
type linkItem struct {
	PK      string  `dynamodbav:"pk"`
	Kind    string  `dynamodbav:"kind"`
	Storage int64   `dynamodbav:"link_storage"`
	Key     string  `dynamodbav:"key"`
	Tasks   []int64 `dynamodbav:"tasks"`
	Created string  `dynamodbav:"created_at"`
}

// Links implements core.SyncStore.
func (s *Syncs) Links(ctx context.Context, storageID int64, keys []string) (map[string]core.Link, error) {
	out := map[string]core.Link{}
	seen := map[string]bool{}
	var req []map[string]types.AttributeValue
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			req = append(req, keyOf(LinkKey(storageID, k)))
		}
	}
	err := s.batchGet(ctx, req, func(item map[string]types.AttributeValue) error {
		var it linkItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		if it.Storage == storageID && seen[it.Key] {
			out[it.Key] = core.Link{Key: it.Key, Tasks: it.Tasks}
		}
		return nil
	})
	return out, err
}

// PutLinks implements core.SyncStore.
func (s *Syncs) PutLinks(ctx context.Context, storageID int64, links []core.Link) error {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	reqs := make([]types.WriteRequest, 0, len(links))
	for _, l := range links {
		item, err := attributevalue.MarshalMap(linkItem{PK: LinkKey(storageID, l.Key), Kind: "link", Storage: storageID, Key: l.Key, Tasks: l.Tasks, Created: now})
		if err != nil {
			return fmt.Errorf("encode link: %w", err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	return s.batchWrite(ctx, reqs)
}

// DeleteLinks implements core.SyncStore.
func (s *Syncs) DeleteLinks(ctx context.Context, storageID int64, keys []string) error {
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyOf(LinkKey(storageID, k))}})
	}
	return s.batchWrite(ctx, reqs)
}

// PurgeLinks implements core.SyncStore: it finds up to limit links through
// LinkIndex and deletes them.
func (s *Syncs) PurgeLinks(ctx context.Context, storageID int64, limit int) (bool, error) {
	out, err := s.Client.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(LinkIndex),
		KeyConditionExpression:    aws.String("link_storage = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberN{Value: strconv.FormatInt(storageID, 10)}},
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return false, fmt.Errorf("find links of storage %d: %w", storageID, err)
	}
	reqs := make([]types.WriteRequest, 0, len(out.Items))
	for _, item := range out.Items {
		pk, ok := item["pk"].(*types.AttributeValueMemberS)
		if !ok {
			continue
		}
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyOf(pk.Value)}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return false, err
	}
	return len(out.LastEvaluatedKey) > 0 || len(out.Items) == limit, nil
}
