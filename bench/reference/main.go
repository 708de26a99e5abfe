// Command reference is the baseline Lambda of the benchmarks: the least a Go
// function of this service's shape can do. At start-up it loads the AWS
// configuration and builds the same AWS clients as the real function (DynamoDB
// and Secrets Manager); every invocation answers {}. Its artifact size and
// cold start are what the real create-storage function is compared with.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// clients keeps the clients alive, as a real function would, so the linker
// keeps everything they need.
type clients struct {
	db *dynamodb.Client
	sm *secretsmanager.Client
}

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "load AWS configuration:", err)
		os.Exit(1)
	}
	c := &clients{db: dynamodb.NewFromConfig(cfg), sm: secretsmanager.NewFromConfig(cfg)}
	lambda.Start(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		if c.db == nil || c.sm == nil {
			return nil, fmt.Errorf("clients not built")
		}
		return json.RawMessage("{}"), nil
	})
}
