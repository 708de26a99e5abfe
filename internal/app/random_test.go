//go:build integration

package app_test

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/testenv"
)

// TestRandomisedFaults runs 1,000 creates through two instances while AWS
// calls fail at random (throttling, 500s, lost responses, resets), with
// idempotency keys that repeat, then lets every caller retry until it gets
// its storage. Whatever happened, AWS must hold exactly one complete storage
// per key: no orphan secret, no record without its secret, no duplicate.
func TestRandomisedFaults(t *testing.T) {
	const (
		creates     = 1000
		keys        = 700
		concurrency = 8
		seed        = 20261125
		faultRate   = 0.08
	)
	table, prefix := testenv.NewTable(t), testenv.NewSecretPrefix(t)
	instances := []*fixture{newFixture(t, table, prefix), newFixture(t, table, prefix)}
	for i, inst := range instances {
		if status, _ := inst.post(t, "/api/storages/databricks/validate", inst.patBody(1)); status != http.StatusOK {
			t.Fatalf("warm-up: %d", status)
		}
		inst.faults.Randomly(seed+int64(i), faultRate)
	}
	body := func(key int) string {
		return strings.Replace(instances[0].patBody(100+key%50), `"Images"`, fmt.Sprintf(`"key %d"`, key), 1)
	}
	order := rand.New(rand.NewSource(seed))
	work := make(chan int, creates)
	for i := 0; i < creates; i++ {
		if i < keys {
			work <- i
		} else {
			work <- order.Intn(keys)
		}
	}
	close(work)

	var ok, failed, replayed atomic.Int64
	statuses := sync.Map{}
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst := instances[w%len(instances)]
			for key := range work {
				status, headers, resp := inst.send(t, "/api/storages/databricks/", body(key), map[string]string{"Idempotency-Key": fmt.Sprint("random-", key)})
				switch {
				case status == http.StatusCreated:
					ok.Add(1)
					if headers["Idempotent-Replayed"] == "true" {
						replayed.Add(1)
					}
				case status >= 500:
					failed.Add(1)
				default:
					t.Errorf("key %d: status %d: %v", key, status, resp)
				}
				n, _ := statuses.LoadOrStore(status, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}()
	}
	wg.Wait()

	// Faults end; every caller retries its key until it has its storage.
	for _, inst := range instances {
		inst.faults.Clear()
	}
	idOfKey := map[int]any{}
	for key := 0; key < keys; key++ {
		status, _, resp := instances[key%2].send(t, "/api/storages/databricks/", body(key), map[string]string{"Idempotency-Key": fmt.Sprint("random-", key)})
		if status != http.StatusCreated {
			t.Fatalf("key %d after the faults: status %d: %v", key, status, resp)
		}
		idOfKey[key] = resp["id"]
	}

	// What AWS holds.
	records := map[string]string{} // secret ARN -> record key
	recordCount, keyItems := 0, 0
	for _, pk := range storageItems(t, table) {
		if strings.Contains(pk, "IDEMPOTENCY#") {
			keyItems++
		}
	}
	for project := int64(100); project < 150; project++ {
		list, err := instances[0].app.Store.ListProject(context.Background(), project)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			recordCount++
			if other, dup := records[r.SecretARN]; dup {
				t.Errorf("records %s and %d share a secret", other, r.ID)
			}
			records[r.SecretARN] = fmt.Sprint(r.ID)
		}
	}
	sm := secretsmanager.NewFromConfig(testenv.AWSConfig(t))
	recordsWithoutSecret := 0
	for arn := range records {
		if _, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}); err != nil {
			recordsWithoutSecret++
		}
	}
	secretNames := testenv.SecretNames(t, prefix)
	orphans := 0
	for _, name := range secretNames {
		found := false
		for arn := range records {
			if strings.Contains(arn, ":secret:"+name+"-") {
				found = true
				break
			}
		}
		if !found {
			orphans++
		}
	}
	distinctIDs := map[any]bool{}
	for _, id := range idOfKey {
		distinctIDs[id] = true
	}

	counts := []string{}
	statuses.Range(func(k, v any) bool {
		counts = append(counts, fmt.Sprintf("%v×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("randomised run: %d creates (%d keys), statuses %v, 201 %d (replays %d), 5xx %d; after retries: keys %d, distinct storages %d, records %d, key items %d, secrets %d, orphan secrets %d, records without secret %d",
		creates, keys, counts, ok.Load(), replayed.Load(), failed.Load(), len(idOfKey), len(distinctIDs), recordCount, keyItems, len(secretNames), orphans, recordsWithoutSecret)
	fmt.Printf("randomised faults: creates=%d keys=%d ok=%d replays=%d 5xx=%d storages=%d records=%d secrets=%d orphans=%d records_without_secret=%d\n",
		creates, keys, ok.Load(), replayed.Load(), failed.Load(), len(distinctIDs), recordCount, len(secretNames), orphans, recordsWithoutSecret)

	if failed.Load() == 0 {
		t.Error("no create failed: the faults did not bite")
	}
	if len(distinctIDs) != keys || recordCount != keys || keyItems != keys || len(secretNames) != keys {
		t.Errorf("want %d of each: storages %d, records %d, key items %d, secrets %d", keys, len(distinctIDs), recordCount, keyItems, len(secretNames))
	}
	if orphans != 0 || recordsWithoutSecret != 0 {
		t.Errorf("orphan secrets %d, records without secret %d", orphans, recordsWithoutSecret)
	}
}
