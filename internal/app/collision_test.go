//go:build integration

package app_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// secretValue reads a secret's value by name or ARN.
func secretValue(t *testing.T, id string) string {
	t.Helper()
	out, err := secretsmanager.NewFromConfig(testenv.AWSConfig(t)).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("read secret %s: %v", id, err)
	}
	return aws.ToString(out.SecretString)
}

// A secret already holds the name of the next storage id (the counter was
// lost or reset, or ids collide in any other way): the create neither
// deletes nor changes it, and succeeds with another id.
func TestCreateNeverTouchesASecretItDidNotMake(t *testing.T) {
	f := newFixture(t, "", "")
	victim := secretstore.Name(f.prefix, 1) // a fresh table's counter starts at 1
	_, err := secretsmanager.NewFromConfig(testenv.AWSConfig(t)).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(victim), SecretString: aws.String(`{"token":"VICTIM"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	status, body := f.post(t, "/api/storages/databricks/", f.patBody(3))
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, body)
	}
	if id := int64(body["id"].(float64)); id <= 1 {
		t.Errorf("id = %d, want one above the taken id 1", id)
	}
	if got := secretValue(t, victim); got != `{"token":"VICTIM"}` {
		t.Errorf("the other secret now holds %q", got)
	}
}

// Deleting the id counter item loses nothing: the next creates take ids
// above every existing storage and touch no existing record or secret.
func TestLostIDCounterHealsItself(t *testing.T) {
	f := newFixture(t, "", "")
	existing := map[int64]string{}
	for i := range 7 {
		status, body := f.post(t, "/api/storages/databricks/", f.patBody(10+i))
		if status != http.StatusCreated {
			t.Fatalf("status %d: %v", status, body)
		}
		id := int64(body["id"].(float64))
		rec, err := f.app.Store.GetStorage(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		existing[id] = rec.SecretARN
	}
	highest := int64(0)
	for id := range existing {
		highest = max(highest, id)
	}
	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	if _, err := db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
		TableName: aws.String(f.table), Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "COUNTER#storage-id"}},
	}); err != nil {
		t.Fatal(err)
	}
	// Two fresh instances (no ids left in a block) and the warm one.
	instances := []*fixture{newFixture(t, f.table, f.prefix), newFixture(t, f.table, f.prefix), f}
	var created []int64
	for round := range 3 {
		for _, inst := range instances {
			status, body := inst.post(t, "/api/storages/databricks/", inst.patBody(20+round))
			if status != http.StatusCreated {
				t.Fatalf("status %d: %v", status, body)
			}
			created = append(created, int64(body["id"].(float64)))
		}
	}
	sort.Slice(created, func(i, j int) bool { return created[i] < created[j] })
	for i, id := range created {
		if _, clash := existing[id]; clash || (i > 0 && created[i-1] == id) {
			t.Errorf("id %d handed out twice (created %v, existing up to %d)", id, created, highest)
		}
	}
	// Only the warm instance may still use its old block (ids it reserved
	// before the loss are its own); the fresh ones start above every storage.
	for id, arn := range existing {
		rec, err := f.app.Store.GetStorage(context.Background(), id)
		if err != nil || rec.SecretARN != arn {
			t.Errorf("existing storage %d changed: %+v, %v", id, rec, err)
		}
		if got := secretValue(t, arn); got == "" {
			t.Errorf("existing storage %d lost its secret", id)
		}
	}
}

// A lost response to a write that happened is a success: the retry's
// condition fails on the item the first attempt wrote, which is this
// create's own.
func TestLostResponsesOfWritesThatHappened(t *testing.T) {
	for _, c := range []struct{ op, key string }{
		{"DynamoDB_20120810.PutItem", ""},
		{"DynamoDB_20120810.TransactWriteItems", "lost-response"},
		{"secretsmanager.CreateSecret", ""},
		{"secretsmanager.CreateSecret", "lost-secret"},
	} {
		t.Run(c.op+"/key="+c.key, func(t *testing.T) {
			f := newFixture(t, "", "")
			if status, _ := f.post(t, "/api/storages/databricks/validate", f.patBody(30)); status != http.StatusOK {
				t.Fatalf("validate: %d", status)
			}
			f.faults.Add(faultinject.Rule{Operation: c.op, Fault: faultinject.Timeout, Times: 1})
			status, _, body := f.send(t, "/api/storages/databricks/", f.patBody(30), map[string]string{"idempotency-key": c.key})
			if status != http.StatusCreated {
				t.Fatalf("status %d: %v; want 201", status, body)
			}
			records := 0
			for _, pk := range storageItems(t, f.table) {
				if strings.Contains(pk, "STORAGE#") {
					records++
				}
			}
			if secrets := testenv.SecretNames(t, f.prefix); records != 1 || len(secrets) != 1 {
				t.Fatalf("records %d, secrets %v; want one complete storage", records, secrets)
			}
			rec, err := f.app.Store.GetStorage(context.Background(), int64(body["id"].(float64)))
			if err != nil || secretValue(t, rec.SecretARN) == "" {
				t.Fatalf("the storage's record or secret is missing: %v", err)
			}
		})
	}
}

// Idempotency keys belong to a principal: the same key and user name in two
// organizations create two independent storages, each with its own
// credentials checked.
func TestIdempotencyKeysAreScopedByOrganization(t *testing.T) {
	f := newFixture(t, "", "")
	mint := func(org string) string {
		token, _, err := f.app.Tokens.Mint(context.Background(), tokenstore.MintInput{User: "alice", Organization: org, AllProjects: true})
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	ids := map[string]any{}
	for _, org := range []string{"acme", "other"} {
		f.token = mint(org)
		status, headers, body := f.send(t, "/api/storages/databricks/", f.patBody(5), map[string]string{"idempotency-key": "same-key"})
		if status != http.StatusCreated || headers["Idempotent-Replayed"] == "true" {
			t.Fatalf("org %s: status %d, headers %v: %v; want a new storage", org, status, headers, body)
		}
		ids[org] = body["id"]
	}
	if ids["acme"] == ids["other"] {
		t.Fatalf("both organizations got storage %v", ids["acme"])
	}
	// A bad token under the other organization's key is checked, not replayed.
	f.token = mint("third")
	refused := strings.Replace(f.patBody(5), secretToken, "dapi-unknown-to-the-workspace", 1)
	status, _, body := f.send(t, "/api/storages/databricks/", refused, map[string]string{"idempotency-key": "same-key"})
	if status != http.StatusBadRequest {
		t.Fatalf("third organization with refused credentials: status %d: %v; want 400 from the check", status, body)
	}
}
