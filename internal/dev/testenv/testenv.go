// Package testenv runs a package's tests against a real moto server: Main
// starts one per test binary and points the standard AWS environment
// variables at it, so code under test loads its AWS configuration exactly as
// it does in production.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/dev/localtable"
	"github.com/lsdbx/databricks-storage/internal/dev/motoserver"
)

var (
	moto      *motoserver.Server
	tableSeq  atomic.Int64
	prefixSeq atomic.Int64
)

// Main starts moto, runs the tests and stops moto. A missing moto is a
// failure, not a skip: `make test` installs it.
func Main(m *testing.M) {
	wd, _ := os.Getwd()
	bin, err := motoserver.FindBinary(wd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	moto, err = motoserver.Start(context.Background(), bin, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	for k, v := range motoserver.Env(moto.URL) {
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}

// AWSConfig loads the AWS configuration through the standard chain.
func AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return cfg
}

// NewTable creates a fresh storages table and returns its name.
func NewTable(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", sanitize(t.Name()), time.Now().UnixNano()%1e6, tableSeq.Add(1))
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	if err := localtable.Ensure(context.Background(), dynamodb.NewFromConfig(AWSConfig(t)), name); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return name
}

// NewSecretPrefix returns a secret name prefix no other test uses.
func NewSecretPrefix(t testing.TB) string {
	return fmt.Sprintf("test/%s/%d/", sanitize(t.Name()), prefixSeq.Add(1))
}

// SecretNames lists the secrets whose names start with prefix.
func SecretNames(t testing.TB, prefix string) []string {
	t.Helper()
	client := secretsmanager.NewFromConfig(AWSConfig(t))
	var names []string
	p := secretsmanager.NewListSecretsPaginator(client, &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list secrets: %v", err)
		}
		for _, s := range page.SecretList {
			if strings.HasPrefix(aws.ToString(s.Name), prefix) {
				names = append(names, aws.ToString(s.Name))
			}
		}
	}
	return names
}

// ScanTable returns every item of a table as DynamoDB JSON-ish strings, for
// checks that no secret value was stored.
func ScanTable(t testing.TB, table string) []map[string]any {
	t.Helper()
	client := dynamodb.NewFromConfig(AWSConfig(t))
	var items []map[string]any
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, it := range page.Items {
			row := map[string]any{}
			for k, v := range it {
				row[k] = v
			}
			items = append(items, row)
		}
	}
	return items
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, s)
}
