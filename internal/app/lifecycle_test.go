//go:build integration

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dev/emfcheck"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// createOne creates a pat storage in project and returns its id.
func (f *fixture) createOne(t *testing.T, project int) int64 {
	t.Helper()
	status, body := f.post(t, "/api/storages/databricks/", f.patBody(project))
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	return int64(body["id"].(float64))
}

func decodeJSON[T any](t *testing.T, raw string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return v
}

func TestListAndGet(t *testing.T) {
	f := newFixture(t, "", "")
	a, b := f.createOne(t, 31), f.createOne(t, 31)
	f.createOne(t, 32)

	status, _, raw := f.call(t, "GET", "/api/storages/databricks/?project=31&ordering=-id", "", nil)
	list := decodeJSON[[]map[string]any](t, raw)
	if status != 200 || len(list) != 2 || int64(list[0]["id"].(float64)) != b || int64(list[1]["id"].(float64)) != a {
		t.Fatalf("list: %d %s; want storages %d, %d", status, raw, b, a)
	}
	for _, s := range list {
		if _, leaked := s["token"]; leaked {
			t.Errorf("a listed storage carries its token")
		}
	}
	if status, _, raw := f.call(t, "GET", "/api/storages/databricks/", "", nil); status != 400 || !strings.Contains(raw, `query parameter \"project\" is required`) {
		t.Errorf("list without project: %d %s", status, raw)
	}
	status, _, raw = f.call(t, "GET", fmt.Sprintf("/api/storages/databricks/%d", a), "", nil)
	if got := decodeJSON[map[string]any](t, raw); status != 200 || int64(got["id"].(float64)) != a || got["project"] != 31.0 {
		t.Errorf("get: %d %s", status, raw)
	}
	if status, _, raw := f.call(t, "GET", "/api/storages/databricks/999999", "", nil); status != 404 || !strings.Contains(raw, `"Not found."`) {
		t.Errorf("get unknown: %d %s", status, raw)
	}
	// A token for project 32 only may neither see project 31's list nor its storages.
	f.token = mintFor(t, f, 32)
	if status, _, _ := f.call(t, "GET", "/api/storages/databricks/?project=31", "", nil); status != 403 {
		t.Errorf("list of a foreign project: %d, want 403", status)
	}
	if status, _, raw := f.call(t, "GET", fmt.Sprintf("/api/storages/databricks/%d", a), "", nil); status != 404 || !strings.Contains(raw, `"Not found."`) {
		t.Errorf("get of a foreign storage: %d %s, want 404 as for an unknown id", status, raw)
	}
}

func mintFor(t *testing.T, f *fixture, projects ...int64) string {
	t.Helper()
	token, _, err := f.app.Tokens.Mint(context.Background(), tokenstore.MintInput{User: "scoped-" + t.Name(), Projects: projects})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// secretVersions returns a secret's current and previous values.
func secretVersions(t *testing.T, arn string) (current, previous string) {
	t.Helper()
	sm := secretsmanager.NewFromConfig(testenv.AWSConfig(t))
	for stage, out := range map[string]*string{"AWSCURRENT": &current, "AWSPREVIOUS": &previous} {
		v, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
		if err == nil {
			*out = aws.ToString(v.SecretString)
		}
	}
	return current, previous
}

func TestUpdateRotatesAndRechecks(t *testing.T) {
	f := newFixture(t, "", "")
	id := f.createOne(t, 33)
	path := fmt.Sprintf("/api/storages/databricks/%d", id)
	before, err := f.app.Store.GetStorage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}

	// A field the connection does not depend on: saved without a check.
	status, _, raw := f.call(t, "PATCH", path, `{"title": "Renamed"}`, nil)
	if got := decodeJSON[map[string]any](t, raw); status != 200 || got["title"] != "Renamed" || got["prefix"] != "images" {
		t.Fatalf("patch title: %d %s", status, raw)
	}

	// A new token the workspace refuses: 400, nothing changes.
	status, _, raw = f.call(t, "PATCH", path, `{"token": "dapi-refused-by-the-workspace"}`, nil)
	if status != 400 {
		t.Fatalf("patch with a refused token: %d %s", status, raw)
	}
	if cur, _ := secretVersions(t, before.SecretARN); !strings.Contains(cur, secretToken) {
		t.Errorf("a refused rotation changed the secret")
	}

	// A new token the workspace accepts: a new version of the same secret.
	const rotated = "dapi-ROTATED-token-5be1"
	f.fw.AddPAT(rotated)
	status, _, raw = f.call(t, "PUT", path, `{"token": "`+rotated+`", "volume": "landing"}`, nil)
	if status != 200 || strings.Contains(raw, rotated) {
		t.Fatalf("put with a new token: %d", status)
	}
	after, err := f.app.Store.GetStorage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if after.SecretVersionID == before.SecretVersionID || !strings.Contains(readVersion(t, after.SecretARN, after.SecretVersionID), rotated) {
		t.Errorf("the record names version %q (was %q), which does not hold the new token", after.SecretVersionID, before.SecretVersionID)
	}
	// AWSCURRENT follows the record (bookkeeping; readers go by the record).
	cur, prev := secretVersions(t, after.SecretARN)
	if after.SecretARN != before.SecretARN || !strings.Contains(cur, rotated) || !strings.Contains(prev, secretToken) {
		t.Errorf("secret %s (was %s): current has the new token %v, previous the old %v",
			after.SecretARN, before.SecretARN, strings.Contains(cur, rotated), strings.Contains(prev, secretToken))
	}
	if status, _, _ := f.call(t, "PATCH", path, `{"project": 34}`, nil); status != 400 {
		t.Errorf("moving a storage to another project: %d, want 400", status)
	}
	// Updates pass the same host guard as creates: an instance with the
	// deployed policy refuses these hosts before any connection.
	strict := &fixture{app: app.NewWithAWS(f.app.AWS, config.Config{TableName: f.table, SecretNamePrefix: f.prefix, IDBlockSize: 1, SecretRecoveryDays: 7},
		slog.New(slog.DiscardHandler), app.Options{}), fw: f.fw, token: f.token}
	for _, host := range []string{"https://169.254.169.254", "https://localhost", "http://dbc-1.cloud.databricks.com", "https://dbc-1.cloud.databricks.com.evil.example"} {
		if status, _, raw := strict.call(t, "PATCH", path, `{"host": "`+host+`"}`, nil); status != 400 || !strings.Contains(raw, `"host"`) {
			t.Errorf("patch host %s: %d %s, want a 400 on host", host, status, raw)
		}
	}
	assertNoSecretStored(t, f)
}

// Two PATCHes of different fields at once: both land (or one is told to
// retry); an update racing a delete never brings the storage back.
func TestConcurrentUpdatesAndDeletes(t *testing.T) {
	f := newFixture(t, "", "")
	for round := range 5 {
		id := f.createOne(t, 35)
		path := fmt.Sprintf("/api/storages/databricks/%d", id)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, body := range []string{`{"title": "T"}`, `{"description": "D"}`} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], _, _ = f.call(t, "PATCH", path, body, nil)
			}()
		}
		wg.Wait()
		_, _, raw := f.call(t, "GET", path, "", nil)
		got := decodeJSON[map[string]any](t, raw)
		for i, field := range []string{"title", "description"} {
			switch {
			case statuses[i] == 200 && got[field] == nil:
				t.Errorf("round %d: the %s update answered 200 but was lost: %s", round, field, raw)
			case statuses[i] != 200 && statuses[i] != 409:
				t.Errorf("round %d: %s update answered %d", round, field, statuses[i])
			}
		}

		// Update against delete.
		wg.Add(2)
		var updateStatus, deleteStatus int
		go func() { defer wg.Done(); updateStatus, _, _ = f.call(t, "PATCH", path, `{"title": "after"}`, nil) }()
		go func() { defer wg.Done(); deleteStatus, _, _ = f.call(t, "DELETE", path, "", nil) }()
		wg.Wait()
		if deleteStatus != 204 {
			t.Fatalf("round %d: delete answered %d", round, deleteStatus)
		}
		if status, _, raw := f.call(t, "GET", path, "", nil); status != 404 {
			t.Errorf("round %d: after update (%d) and delete, get answers %d %s", round, updateStatus, status, raw)
		}
	}
}

func TestDeleteSchedulesTheSecretAndTheSweepLeavesIt(t *testing.T) {
	f := newFixture(t, "", "")
	id := f.createOne(t, 36)
	rec, err := f.app.Store.GetStorage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/storages/databricks/%d", id)
	if status, _, raw := f.call(t, "DELETE", path, "", nil); status != 204 || raw != "" {
		t.Fatalf("delete: %d %q", status, raw)
	}
	if status, _, _ := f.call(t, "DELETE", path, "", nil); status != 404 {
		t.Errorf("second delete: %d, want 404", status)
	}
	desc, err := secretsmanager.NewFromConfig(testenv.AWSConfig(t)).DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(rec.SecretARN)})
	if err != nil || desc.DeletedDate == nil {
		t.Fatalf("the secret is not scheduled for deletion: %+v, %v", desc, err)
	}
	// An hour later: every secret is older than the grace period.
	sweeper := sweep.New(testenv.AWSConfig(t), config.Config{TableName: f.table, SecretNamePrefix: f.prefix}, nil)
	sweeper.Now = func() time.Time { return time.Now().Add(time.Hour) }
	report, err := sweeper.Sweep(context.Background())
	if err != nil || report.Deleted != 0 {
		t.Errorf("the sweep touched a secret pending deletion: %+v, %v", report, err)
	}
	if _, err := secretsmanager.NewFromConfig(testenv.AWSConfig(t)).RestoreSecret(context.Background(), &secretsmanager.RestoreSecretInput{SecretId: aws.String(rec.SecretARN)}); err != nil {
		t.Errorf("the deleted storage's secret cannot be restored: %v", err)
	}
}

func TestValidateAnExistingStorage(t *testing.T) {
	f := newFixture(t, "", "")
	id := f.createOne(t, 37)
	body := fmt.Sprintf(`{"id": %d}`, id)
	if status, _, raw := f.call(t, "POST", "/api/storages/databricks/validate", body, nil); status != 200 {
		t.Fatalf("validate with id: %d %s", status, raw)
	}
	body = fmt.Sprintf(`{"id": %d, "volume": "missing"}`, id)
	if status, _, raw := f.call(t, "POST", "/api/storages/databricks/validate", body, nil); status != 400 {
		t.Errorf("validate with id and a missing volume: %d %s", status, raw)
	}
	if status, _, _ := f.call(t, "POST", "/api/storages/databricks/validate", `{"id": 999999}`, nil); status != 404 {
		t.Errorf("validate of an unknown id: %d, want 404", status)
	}
	f.token = mintFor(t, f, 99)
	if status, _, raw := f.call(t, "POST", "/api/storages/databricks/validate", fmt.Sprintf(`{"id": %d}`, id), nil); status != 404 || !strings.Contains(raw, `"Not found."`) {
		t.Errorf("validate of a foreign storage: %d %s, want 404 as for an unknown id", status, raw)
	}
}

// Every summary line is a CloudWatch Embedded Metric Format record that
// carries the request id.
func TestSummaryLinesAreEmbeddedMetrics(t *testing.T) {
	f := newFixture(t, "", "")
	id := f.createOne(t, 38)
	f.call(t, "GET", fmt.Sprintf("/api/storages/databricks/%d", id), "", nil)
	f.call(t, "POST", "/api/storages/databricks/validate", strings.Replace(f.patBody(38), secretToken, "dapi-refused", 1), nil)
	operations := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil || entry["msg"] != "request" {
			continue
		}
		ms, err := emfcheck.Line([]byte(line))
		if err != nil || len(ms) == 0 {
			t.Errorf("summary line is not an EMF record (%v): %s", err, line)
			continue
		}
		if entry["request_id"] == nil || entry["request_id"] == "" {
			t.Errorf("summary line without request_id: %s", line)
		}
		operations[fmt.Sprint(entry["Operation"])] = true
		if entry["Operation"] == "validate" && entry["Reason"] != "credentials_refused" {
			t.Errorf("refused validate: Reason = %v", entry["Reason"])
		}
	}
	for _, op := range []string{"create", "get", "validate"} {
		if !operations[op] {
			t.Errorf("no metrics line for %s (saw %v)", op, operations)
		}
	}
}

func TestFilesPreviewAgainstTheWorkspace(t *testing.T) {
	f := newFixture(t, "", "")
	for _, name := range []string{"a.jpg", "b.png", "c.jpg"} {
		f.fw.AddFile("/Volumes/main/default/landing/images/"+name, []byte("x"))
	}
	f.fw.AddFile("/Volumes/main/default/landing/images/2025/d.jpg", []byte("xy"))
	id := f.createOne(t, 39)
	files := func(body string) (int, []map[string]any) {
		status, _, raw := f.call(t, "POST", "/api/storages/databricks/files", body, nil)
		if status != 200 {
			return status, nil
		}
		return status, decodeJSON[struct {
			Files []map[string]any `json:"files"`
		}](t, raw).Files
	}
	keys := func(entries []map[string]any) []any {
		var out []any
		for _, e := range entries {
			out = append(out, e["key"])
		}
		return out
	}
	status, got := files(fmt.Sprintf(`{"id": %d, "regex_filter": ".*\\.jpg", "recursive_scan": true}`, id))
	// The fake workspace's images/ also holds cat.jpg; listing is depth-first.
	if want := "[images/2025/d.jpg images/a.jpg images/c.jpg images/cat.jpg]"; status != 200 || fmt.Sprint(keys(got)) != want {
		t.Errorf("recursive jpg preview: %d %v, want %s", status, keys(got), want)
	}
	status, got = files(fmt.Sprintf(`{"id": %d, "limit": 1}`, id))
	if status != 200 || len(got) != 2 || got[1]["key"] != nil {
		t.Errorf("limit 1: %d %v, want one file and the null entry", status, got)
	}
	if status, _ := files(fmt.Sprintf(`{"id": %d, "regex_filter": "(?<=a)b"}`, id)); status != 400 {
		t.Errorf("a pattern Go cannot run: %d, want 400", status)
	}
	// Without an id the body is a whole request, credentials included.
	status, got = files(f.patBody(39))
	if want := "[images/a.jpg images/b.png images/c.jpg images/cat.jpg]"; status != 200 || fmt.Sprint(keys(got)) != want {
		t.Errorf("preview of a request: %d %v, want %s", status, keys(got), want)
	}
}
