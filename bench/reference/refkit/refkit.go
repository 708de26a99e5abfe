// Package refkit is the body of the reference Lambdas of make bench: the
// least a Go function of this service's shape does. At start-up it loads
// the AWS configuration and builds the DynamoDB and Secrets Manager clients
// as internal/app does (same HTTP timeout and retryer). An invoke answers a
// fixed body; with REFERENCE_CALLS=1 it first makes the AWS calls of a
// create, with requests of the same shape (CreateSecret with a
// description, three tags and a request token; PutItem of an item of a
// storage record's 33 attributes; an id-block UpdateItem every
// ID_BLOCK_SIZE invokes), and nothing else: the CPU floor of a create.
package refkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Body is what every invoke answers.
var Body = json.RawMessage(`{"statusCode":201,"body":"{}"}`)

// Main serves invocations; extra, when set, runs at each invoke before the
// answer (the databricks reference links its SDK through it).
func Main(extra func(context.Context) error) {
	// For make bench's CPU-share runs: what the Go runtime chose.
	fmt.Fprintf(os.Stderr, "reference: GOMAXPROCS=%d NumCPU=%d\n", runtime.GOMAXPROCS(0), runtime.NumCPU())
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "load AWS configuration:", err)
		os.Exit(1)
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(3 * time.Second)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts, o.MaxBackoff = 3, 500*time.Millisecond })
	}
	db, sm := dynamodb.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	calls := os.Getenv("REFERENCE_CALLS") == "1"
	table, prefix := os.Getenv("TABLE_NAME"), os.Getenv("SECRET_NAME_PREFIX")
	block, _ := strconv.Atoi(os.Getenv("ID_BLOCK_SIZE"))
	block = max(block, 10)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	n := 0
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		n++
		if extra != nil {
			if err := extra(ctx); err != nil {
				return nil, err
			}
		}
		if !calls {
			return Body, nil
		}
		id := run + "-" + strconv.Itoa(n)
		if n%block == 1 {
			if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:        aws.String(table),
				Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "REFCOUNTER#" + run}},
				UpdateExpression: aws.String("ADD next_id :n"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":n": &types.AttributeValueMemberN{Value: strconv.Itoa(block)},
				},
			}); err != nil {
				return nil, err
			}
		}
		var token [16]byte
		_, _ = rand.Read(token[:])
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:               aws.String(prefix + "reference-" + id),
			SecretString:       aws.String(`{"token":"dapi-reference-token"}`),
			ClientRequestToken: aws.String(hex.EncodeToString(token[:])),
			Description:        aws.String("Databricks credentials of Label Studio import storage " + id),
			Tags: []smtypes.Tag{
				{Key: aws.String("label-studio:project"), Value: aws.String("1")},
				{Key: aws.String("label-studio:storage-id"), Value: aws.String(id)},
				{Key: aws.String("managed-by"), Value: aws.String("label-studio-databricks-storage")},
			},
		})
		if err != nil {
			return nil, err
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                           aws.String(table),
			Item:                                item(id, aws.ToString(out.ARN)),
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}); err != nil {
			return nil, err
		}
		return Body, nil
	})
}

// item is an item of a storage record's shape: 33 attributes.
func item(id, arn string) map[string]types.AttributeValue {
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	num := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	boolean := func(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }
	null := &types.AttributeValueMemberNULL{Value: true}
	return map[string]types.AttributeValue{
		"pk": str("REF#" + id), "kind": str("reference"), "secret_arn": str(arn), "revision": num("1"),
		"id": num("1"), "type": str("databricks"), "created_at": str(time.Now().UTC().Format(time.RFC3339Nano)),
		"project": num("1"), "host": str("https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"), "catalog": str("main"),
		"schema": str("default"), "volume": str("landing"), "prefix": str("images"), "regex_filter": null,
		"auth_type": str("pat"), "client_id": null, "tenant_id": null, "recursive_scan": boolean(false),
		"use_blob_urls": boolean(false), "verify_tls": boolean(true), "request_timeout_s": num("30"),
		"stream_chunk_bytes": num("8388608"), "presign": boolean(true), "presign_ttl": num("1"),
		"synchronizable": boolean(true), "status": str("initialized"), "title": str("Landing images"),
		"description": null, "last_sync": null, "last_sync_count": null, "last_sync_job": null, "meta": null,
		"traceback": null,
	}
}
