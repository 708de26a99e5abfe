//go:build integration

package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/logging"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fixture is one service instance against moto, with a fault-injecting
// transport under its AWS clients.
type fixture struct {
	app    *app.App
	fw     *fakeworkspace.Server
	table  string
	prefix string
	faults *faultinject.Transport
	logs   *bytes.Buffer
	token  string
}

func newFixture(t *testing.T, table, prefix string) *fixture {
	t.Helper()
	if table == "" {
		table = testenv.NewTable(t)
	}
	if prefix == "" {
		prefix = testenv.NewSecretPrefix(t)
	}
	faults := &faultinject.Transport{Base: http.DefaultTransport}
	awsCfg := testenv.AWSConfig(t)
	awsCfg.HTTPClient = &http.Client{Transport: faults}
	logs := &bytes.Buffer{}
	logger := logging.New(&lockedWriter{w: logs}, "DEBUG")
	fw := fakeworkspace.Default()
	if err := fw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fw.Close)
	fw.AddPAT(secretToken)
	fw.AddAzureApp("tenant-1", "app-1", secretClient)
	cfg := config.Config{
		TableName: table, SecretNamePrefix: prefix, IDBlockSize: 5, TokenCacheTTL: time.Minute, SecretRecoveryDays: 7,
		MetricsNamespace: "Test/Storage",
		Hosts:            hostguard.Policy{AllowPrivate: true},
		AzureAuthority:   fw.URL(),
	}
	a := app.NewWithAWS(awsCfg, cfg, logger, app.Options{RootCAs: fw.CertPool(), Version: "test"})
	token, _, err := a.Tokens.Mint(context.Background(), tokenstore.MintInput{User: "tester-" + t.Name(), AllProjects: true})
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return &fixture{app: a, fw: fw, table: table, prefix: prefix, faults: faults, logs: logs, token: token}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// post sends a body as an HTTP API (v2) event through the Lambda handler.
func (f *fixture) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	status, _, decoded := f.send(t, path, body, nil)
	return status, decoded
}

// send is post with extra headers, returning the response headers too.
func (f *fixture) send(t *testing.T, path, body string, extra map[string]string) (int, map[string]string, map[string]any) {
	t.Helper()
	return f.sendContext(context.Background(), t, path, body, extra)
}

// sendContext is send with the invocation's context, which the AWS calls the
// request makes inherit (faultinject.WithCallID labels them).
func (f *fixture) sendContext(ctx context.Context, t *testing.T, path, body string, extra map[string]string) (int, map[string]string, map[string]any) {
	t.Helper()
	status, headers, raw := f.callContext(ctx, t, http.MethodPost, path, body, extra)
	var decoded map[string]any
	if err := json.Unmarshal([]byte(raw), &decoded); err != nil {
		t.Fatalf("response body is not a JSON object: %q", raw)
	}
	return status, headers, decoded
}

// call sends any request (the path may carry a query) as an HTTP API (v2)
// event through the Lambda handler and returns the raw answer.
func (f *fixture) call(t *testing.T, method, path, body string, extra map[string]string) (int, map[string]string, string) {
	t.Helper()
	return f.callContext(context.Background(), t, method, path, body, extra)
}

// callContext is call with the invocation's context.
func (f *fixture) callContext(ctx context.Context, t *testing.T, method, path, body string, extra map[string]string) (int, map[string]string, string) {
	t.Helper()
	headers := map[string]string{"content-type": "application/json", "authorization": "Token " + f.token}
	for k, v := range extra {
		if v == "" {
			delete(headers, k)
			continue
		}
		headers[k] = v
	}
	rawPath, query, _ := strings.Cut(path, "?")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: rawPath, RawQueryString: query, Body: body,
		Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-" + t.Name(), Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath},
		},
	}
	payload, _ := json.Marshal(ev)
	out, err := f.app.Dispatcher.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	if strings.Contains(string(out), secretToken) || strings.Contains(string(out), secretClient) {
		t.Errorf("a response carries a secret value")
	}
	return resp.StatusCode, resp.Headers, resp.Body
}

const (
	secretToken  = "dapi-SECRET-token-7f3a9c"
	secretClient = "sp-SECRET-client-b41e02"
)

func (f *fixture) patBody(project int) string {
	return fmt.Sprintf(`{"project": %d, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "prefix": "images", "title": "Images", "meta": {"k": [1, 2]}, "token": %q}`, project, f.fw.URL(), secretToken)
}

func TestCreateStoresSecretAndRecordWithoutSecrets(t *testing.T) {
	f := newFixture(t, "", "")
	status, body := f.post(t, "/api/storages/databricks/", f.patBody(7))
	if status != http.StatusCreated {
		t.Fatalf("status = %d, body %v", status, body)
	}
	for _, key := range []string{"token", "client_secret"} {
		if _, ok := body[key]; ok {
			t.Errorf("response has key %q", key)
		}
	}
	for key, want := range map[string]any{"type": "databricks", "project": 7.0, "verify_tls": true, "synchronizable": true, "status": "initialized", "auth_type": "pat", "prefix": "images"} {
		if body[key] != want {
			t.Errorf("%s = %v, want %v", key, body[key], want)
		}
	}
	id := int64(body["id"].(float64))
	if id < 1 {
		t.Fatalf("id = %d", id)
	}

	record, err := f.app.Store.GetStorage(context.Background(), id)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if record.Project != 7 || record.Title == nil || *record.Title != "Images" || string(record.Meta) != `{"k":[1,2]}` {
		t.Errorf("record = %+v", record)
	}
	secret, err := secretsmanager.NewFromConfig(f.app.AWS).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(record.SecretARN)})
	if err != nil {
		t.Fatalf("secret of the record: %v", err)
	}
	var values map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(secret.SecretString)), &values); err != nil {
		t.Fatal(err)
	}
	// The token and the key of the storage's file links (package filecap).
	if len(values) != 2 || values["token"] != secretToken || len(values[filecap.SecretValue]) != 43 {
		t.Errorf("secret holds %d values, token matches: %v, file key of %d characters", len(values), values["token"] == secretToken, len(values[filecap.SecretValue]))
	}
	if got := aws.ToString(secret.Name); got != f.prefix+fmt.Sprintf("storage-%d", id) {
		t.Errorf("secret name = %q", got)
	}
	desc, err := secretsmanager.NewFromConfig(f.app.AWS).DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: secret.ARN})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tag := range desc.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if tags["label-studio:project"] != "7" || tags["label-studio:storage-id"] != fmt.Sprint(id) {
		t.Errorf("tags = %v", tags)
	}
	assertNoSecretStored(t, f)
}

func TestServicePrincipalSecretIsStoredAlone(t *testing.T) {
	f := newFixture(t, "", "")
	body := fmt.Sprintf(`{"project": 3, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "auth_type": "azure_ad_sp", "client_id": "app-1", "tenant_id": "tenant-1", "client_secret": %q}`, f.fw.URL(), secretClient)
	status, resp := f.post(t, "/api/storages/databricks", body)
	if status != http.StatusCreated {
		t.Fatalf("status = %d: %v", status, resp)
	}
	if resp["client_id"] != "app-1" || resp["tenant_id"] != "tenant-1" {
		t.Errorf("client_id/tenant_id = %v/%v", resp["client_id"], resp["tenant_id"])
	}
	record, err := f.app.Store.GetStorage(context.Background(), int64(resp["id"].(float64)))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := secretsmanager.NewFromConfig(f.app.AWS).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(record.SecretARN)})
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(secret.SecretString)), &values); err != nil {
		t.Fatal(err)
	}
	if len(values) != 2 || values["client_secret"] != secretClient || len(values[filecap.SecretValue]) != 43 {
		t.Errorf("secret has unexpected shape (%d values)", len(values))
	}
	assertNoSecretStored(t, f)
}

func TestRecordWriteFailureLeavesNoSecret(t *testing.T) {
	for _, fault := range faultinject.Faults {
		t.Run(fault.String(), func(t *testing.T) {
			f := newFixture(t, "", "")
			f.faults.Add(faultinject.Rule{Operation: "DynamoDB_20120810.PutItem", Fault: fault, Times: 100})
			status, body := f.post(t, "/api/storages/databricks/", f.patBody(1))
			if status != http.StatusInternalServerError {
				t.Fatalf("status = %d: %v", status, body)
			}
			if _, ok := body["validation_errors"]; ok {
				t.Errorf("500 carries validation_errors")
			}
			raw, _ := json.Marshal(body)
			if strings.Contains(string(raw), f.prefix) || strings.Contains(string(raw), "arn:") {
				t.Errorf("500 body names the secret: %s", raw)
			}
			if names := testenv.SecretNames(t, f.prefix); len(names) != 0 {
				t.Errorf("secrets left behind: %v", names)
			}
			for _, item := range testenv.ScanTable(t, f.table) {
				if pk := fmt.Sprint(item["pk"]); strings.Contains(pk, "STORAGE#") {
					t.Errorf("record left behind: %v", pk)
				}
			}
			assertNoSecretStored(t, f)
		})
	}
}

func TestEveryFieldWrongAtOnce(t *testing.T) {
	f := newFixture(t, "", "")
	body := `{"schema": "", "volume": true, "host": "http://x", "project": -3, "auth_type": "basic",
		"title": "` + strings.Repeat("t", 300) + `", "last_sync": "yesterday", "last_sync_count": -1,
		"status": "done", "verify_tls": "maybe", "request_timeout_s": "ten", "token": "x"}`
	status, resp := f.post(t, "/api/storages/databricks/", body)
	if status != http.StatusBadRequest {
		t.Fatalf("status = %d", status)
	}
	fields, _ := resp["validation_errors"].(map[string]any)
	want := []string{"catalog", "schema", "volume", "host", "project", "auth_type", "title", "last_sync", "last_sync_count", "status", "verify_tls", "request_timeout_s"}
	for _, name := range want {
		if msgs, ok := fields[name].([]any); !ok || len(msgs) == 0 {
			t.Errorf("no error for %s", name)
		}
	}
	if len(fields) != len(want) {
		t.Errorf("got errors for %d fields, want %d: %v", len(fields), len(want), fields)
	}
	if names := testenv.SecretNames(t, f.prefix); len(names) != 0 {
		t.Errorf("secrets created for an invalid request: %v", names)
	}
}

func TestConcurrentInstancesAssignUniqueIDs(t *testing.T) {
	table := testenv.NewTable(t)
	prefix := testenv.NewSecretPrefix(t)
	instances := []*fixture{newFixture(t, table, prefix), newFixture(t, table, prefix), newFixture(t, table, prefix)}
	const perInstance = 12
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for _, inst := range instances {
		for i := 0; i < perInstance; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, body := inst.post(t, "/api/storages/databricks/", inst.patBody(2))
				if status != http.StatusCreated {
					t.Errorf("status %d: %v", status, body)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				id := int64(body["id"].(float64))
				if seen[id] {
					t.Errorf("id %d assigned twice", id)
				}
				seen[id] = true
			}()
		}
	}
	wg.Wait()
	records, err := instances[0].app.Store.ListProject(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != len(seen) || len(seen) != len(instances)*perInstance {
		t.Errorf("records %d, ids %d, want %d", len(records), len(seen), len(instances)*perInstance)
	}
	if names := testenv.SecretNames(t, prefix); len(names) != len(seen) {
		t.Errorf("secrets %d, want %d", len(names), len(seen))
	}
}

// assertNoSecretStored fails if a secret value reached a DynamoDB item or a
// log line.
func assertNoSecretStored(t *testing.T, f *fixture) {
	t.Helper()
	for _, item := range testenv.ScanTable(t, f.table) {
		raw := fmt.Sprintf("%#v", item)
		for k, v := range item {
			raw += fmt.Sprintf(" %s=%v", k, v)
		}
		if strings.Contains(raw, secretToken) || strings.Contains(raw, secretClient) {
			t.Errorf("a DynamoDB item holds a secret value")
		}
	}
	if logs := f.logs.String(); strings.Contains(logs, secretToken) || strings.Contains(logs, secretClient) {
		t.Errorf("a log line holds a secret value")
	}
}

func TestConnectionCheckFailuresWriteNothing(t *testing.T) {
	f := newFixture(t, "", "")
	base := func(changes string) string {
		return fmt.Sprintf(`{"project": 4, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "token": %q%s}`, f.fw.URL(), secretToken, changes)
	}
	cases := []struct {
		name   string
		body   string
		prep   func()
		reason string
	}{
		{"credentials refused", fmt.Sprintf(`{"project": 4, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "token": "dapi-wrong-SECRET"}`, f.fw.URL()), nil, "refused"},
		{"service principal refused", fmt.Sprintf(`{"project": 4, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "auth_type": "dbx_sp", "client_id": "nobody", "client_secret": %q}`, f.fw.URL(), secretClient), nil, "refused"},
		{"volume not found", strings.Replace(base(""), `"landing"`, `"missing"`, 1), nil, "not found"},
		{"prefix not found", base(`, "prefix": "nope/deeper"`), nil, "not found"},
		{"prefix is a file", base(`, "prefix": "readme.txt"`), nil, "not a directory"},
		{"workspace unreachable", strings.Replace(base(""), f.fw.URL(), "https://127.0.0.1:1", 1), nil, "refused the connection"},
		{"timed out", base(`, "request_timeout_s": 1`), func() { f.fw.SetDelay(1500 * time.Millisecond) }, "time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.fw.SetDelay(0)
			if tc.prep != nil {
				tc.prep()
			}
			status, resp := f.post(t, "/api/storages/databricks/", tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status = %d: %v", status, resp)
			}
			detail, _ := resp["detail"].(string)
			if !strings.Contains(strings.ToLower(detail), tc.reason) {
				t.Errorf("detail %q does not name the cause (%q)", detail, tc.reason)
			}
			raw, _ := json.Marshal(resp)
			if strings.Contains(string(raw), secretToken) || strings.Contains(string(raw), secretClient) {
				t.Errorf("error body echoes a secret")
			}
		})
	}
	f.fw.SetDelay(0)
	if names := testenv.SecretNames(t, f.prefix); len(names) != 0 {
		t.Errorf("secrets written by failed checks: %v", names)
	}
	if items := storageItems(t, f.table); len(items) != 0 {
		t.Errorf("items written by failed checks: %v", items)
	}
	assertNoSecretStored(t, f)
}

func TestValidateChecksAndSavesNothing(t *testing.T) {
	f := newFixture(t, "", "")
	status, resp := f.post(t, "/api/storages/databricks/validate", f.patBody(5))
	if status != http.StatusOK || len(resp) != 0 {
		t.Fatalf("status = %d, body %v; want 200 {}", status, resp)
	}
	status, resp = f.post(t, "/api/storages/databricks/validate/", strings.Replace(f.patBody(5), `"landing"`, `"gone"`, 1))
	if status != http.StatusBadRequest {
		t.Fatalf("validate of a missing volume: status = %d: %v", status, resp)
	}
	if names := testenv.SecretNames(t, f.prefix); len(names) != 0 {
		t.Errorf("validate wrote secrets: %v", names)
	}
	if items := storageItems(t, f.table); len(items) != 0 {
		t.Errorf("validate wrote %v", items)
	}
}

func TestEveryAuthModeCreatesAgainstTheWorkspace(t *testing.T) {
	f := newFixture(t, "", "")
	f.fw.AddServicePrincipal("sp-1", secretClient)
	bodies := map[string]string{
		"pat":         f.patBody(6),
		"dbx_sp":      fmt.Sprintf(`{"project": 6, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "auth_type": "dbx_sp", "client_id": "sp-1", "client_secret": %q}`, f.fw.URL(), secretClient),
		"azure_ad_sp": fmt.Sprintf(`{"project": 6, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "auth_type": "azure_ad_sp", "tenant_id": "tenant-1", "client_id": "app-1", "client_secret": %q}`, f.fw.URL(), secretClient),
	}
	for mode, body := range bodies {
		t.Run(mode, func(t *testing.T) {
			status, resp := f.post(t, "/api/storages/databricks/", body)
			if status != http.StatusCreated || resp["auth_type"] != mode {
				t.Fatalf("status = %d: %v", status, resp)
			}
		})
	}
	assertNoSecretStored(t, f)
}

func TestHostileHostsAreRefusedBeforeAnyCall(t *testing.T) {
	f := newFixture(t, "", "")
	strict := app.NewWithAWS(f.app.AWS, config.Config{TableName: f.table, SecretNamePrefix: f.prefix, IDBlockSize: 1}, slog.New(slog.DiscardHandler), app.Options{})
	for _, host := range []string{
		"http://dbc-1.cloud.databricks.com", "https://127.0.0.1", "https://2130706433", "https://0x7f000001",
		"https://0177.0.0.1", "https://127.1", "https://[::1]", "https://[::ffff:127.0.0.1]", "https://localhost",
		"https://169.254.169.254", "https://metadata.google.internal", "https://user:pw@dbc-1.cloud.databricks.com",
		"https://dbc-1.cloud.databricks.com@169.254.169.254", "https://dbc-1.cloud.databricks.com.evil.example",
		"https://dbc-1.cloud.databricks.com/path", "https://dbc-1.cloud.databricks.com?x=1", "https://dbc-1.cloud.databricks.com:0",
		"https://dbc-1.cloud.databricks.com:99999", "https://evilcloud.databricks.com",
	} {
		t.Run(host, func(t *testing.T) {
			fixture := &fixture{app: strict, fw: f.fw, token: f.token}
			body := fmt.Sprintf(`{"project": 1, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "token": "t"}`, host)
			status, resp := fixture.post(t, "/api/storages/databricks/", body)
			fields, _ := resp["validation_errors"].(map[string]any)
			if status != http.StatusBadRequest || fields["host"] == nil {
				t.Fatalf("status = %d, validation errors %v", status, fields)
			}
		})
	}
	if names := testenv.SecretNames(t, f.prefix); len(names) != 0 {
		t.Errorf("secrets written: %v", names)
	}
}

func TestIdempotencyKeyReplaysAndRefusesChanges(t *testing.T) {
	f := newFixture(t, "", "")
	key := map[string]string{"idempotency-key": "create-images-1"}
	status, headers, first := f.send(t, "/api/storages/databricks/", f.patBody(8), key)
	if status != http.StatusCreated || headers["Idempotent-Replayed"] != "" {
		t.Fatalf("first: status %d, headers %v", status, headers)
	}
	f.fw.ResetRequests()
	for range 3 { // retries and redeliveries
		status, headers, again := f.send(t, "/api/storages/databricks/", f.patBody(8), key)
		if status != http.StatusCreated || headers["Idempotent-Replayed"] != "true" || again["id"] != first["id"] || again["created_at"] != first["created_at"] {
			t.Fatalf("replay: status %d, headers %v, id %v vs %v", status, headers, again["id"], first["id"])
		}
	}
	if got := f.fw.Requests(); len(got) != 0 {
		t.Errorf("the workspace saw %d requests from replays, want none", len(got))
	}
	// Nor does a replay count as a connection-check failure (whose alarm
	// pages someone).
	replays := 0
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "request" || entry["Replays"] != 1.0 {
			continue
		}
		replays++
		if n, _ := entry["ConnectionCheckFailures"].(float64); n != 0 {
			t.Errorf("a replay counted %v connection-check failures: %s", n, line)
		}
	}
	if replays != 3 {
		t.Errorf("%d summary lines of replays, want 3", replays)
	}
	status, _, changed := f.send(t, "/api/storages/databricks/", strings.Replace(f.patBody(8), "Images", "Other", 1), key)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("changed request with the same key: status %d: %v", status, changed)
	}
	if names := testenv.SecretNames(t, f.prefix); len(names) != 1 {
		t.Errorf("secrets = %v, want exactly one", names)
	}
	if records, _ := f.app.Store.ListProject(context.Background(), 8); len(records) != 1 {
		t.Errorf("records = %d, want 1", len(records))
	}
}

func TestConcurrentRequestsWithOneKeyCreateOneStorage(t *testing.T) {
	table, prefix := testenv.NewTable(t), testenv.NewSecretPrefix(t)
	instances := []*fixture{newFixture(t, table, prefix), newFixture(t, table, prefix)}
	const n = 8
	ids := make(chan any, 2*n)
	var wg sync.WaitGroup
	for _, inst := range instances {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _, body := inst.send(t, "/api/storages/databricks/", strings.Replace(inst.patBody(9), inst.fw.URL(), instances[0].fw.URL(), 1), map[string]string{"Idempotency-Key": "same-key"})
				if status != http.StatusCreated {
					t.Errorf("status %d: %v", status, body)
					return
				}
				ids <- body["id"]
			}()
		}
	}
	wg.Wait()
	close(ids)
	distinct := map[any]bool{}
	for id := range ids {
		distinct[id] = true
	}
	if len(distinct) != 1 {
		t.Errorf("one key produced ids %v", distinct)
	}
	if names := testenv.SecretNames(t, prefix); len(names) != 1 {
		t.Errorf("secrets = %v, want one", names)
	}
	if records, _ := instances[0].app.Store.ListProject(context.Background(), 9); len(records) != 1 {
		t.Errorf("records = %d, want 1", len(records))
	}
}

// storageItems lists the keys of the items a create writes (records and
// idempotency keys), leaving out tokens and the id counter.
func storageItems(t *testing.T, table string) []string {
	t.Helper()
	var keys []string
	for _, item := range testenv.ScanTable(t, table) {
		pk := fmt.Sprint(item["pk"])
		if strings.Contains(pk, "STORAGE#") || strings.Contains(pk, "IDEMPOTENCY#") {
			keys = append(keys, pk)
		}
	}
	return keys
}

func TestTokensAndProjectsMatrix(t *testing.T) {
	f := newFixture(t, "", "")
	ctx := context.Background()
	mint := func(in tokenstore.MintInput) string {
		token, _, err := f.app.Tokens.Mint(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	onlyOne := mint(tokenstore.MintInput{User: "one", Projects: []int64{21}})
	all := mint(tokenstore.MintInput{User: "all", AllProjects: true})
	revoked := mint(tokenstore.MintInput{User: "revoked", AllProjects: true})
	if err := f.app.Tokens.Revoke(ctx, auth.IDFromHash(auth.Hash(revoked))); err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(1500 * time.Millisecond)
	expiring := mint(tokenstore.MintInput{User: "expiring", AllProjects: true, ExpiresAt: &soon})
	time.Sleep(2 * time.Second)

	type credential struct {
		name, header string
		forProject   map[int64]int
	}
	ok21, ok22 := http.StatusCreated, http.StatusCreated
	credentials := []credential{
		{"no header", "", map[int64]int{21: 401, 22: 401}},
		{"empty scheme", "Token", map[int64]int{21: 401, 22: 401}},
		{"basic scheme", "Basic dXNlcjpwdw==", map[int64]int{21: 401, 22: 401}},
		{"unknown token", "Token lsdbx_unknown", map[int64]int{21: 401, 22: 401}},
		{"revoked token", "Token " + revoked, map[int64]int{21: 401, 22: 401}},
		{"expired token", "Token " + expiring, map[int64]int{21: 401, 22: 401}},
		{"project 21 token", "Token " + onlyOne, map[int64]int{21: ok21, 22: 403}},
		{"project 21 token, lower-case scheme", "token " + onlyOne, map[int64]int{21: ok21, 22: 403}},
		{"all-projects token", "Token " + all, map[int64]int{21: ok21, 22: ok22}},
	}
	wantDetail := map[string]string{
		"no header": "Authentication credentials were not provided.", "empty scheme": "Authentication credentials were not provided.",
		"basic scheme":  "Authentication credentials were not provided.",
		"unknown token": "Invalid token.", "revoked token": "Invalid token.", "expired token": "Invalid token.",
	}
	created := 0
	for _, cred := range credentials {
		for _, headerName := range []string{"Authorization", "authorization", "AUTHORIZATION"} {
			for _, project := range []int64{21, 22} {
				t.Run(fmt.Sprintf("%s/%s/project %d", cred.name, headerName, project), func(t *testing.T) {
					headers := map[string]string{"authorization": ""}
					if cred.header != "" {
						headers[headerName] = cred.header
					}
					before := len(testenv.SecretNames(t, f.prefix))
					status, _, body := f.send(t, "/api/storages/databricks/", f.patBody(int(project)), headers)
					want := cred.forProject[project]
					if status != want {
						t.Fatalf("status = %d, want %d: %v", status, want, body)
					}
					if d, ok := wantDetail[cred.name]; ok && body["detail"] != d {
						t.Errorf("detail = %q, want %q", body["detail"], d)
					}
					after := len(testenv.SecretNames(t, f.prefix))
					if status == http.StatusCreated {
						created++
						if after != before+1 {
							t.Errorf("secrets %d → %d on a create", before, after)
						}
					} else if after != before {
						t.Errorf("a refused request changed the secrets: %d → %d", before, after)
					}
				})
			}
		}
	}
	if got := len(storageItems(t, f.table)); got != created {
		t.Errorf("storage items %d, creates %d", got, created)
	}
	if strings.Contains(f.logs.String(), onlyOne) || strings.Contains(f.logs.String(), all) {
		t.Error("a token reached the logs")
	}
}
