// Package dynamostore keeps storage records and the storage id counter in one
// DynamoDB table.
//
// Key schema (single table, partition key only):
//
//	pk = "STORAGE#<id>"          a storage record (get by id)
//	pk = "COUNTER#storage-id"    the id counter, advanced in blocks
//
// A global secondary index "by-project" (hash "project" N, range "id" N)
// lists a project's storages in id order; only storage records carry
// "project", so the index holds nothing else.
package dynamostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// ProjectIndex is the name of the index that lists storages by project.
const ProjectIndex = "by-project"

// API is the part of the DynamoDB client the store uses.
type API interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// ErrExists is returned when a record with the same key is already stored.
var ErrExists = errors.New("record already exists")

// ErrNotFound is returned when no record has the requested key. It is the
// domain's storage.ErrRecordNotFound.
var ErrNotFound = storage.ErrRecordNotFound

// Store reads and writes storage records.
type Store struct {
	Client API
	Table  string
}

// item is the DynamoDB shape of a storage record. Meta is kept as JSON text
// so any JSON value survives the round trip exactly.
type item struct {
	PK               string  `dynamodbav:"pk"`
	Kind             string  `dynamodbav:"kind"`
	ID               int64   `dynamodbav:"id"`
	Project          int64   `dynamodbav:"project"`
	Type             string  `dynamodbav:"type"`
	CreatedAt        string  `dynamodbav:"created_at"`
	SecretARN        string  `dynamodbav:"secret_arn"`
	Host             string  `dynamodbav:"host"`
	Catalog          string  `dynamodbav:"catalog"`
	Schema           string  `dynamodbav:"schema"`
	Volume           string  `dynamodbav:"volume"`
	Prefix           *string `dynamodbav:"prefix,omitempty"`
	RegexFilter      *string `dynamodbav:"regex_filter,omitempty"`
	AuthType         string  `dynamodbav:"auth_type"`
	ClientID         *string `dynamodbav:"client_id,omitempty"`
	TenantID         *string `dynamodbav:"tenant_id,omitempty"`
	RecursiveScan    bool    `dynamodbav:"recursive_scan"`
	UseBlobURLs      bool    `dynamodbav:"use_blob_urls"`
	VerifyTLS        bool    `dynamodbav:"verify_tls"`
	RequestTimeoutS  int64   `dynamodbav:"request_timeout_s"`
	StreamChunkBytes int64   `dynamodbav:"stream_chunk_bytes"`
	Presign          bool    `dynamodbav:"presign"`
	PresignTTL       int64   `dynamodbav:"presign_ttl"`
	Synchronizable   bool    `dynamodbav:"synchronizable"`
	Status           string  `dynamodbav:"status"`
	Title            *string `dynamodbav:"title,omitempty"`
	Description      *string `dynamodbav:"description,omitempty"`
	LastSync         *string `dynamodbav:"last_sync,omitempty"`
	LastSyncCount    *int64  `dynamodbav:"last_sync_count,omitempty"`
	LastSyncJob      *string `dynamodbav:"last_sync_job,omitempty"`
	MetaJSON         *string `dynamodbav:"meta_json,omitempty"`
	Traceback        *string `dynamodbav:"traceback,omitempty"`
}

const kindStorage = "storage"

// StorageKey is the partition key of a storage record.
func StorageKey(id int64) string { return "STORAGE#" + strconv.FormatInt(id, 10) }

// RecordItem renders a record as a DynamoDB item.
func RecordItem(r storage.Record) (map[string]types.AttributeValue, error) {
	s := r.Storage
	it := item{
		PK: StorageKey(s.ID), Kind: kindStorage, ID: s.ID, Project: s.Project, Type: s.Type,
		CreatedAt: s.CreatedAt.UTC().Format(time.RFC3339Nano), SecretARN: r.SecretARN,
		Host: s.Host, Catalog: s.Catalog, Schema: s.Schema, Volume: s.Volume,
		Prefix: s.Prefix, RegexFilter: s.RegexFilter, AuthType: string(s.AuthType),
		ClientID: s.ClientID, TenantID: s.TenantID, RecursiveScan: s.RecursiveScan,
		UseBlobURLs: s.UseBlobURLs, VerifyTLS: s.VerifyTLS, RequestTimeoutS: s.RequestTimeoutS,
		StreamChunkBytes: s.StreamChunkBytes, Presign: s.Presign, PresignTTL: s.PresignTTL,
		Synchronizable: s.Synchronizable, Status: s.Status, Title: s.Title,
		Description: s.Description, LastSyncCount: s.LastSyncCount, LastSyncJob: s.LastSyncJob,
		Traceback: s.Traceback,
	}
	if s.LastSync != nil {
		v := s.LastSync.UTC().Format(time.RFC3339Nano)
		it.LastSync = &v
	}
	if s.Meta != nil {
		v := string(s.Meta)
		it.MetaJSON = &v
	}
	return attributevalue.MarshalMap(it)
}

// PutStorage writes a new storage record; it never overwrites one.
func (s *Store) PutStorage(ctx context.Context, r storage.Record) error {
	av, err := RecordItem(r)
	if err != nil {
		return fmt.Errorf("marshal storage %d: %w", r.ID, err)
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.Table),
		Item:                av,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var condErr *types.ConditionalCheckFailedException
	if errors.As(err, &condErr) {
		return fmt.Errorf("put storage %d: %w", r.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put storage %d: %w", r.ID, err)
	}
	return nil
}

// DeleteStorage removes the record of id if it refers to secretARN. A missing
// record, or one that belongs to another secret, is left alone and counts as
// deleted.
func (s *Store) DeleteStorage(ctx context.Context, id int64, secretARN string) error {
	_, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: StorageKey(id)}},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR secret_arn = :arn"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":arn": &types.AttributeValueMemberS{Value: secretARN}},
	})
	var condErr *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &condErr) {
		return fmt.Errorf("delete storage %d: %w", id, err)
	}
	return nil
}

// GetStorage reads one storage record by id.
func (s *Store) GetStorage(ctx context.Context, id int64) (storage.Record, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: StorageKey(id)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return storage.Record{}, fmt.Errorf("get storage %d: %w", id, err)
	}
	if out.Item == nil {
		return storage.Record{}, fmt.Errorf("get storage %d: %w", id, ErrNotFound)
	}
	return decodeRecord(out.Item)
}

// ListProject returns a project's storage records in id order.
func (s *Store) ListProject(ctx context.Context, project int64) ([]storage.Record, error) {
	var records []storage.Record
	paginator := dynamodb.NewQueryPaginator(s.Client, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		IndexName:              aws.String(ProjectIndex),
		KeyConditionExpression: aws.String("project = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": &types.AttributeValueMemberN{Value: strconv.FormatInt(project, 10)},
		},
	})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list project %d: %w", project, err)
		}
		for _, av := range page.Items {
			r, err := decodeRecord(av)
			if err != nil {
				return nil, err
			}
			records = append(records, r)
		}
	}
	return records, nil
}

func decodeRecord(av map[string]types.AttributeValue) (storage.Record, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return storage.Record{}, fmt.Errorf("decode storage item: %w", err)
	}
	created, err := time.Parse(time.RFC3339Nano, it.CreatedAt)
	if err != nil {
		return storage.Record{}, fmt.Errorf("decode storage %d created_at: %w", it.ID, err)
	}
	s := storage.Storage{
		ID: it.ID, Type: it.Type, CreatedAt: created,
		Settings: storage.Settings{
			Project: it.Project, Host: it.Host, Catalog: it.Catalog, Schema: it.Schema, Volume: it.Volume,
			Prefix: it.Prefix, RegexFilter: it.RegexFilter, AuthType: storage.AuthType(it.AuthType),
			ClientID: it.ClientID, TenantID: it.TenantID, RecursiveScan: it.RecursiveScan,
			UseBlobURLs: it.UseBlobURLs, VerifyTLS: it.VerifyTLS, RequestTimeoutS: it.RequestTimeoutS,
			StreamChunkBytes: it.StreamChunkBytes, Presign: it.Presign, PresignTTL: it.PresignTTL,
			Synchronizable: it.Synchronizable, Status: it.Status, Title: it.Title,
			Description: it.Description, LastSyncCount: it.LastSyncCount, LastSyncJob: it.LastSyncJob,
			Traceback: it.Traceback,
		},
	}
	if it.LastSync != nil {
		t, err := time.Parse(time.RFC3339Nano, *it.LastSync)
		if err != nil {
			return storage.Record{}, fmt.Errorf("decode storage %d last_sync: %w", it.ID, err)
		}
		s.LastSync = &t
	}
	if it.MetaJSON != nil {
		s.Meta = json.RawMessage(*it.MetaJSON)
	}
	return storage.Record{Storage: s, SecretARN: it.SecretARN}, nil
}
