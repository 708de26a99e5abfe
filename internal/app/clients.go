package app

import (
	"context"

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

// dynamoDB is the DynamoDB client with the operations of dynamostore and
// tokenstore.
type dynamoDB struct {
	getItem            func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	putItem            func(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	updateItem         func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	deleteItem         func(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	query              func(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	scan               func(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	transactWriteItems func(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

func newDynamoDB(c *dynamodb.Client) dynamoDB {
	return dynamoDB{
		getItem:            c.GetItem,
		putItem:            c.PutItem,
		updateItem:         c.UpdateItem,
		deleteItem:         c.DeleteItem,
		query:              c.Query,
		scan:               c.Scan,
		transactWriteItems: c.TransactWriteItems,
	}
}

func (d dynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return d.getItem(ctx, in, opts...)
}

func (d dynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return d.putItem(ctx, in, opts...)
}

func (d dynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return d.updateItem(ctx, in, opts...)
}

func (d dynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return d.deleteItem(ctx, in, opts...)
}

func (d dynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return d.query(ctx, in, opts...)
}

func (d dynamoDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return d.scan(ctx, in, opts...)
}

func (d dynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return d.transactWriteItems(ctx, in, opts...)
}

// secretsManager is the Secrets Manager client with the operations of
// secretstore.
type secretsManager struct {
	createSecret             func(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	describeSecret           func(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	deleteSecret             func(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	getSecretValue           func(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	putSecretValue           func(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	updateSecretVersionStage func(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

func newSecretsManager(c *secretsmanager.Client) secretsManager {
	return secretsManager{
		createSecret:             c.CreateSecret,
		describeSecret:           c.DescribeSecret,
		deleteSecret:             c.DeleteSecret,
		getSecretValue:           c.GetSecretValue,
		putSecretValue:           c.PutSecretValue,
		updateSecretVersionStage: c.UpdateSecretVersionStage,
	}
}

func (s secretsManager) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return s.createSecret(ctx, in, opts...)
}

func (s secretsManager) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return s.describeSecret(ctx, in, opts...)
}

func (s secretsManager) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	return s.deleteSecret(ctx, in, opts...)
}

func (s secretsManager) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return s.getSecretValue(ctx, in, opts...)
}

func (s secretsManager) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return s.putSecretValue(ctx, in, opts...)
}

func (s secretsManager) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return s.updateSecretVersionStage(ctx, in, opts...)
}
