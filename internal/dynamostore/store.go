package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Indexes of the table (see the package documentation).
const (
	ProjectIndex = "by-project"
	IDIndex      = "by-id"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// ErrNotFound is returned when no record has the requested key. It is the
// domain's storage.ErrRecordNotFound.
var ErrNotFound = storage.ErrRecordNotFound

// Store reads and writes the storage records of one kind (Kind): import
// and export storages are kept apart, under their own keys and item kind,
// so that an import and an export storage may have the same id.
type Store struct {
	Client API
	Table  string
	// Kind is the kind of the storages kept (the zero value: import).
	Kind storage.Kind
}

// The "kind" attribute of each kind's storage records (the by-id index's
// hash key).
const (
	kindStorage       = "storage"
	kindExportStorage = "export_storage"
)

// itemKind is the "kind" attribute of a storage record of kind k.
func itemKind(k storage.Kind) string {
	if k == storage.KindExport {
		return kindExportStorage
	}
	return kindStorage
}

// StorageKey is the partition key of an import storage's record.
func StorageKey(id int64) string { return RecordKey(storage.KindImport, id) }

// RecordKey is the partition key of the record of storage id of kind k.
func RecordKey(k storage.Kind, id int64) string {
	prefix := "STORAGE#"
	if k == storage.KindExport {
		prefix = "EXPORT#"
	}
	return prefix + strconv.FormatInt(id, 10)
}

// key is the partition key of the store's storage id.
func (s *Store) key(id int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: RecordKey(s.Kind, id)}}
}

// item renders a record of the store's kind; one of another kind is a
// wiring mistake, refused before it could land among the wrong storages.
func (s *Store) item(r storage.Record) (map[string]types.AttributeValue, error) {
	if r.Kind != s.Kind {
		return nil, fmt.Errorf("storage %d is an %s storage; this store keeps %s storages", r.ID, r.Kind, s.Kind)
	}
	av, err := RecordItem(r)
	if err != nil {
		return nil, fmt.Errorf("marshal storage %d: %w", r.ID, err)
	}
	return av, nil
}

// recordItem is the DynamoDB item of a storage record: the storage's fields
// under their API names (the json tags of storage.Storage, so that a new
// field needs no edit here), plus the key, the item kind and the reference
// to the secret. Times are RFC 3339 strings; meta is kept as its JSON text
// (a binary attribute), so any JSON value survives the round trip exactly.
type recordItem struct {
	PK        string `json:"pk"`
	Kind      string `json:"kind"`
	SecretARN string `json:"secret_arn"`
	// SecretVersionID is absent in items written before records named
	// their secret's version.
	SecretVersionID string `json:"secret_version_id,omitempty"`
	Revision        int64  `json:"revision"`
	storage.Storage
}

func withJSONTags(o *attributevalue.EncoderOptions)         { o.TagKey = "json" }
func withJSONTagsDecoding(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

// RecordItem renders a record as a DynamoDB item (of its Kind), with the
// fields its kind has: those of the other kind are left out.
func RecordItem(r storage.Record) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMapWithOptions(recordItem{
		PK: RecordKey(r.Kind, r.ID), Kind: itemKind(r.Kind), SecretARN: r.SecretARN, SecretVersionID: r.SecretVersionID,
		Revision: r.Revision, Storage: r.Storage,
	}, withJSONTags)
	if err != nil {
		return nil, err
	}
	for name := range av {
		if !r.Kind.Takes(name) {
			delete(av, name)
		}
	}
	if r.Kind == storage.KindExport {
		// Kept when false too (its json tag omits it then).
		av[attrCanDeleteObjects] = &types.AttributeValueMemberBOOL{Value: r.CanDeleteObjects}
	}
	return av, nil
}

const attrCanDeleteObjects = "can_delete_objects"

// PutStorage writes a new storage record; it never overwrites one. When the
// condition fails on a record that refers to the same secret, an earlier
// attempt of this very write succeeded (its response was lost): that is a
// success. A record of another secret is another storage's: ErrIDTaken.
func (s *Store) PutStorage(ctx context.Context, r storage.Record) error {
	r.Revision = 1
	av, err := s.item(r)
	if err != nil {
		return err
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.Table),
		Item:                                av,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var condErr *types.ConditionalCheckFailedException
	if errors.As(err, &condErr) {
		if stringAttr(condErr.Item, attrSecretARN) == r.SecretARN {
			return nil
		}
		return fmt.Errorf("put storage %d: %w", r.ID, core.ErrIDTaken)
	}
	if err != nil {
		return fmt.Errorf("put storage %d: %w", r.ID, err)
	}
	return nil
}

// attrSecretARN is the attribute of a storage record that names its secret.
const attrSecretARN = "secret_arn"

func stringAttr(item map[string]types.AttributeValue, name string) string {
	v, _ := item[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// DeleteStorage removes the record of id if it refers to secretARN. A missing
// record, or one that belongs to another secret, is left alone and counts as
// deleted.
func (s *Store) DeleteStorage(ctx context.Context, id int64, secretARN string) error {
	_, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       s.key(id),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR secret_arn = :arn"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":arn": &types.AttributeValueMemberS{Value: secretARN}},
	})
	var condErr *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &condErr) {
		return fmt.Errorf("delete storage %d: %w", id, err)
	}
	return nil
}

// ReplaceStorage writes r as revision r.Revision+1 if the stored record is
// still at r.Revision and refers to the same secret. A record deleted
// meanwhile is never brought back.
func (s *Store) ReplaceStorage(ctx context.Context, r storage.Record) error {
	read := r.Revision
	r.Revision++
	av, err := s.item(r)
	if err != nil {
		return err
	}
	cond := "attribute_exists(pk) AND secret_arn = :arn AND revision = :rev"
	values := map[string]types.AttributeValue{
		":arn": &types.AttributeValueMemberS{Value: r.SecretARN},
		":rev": &types.AttributeValueMemberN{Value: strconv.FormatInt(read, 10)},
	}
	if read == 0 {
		cond = "attribute_exists(pk) AND secret_arn = :arn AND attribute_not_exists(revision)"
		delete(values, ":rev")
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.Table),
		Item:                                av,
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var condErr *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &condErr) && len(condErr.Item) == 0:
		return fmt.Errorf("replace storage %d: %w", r.ID, storage.ErrRecordNotFound)
	case errors.As(err, &condErr):
		return fmt.Errorf("replace storage %d: %w", r.ID, core.ErrConflict)
	case err != nil:
		return fmt.Errorf("replace storage %d: %w", r.ID, err)
	}
	return nil
}

// RemoveStorage deletes a storage record and returns what it held.
func (s *Store) RemoveStorage(ctx context.Context, id int64) (storage.Record, error) {
	out, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.Table),
		Key:                 s.key(id),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ReturnValues:        types.ReturnValueAllOld,
	})
	var condErr *types.ConditionalCheckFailedException
	if errors.As(err, &condErr) {
		return storage.Record{}, fmt.Errorf("remove storage %d: %w", id, storage.ErrRecordNotFound)
	}
	if err != nil {
		return storage.Record{}, fmt.Errorf("remove storage %d: %w", id, err)
	}
	return DecodeRecord(out.Attributes)
}

// GetStorage reads one storage record by id.
func (s *Store) GetStorage(ctx context.Context, id int64) (storage.Record, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            s.key(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return storage.Record{}, fmt.Errorf("get storage %d: %w", id, err)
	}
	if out.Item == nil {
		return storage.Record{}, fmt.Errorf("get storage %d: %w", id, ErrNotFound)
	}
	return DecodeRecord(out.Item)
}

// ListProject returns a project's storage records of the store's kind in
// id order. The index holds both kinds' records (an import and an export
// storage may even share an id): the filter keeps the store's.
func (s *Store) ListProject(ctx context.Context, project int64) ([]storage.Record, error) {
	var records []storage.Record
	paginator := dynamodb.NewQueryPaginator(s.Client, &dynamodb.QueryInput{
		TableName:                aws.String(s.Table),
		IndexName:                aws.String(ProjectIndex),
		KeyConditionExpression:   aws.String("project = :p"),
		FilterExpression:         aws.String("#kind = :kind"),
		ExpressionAttributeNames: map[string]string{"#kind": "kind"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p":    &types.AttributeValueMemberN{Value: strconv.FormatInt(project, 10)},
			":kind": &types.AttributeValueMemberS{Value: itemKind(s.Kind)},
		},
	})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list project %d: %w", project, err)
		}
		for _, av := range page.Items {
			r, err := DecodeRecord(av)
			if err != nil {
				return nil, err
			}
			records = append(records, r)
		}
	}
	return records, nil
}

// DecodeRecord reads a storage record from its DynamoDB item.
func DecodeRecord(av map[string]types.AttributeValue) (storage.Record, error) {
	var it recordItem
	if err := attributevalue.UnmarshalMapWithOptions(av, &it, withJSONTagsDecoding); err != nil {
		return storage.Record{}, fmt.Errorf("decode storage item: %w", err)
	}
	if it.Kind == kindExportStorage {
		it.Storage.Kind = storage.KindExport
	}
	return storage.Record{Storage: it.Storage, SecretARN: it.SecretARN, SecretVersionID: it.SecretVersionID, Revision: it.Revision}, nil
}
