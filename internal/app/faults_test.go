//go:build integration

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
)

// The AWS calls a create with an idempotency key makes, in order, on a
// fresh instance.
var createCalls = []string{
	"DynamoDB_20120810.GetItem",            // the idempotency key
	"DynamoDB_20120810.UpdateItem",         // a block of ids
	"secretsmanager.CreateSecret",          // the secret
	"DynamoDB_20120810.TransactWriteItems", // the record and the key, atomically
}

// consistency checks the invariant every create must leave: either one
// complete storage (record, key and secret, agreeing) or nothing at all.
func (f *fixture) consistency(t *testing.T, status int, body map[string]any) {
	t.Helper()
	secrets := testenv.SecretNames(t, f.prefix)
	items := storageItems(t, f.table)
	switch {
	case status == http.StatusCreated:
		if len(secrets) != 1 || len(items) != 2 {
			t.Fatalf("a 201 left secrets %v and items %v; want one secret, a record and its key", secrets, items)
		}
		id := int64(body["id"].(float64))
		record, err := f.app.Store.GetStorage(context.Background(), id)
		if err != nil {
			t.Fatalf("the 201's record: %v", err)
		}
		secret, err := secretsmanager.NewFromConfig(testenv.AWSConfig(t)).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(record.SecretARN)})
		if err != nil {
			t.Fatalf("the record's secret: %v", err)
		}
		var values map[string]string
		if err := json.Unmarshal([]byte(aws.ToString(secret.SecretString)), &values); err != nil || values["token"] != secretToken {
			t.Fatalf("the record's secret does not hold the token")
		}
	case status >= 500:
		if len(secrets) != 0 || len(items) != 0 {
			t.Fatalf("a %d left secrets %v and items %v; want nothing", status, secrets, items)
		}
		raw, _ := json.Marshal(body)
		if strings.Contains(string(raw), "arn:") || strings.Contains(string(raw), f.prefix) {
			t.Fatalf("the error names a secret: %s", raw)
		}
	default:
		t.Fatalf("unexpected status %d: %v", status, body)
	}
}

func TestFaultMatrixLeavesAllOrNothing(t *testing.T) {
	for _, op := range createCalls {
		for _, fault := range faultinject.Faults {
			for _, times := range []int{1, 100} {
				name := fmt.Sprintf("%s/%s/x%d", strings.SplitN(op, ".", 2)[1], fault, times)
				t.Run(name, func(t *testing.T) {
					f := newFixture(t, "", "")
					// Warm the token cache, so the fault meets the create's own calls.
					if status, _ := f.post(t, "/api/storages/databricks/validate", f.patBody(30)); status != http.StatusOK {
						t.Fatalf("validate: %d", status)
					}
					f.faults.Add(faultinject.Rule{Operation: op, Fault: fault, Times: times})
					key := map[string]string{"idempotency-key": "fault-" + name}
					status, _, body := f.send(t, "/api/storages/databricks/", f.patBody(30), key)
					t.Logf("status under the fault: %d", status)
					f.consistency(t, status, body)
					if times == 1 && status != http.StatusCreated {
						t.Errorf("a single fault, which the SDK's retry cures, answered %d: %v", status, body)
					}
					for calledOp, n := range f.faults.Calls() {
						if n > 3*2 { // the workflow calls an operation at most twice (do and undo), each with at most 3 attempts
							t.Errorf("%s was attempted %d times: retries are not bounded", calledOp, n)
						}
					}

					// The caller retries with the same key once AWS is well again.
					f.faults.Clear()
					retryStatus, headers, retried := f.send(t, "/api/storages/databricks/", f.patBody(30), key)
					if retryStatus != http.StatusCreated {
						t.Fatalf("retry: status %d: %v", retryStatus, retried)
					}
					if status == http.StatusCreated && (retried["id"] != body["id"] || headers["Idempotent-Replayed"] != "true") {
						t.Errorf("retry of a success was not a replay of storage %v: got %v", body["id"], retried["id"])
					}
					f.consistency(t, retryStatus, retried)
				})
			}
		}
	}
}
