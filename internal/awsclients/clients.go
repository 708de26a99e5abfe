package awsclients

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The stores hold their AWS clients as interfaces. The binary links
// reflection that can call a method chosen at run time (reflect.Value's
// Method, MethodByName and Methods, reached through fmt and text/template),
// so the linker keeps every exported method of every type converted to an
// interface, and of the types such a type holds: handed over as itself or
// in a struct, a client would bring all its service's operations (about 60
// for DynamoDB, 1.6 MB of the bootstrap) into the binary. These wrappers
// hold method values, which reflection cannot reach, of only the operations
// the stores call, so the rest is left out (see BENCHMARKS.md, artifact
// size).

// DynamoDB is the DynamoDB client with the operations of dynamostore and
// tokenstore.
type DynamoDB struct {
	getItem            func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	putItem            func(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	updateItem         func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	deleteItem         func(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	query              func(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	scan               func(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	transactWriteItems func(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

func newDynamoDB(c *dynamodb.Client) DynamoDB {
	return DynamoDB{
		getItem:            c.GetItem,
		putItem:            c.PutItem,
		updateItem:         c.UpdateItem,
		deleteItem:         c.DeleteItem,
		query:              c.Query,
		scan:               c.Scan,
		transactWriteItems: c.TransactWriteItems,
	}
}

// GetItem calls DynamoDB's GetItem.
func (x DynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return x.getItem(ctx, in, opts...)
}

// PutItem calls DynamoDB's PutItem.
func (x DynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return x.putItem(ctx, in, opts...)
}

// UpdateItem calls DynamoDB's UpdateItem.
func (x DynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return x.updateItem(ctx, in, opts...)
}

// DeleteItem calls DynamoDB's DeleteItem.
func (x DynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return x.deleteItem(ctx, in, opts...)
}

// Query calls DynamoDB's Query.
func (x DynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return x.query(ctx, in, opts...)
}

// Scan calls DynamoDB's Scan.
func (x DynamoDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return x.scan(ctx, in, opts...)
}

// TransactWriteItems calls DynamoDB's TransactWriteItems.
func (x DynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return x.transactWriteItems(ctx, in, opts...)
}

// BatchDynamoDB is the DynamoDB client with the batch operations too, for
// the syncs' store (dynamostore.Syncs): only the functions that keep syncs
// build it, so the others link no batch operation.
type BatchDynamoDB struct {
	DynamoDB
	batchGetItem   func(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	batchWriteItem func(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// NewBatchDynamoDB builds a BatchDynamoDB on cfg (made Bounded).
func NewBatchDynamoDB(cfg aws.Config) BatchDynamoDB {
	c := dynamodb.NewFromConfig(Bounded(cfg))
	return BatchDynamoDB{DynamoDB: newDynamoDB(c), batchGetItem: c.BatchGetItem, batchWriteItem: c.BatchWriteItem}
}

// BatchGetItem calls DynamoDB's BatchGetItem.
func (x BatchDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return x.batchGetItem(ctx, in, opts...)
}

// BatchWriteItem calls DynamoDB's BatchWriteItem.
func (x BatchDynamoDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return x.batchWriteItem(ctx, in, opts...)
}

// SecretsManager is the Secrets Manager client with the operations of
// secretstore.
type SecretsManager struct {
	createSecret             func(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	describeSecret           func(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	deleteSecret             func(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	getSecretValue           func(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	putSecretValue           func(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	updateSecretVersionStage func(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

func newSecretsManager(c *secretsmanager.Client) SecretsManager {
	return SecretsManager{
		createSecret:             c.CreateSecret,
		describeSecret:           c.DescribeSecret,
		deleteSecret:             c.DeleteSecret,
		getSecretValue:           c.GetSecretValue,
		putSecretValue:           c.PutSecretValue,
		updateSecretVersionStage: c.UpdateSecretVersionStage,
	}
}

// CreateSecret calls Secrets Manager's CreateSecret.
func (x SecretsManager) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return x.createSecret(ctx, in, opts...)
}

// DescribeSecret calls Secrets Manager's DescribeSecret.
func (x SecretsManager) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return x.describeSecret(ctx, in, opts...)
}

// DeleteSecret calls Secrets Manager's DeleteSecret.
func (x SecretsManager) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	return x.deleteSecret(ctx, in, opts...)
}

// GetSecretValue calls Secrets Manager's GetSecretValue.
func (x SecretsManager) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return x.getSecretValue(ctx, in, opts...)
}

// PutSecretValue calls Secrets Manager's PutSecretValue.
func (x SecretsManager) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return x.putSecretValue(ctx, in, opts...)
}

// UpdateSecretVersionStage calls Secrets Manager's UpdateSecretVersionStage.
func (x SecretsManager) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return x.updateSecretVersionStage(ctx, in, opts...)
}
