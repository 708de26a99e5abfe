//go:build integration

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
	"github.com/lsdbx/databricks-storage/internal/dev/rie"
	"github.com/lsdbx/databricks-storage/internal/dev/sampleevents"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// TestMain starts the moto every test's local environment uses.
func TestMain(m *testing.M) { testenv.Main(m) }

// expectedStatus is the status each sample event's case calls for. Every file
// in events/ must be listed, so a new sample cannot go untested.
var expectedStatus = map[string]int{
	"http-create-pat.json":                    201,
	"http-create-dbx-sp.json":                 201,
	"http-create-azure-ad-sp.json":            201,
	"http-create-minimal-no-slash.json":       201,
	"rest-create-pat.json":                    201,
	"http-validate-pat.json":                  200,
	"http-invalid-every-field.json":           400,
	"http-invalid-dbx-sp-missing-secret.json": 400,
	"http-invalid-json.json":                  400,
	"http-invalid-not-object.json":            400,
	"http-invalid-content-type.json":          415,
	"http-wrong-method.json":                  405,
	"http-unknown-path.json":                  404,
	"rest-invalid-missing-fields.json":        400,
	"http-missing-token.json":                 401,
}

// asyncSamples are the non-HTTP sample events (SQS, EventBridge, direct
// invocations), in the order they run against one table: each names the
// function it goes to and what it must return (the exact result, or the
// direct result's outcome); failures are the FAILURE# items it must
// leave. The direct get, update, sync and delete act on storage 1, which
// direct-create.json creates first; sync-step.json's job is not the one
// the direct sync queued, so the worker acknowledges it without reading
// anything.
var asyncSamples = []asyncSample{
	{name: "direct-create.json", function: "create-storage", outcome: "created"},
	{name: "direct-get.json", function: "manage-storage", outcome: "got"},
	{name: "direct-update.json", function: "manage-storage", outcome: "updated"},
	{name: "direct-sync.json", function: "manage-storage", outcome: "sync_started"},
	{name: "sync-step.json", function: "sync-worker", result: `{"batchItemFailures":[]}`},
	{name: "direct-delete.json", function: "manage-storage", outcome: "deleted"},
	{name: "direct-invalid.json", function: "create-storage", outcome: "refused"},
	{name: "eventbridge-create.json", function: "create-storage", result: `null`},
	{name: "sqs-create-batch.json", function: "create-storage", result: `{"batchItemFailures":[]}`, failures: []string{
		"FAILURE#sqs#b1d94e06-2c7a-4f8e-9053-6a1f3e7c2d84", "FAILURE#sqs#e5c0a9f2-7d41-4b3a-9c86-1f2e3d4c5b6a"}},
	// The sweep finds the secrets above too young to be orphans.
	{name: "sweep.json", function: "sweep"},
}

// readmeExpectations are events/README.md's machine-checkable outcomes,
// which every sample must meet here too.
func readmeExpectations(t *testing.T) map[string]sampleevents.Expectation {
	t.Helper()
	readme, err := os.ReadFile("../../../events/README.md")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := sampleevents.ParseExpectations(readme)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

type asyncSample struct {
	name     string
	function string
	result   string
	outcome  string
	failures []string
}

// handedOver are the credentials secrets the SQS and EventBridge samples
// name, under the default prefix; the test makes them under its own.
var handedOver = []string{"incoming/sample-queued", "incoming/sample-queued-2", "incoming/sample-event"}

// world is the local environment (moto, a fake workspace, a table with the
// token the sample events carry) and the environment a function needs to
// use it.
type world struct {
	fw    *fakeworkspace.Server
	table string
	env   map[string]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	// moto is testenv's (AWS_ENDPOINT_URL); table and prefix are this test's.
	le, err := localenv.Start(context.Background(), localenv.Options{
		Table:        testenv.NewTable(t),
		SecretPrefix: testenv.NewSecretPrefix(t),
		// The sample events carry "Authorization: Token local-dev-token".
		Token: "local-dev-token",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(le.Close)
	env := le.Vars()
	env["AWS_LAMBDA_LOG_LEVEL"] = "DEBUG"
	return &world{fw: le.Workspace, table: le.Table, env: env}
}

// pointAtFake rewrites the host in an event's JSON body to the fake workspace.
func (w *world) pointAtFake(t *testing.T, payload []byte) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	body, _ := ev["body"].(string)
	var fields map[string]any
	if json.Unmarshal([]byte(body), &fields) == nil && fields != nil {
		if host, ok := fields["host"].(string); ok && strings.HasPrefix(host, "https://") {
			fields["host"] = w.fw.URL()
			rewritten, _ := json.Marshal(fields)
			ev["body"] = string(rewritten)
		}
	}
	out, _ := json.Marshal(ev)
	return out
}

func TestEverySampleEventThroughTheRuntimeEmulator(t *testing.T) {
	names, err := sampleevents.Files("../../../events")
	if err != nil || len(names) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	var files []string
	for _, n := range names {
		files = append(files, filepath.Join("..", "..", "..", "events", n))
	}
	exp := readmeExpectations(t)
	for _, f := range files {
		_, http := expectedStatus[filepath.Base(f)]
		async := slices.ContainsFunc(asyncSamples, func(a asyncSample) bool { return a.name == filepath.Base(f) })
		if !http && !async {
			t.Errorf("events/%s has no expected status in this test", filepath.Base(f))
		}
	}
	w := newWorld(t)
	fn := startFunction(t, "create-storage", w.env)
	manage := startFunction(t, "manage-storage", w.env)

	for _, f := range files {
		name := filepath.Base(f)
		want, ok := expectedStatus[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// POST …/validate is the manage function's route.
			target := fn
			if strings.Contains(name, "validate") {
				target = manage
			}
			out, err := target.Invoke(context.Background(), w.pointAtFake(t, raw))
			if err != nil {
				t.Fatalf("invoke: %v\n%s", err, fn.Logs())
			}
			var resp events.APIGatewayProxyResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("response %s: %v", out, err)
			}
			if resp.StatusCode != want {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, want, resp.Body)
			}
			if err := exp[name].Verify(out); err != nil {
				t.Errorf("events/README.md: %v", err)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body is not a JSON object: %s", resp.Body)
			}
			if _, leaked := body["token"]; leaked {
				t.Error("response carries token")
			}
			if _, leaked := body["client_secret"]; leaked {
				t.Error("response carries client_secret")
			}
			if want >= 400 && (body["status_code"] != float64(want) || body["detail"] == nil || body["id"] == nil) {
				t.Errorf("error body is not in Label Studio's format: %s", resp.Body)
			}
		})
	}
	for _, secret := range []string{fakeworkspace.DefaultPAT, fakeworkspace.DefaultSPClientSecret, fakeworkspace.DefaultAzureClientSecret} {
		if strings.Contains(fn.Logs(), secret) {
			t.Errorf("the function logged a secret value")
		}
		for _, item := range testenv.ScanTable(t, w.table) {
			if strings.Contains(fmt.Sprint(item), secret) {
				t.Errorf("a DynamoDB item holds a secret value")
			}
		}
	}
}

func TestAsyncSampleEventsThroughTheRuntimeEmulator(t *testing.T) {
	w := newWorld(t)
	queue := newSyncQueue(t)
	functions := map[string]*rie.Function{
		"create-storage": startFunction(t, "create-storage", w.env),
		"manage-storage": startFunction(t, "manage-storage", withSync(w.env, queue.URL, "", "", "")),
		"sweep":          startFunction(t, "sweep", w.env),
		// Configured as deployed, but no step here reaches Label Studio:
		// nothing listens at its URL, and its secret does not exist.
		"sync-worker": startFunction(t, "sync-worker", withSync(w.env, queue.URL, "http://127.0.0.1:9", "e2e-no-such-secret", "https://labeling.example.com")),
	}
	exp := readmeExpectations(t)
	sm := secretsmanager.NewFromConfig(testenv.AWSConfig(t))
	for _, name := range handedOver {
		if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
			Name:         aws.String(w.env["SECRET_NAME_PREFIX"] + name),
			SecretString: aws.String(`{"token": "` + fakeworkspace.DefaultPAT + `"}`),
		}); err != nil {
			t.Fatal(err)
		}
	}
	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	for _, want := range asyncSamples {
		t.Run(want.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "..", "events", want.name))
			if err != nil {
				t.Fatal(err)
			}
			// The host appears in JSON and in JSON-in-a-string alike, and so
			// does the secret prefix.
			payload := strings.ReplaceAll(string(raw), "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", w.fw.URL())
			payload = strings.ReplaceAll(payload, secretstore.DefaultPrefix, w.env["SECRET_NAME_PREFIX"])
			fn := functions[want.function]
			out, err := fn.Invoke(context.Background(), []byte(payload))
			if err != nil {
				t.Fatalf("invoke: %v\n%s", err, fn.Logs())
			}
			if err := exp[want.name].Verify(out); err != nil {
				t.Errorf("events/README.md: %v", err)
			}
			if want.result != "" && string(out) != want.result {
				t.Errorf("result = %s, want %s", out, want.result)
			}
			if want.outcome != "" {
				var res struct {
					Outcome string         `json:"outcome"`
					Storage map[string]any `json:"storage"`
					Error   map[string]any `json:"error"`
				}
				if err := json.Unmarshal(out, &res); err != nil {
					t.Fatalf("result %s: %v", out, err)
				}
				wantStorage := want.outcome != "deleted" && want.outcome != "refused"
				if res.Outcome != want.outcome || wantStorage != (res.Storage != nil) || (want.outcome == "refused") != (res.Error != nil) {
					t.Errorf("result = %s, want outcome %s", out, want.outcome)
				}
			}
			for _, pk := range want.failures {
				item, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
					TableName: aws.String(w.table),
					Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
				})
				if err != nil || item.Item == nil {
					t.Errorf("no %s item (err %v)", pk, err)
				}
			}
		})
	}
	// Every handed-over secret was used once and deleted.
	for _, name := range handedOver {
		if _, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(w.env["SECRET_NAME_PREFIX"] + name)}); err == nil {
			t.Errorf("the handed-over secret %s is still there", name)
		}
	}
	for _, fn := range functions {
		if strings.Contains(fn.Logs(), fakeworkspace.DefaultPAT) {
			t.Errorf("a function logged the handed-over token")
		}
	}
}

func startFunction(t *testing.T, function string, env map[string]string) *rie.Function {
	t.Helper()
	wd, _ := os.Getwd()
	rieBin, err := rie.FindBinary(wd)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap, err := rie.Build(context.Background(), "../../../functions/"+function, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fn, err := rie.Start(context.Background(), rieBin, bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)
	return fn
}

func TestLabelStudioSDKThroughTheLocalAPI(t *testing.T) {
	wd, _ := os.Getwd()
	python := filepath.Join(wd, "..", "..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the project virtualenv is missing (make venv): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "localapi")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../internal/dev/cmd/localapi").CombinedOutput(); err != nil {
		t.Fatalf("build localapi: %v\n%s", err, out)
	}
	table := testenv.NewTable(t)
	prefix := testenv.NewSecretPrefix(t)
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	// PORT=0: a free port; the fake workspace takes one too. Both are read
	// from the banner.
	for k, v := range map[string]string{
		"PORT": "0", "TABLE_NAME": table, "SECRET_NAME_PREFIX": prefix, "LOCAL_API_TOKEN": "sdk-test-token",
		"LABEL_STUDIO": "off", // the standalone service and its own API keys
	} {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	apiURL, workspaceURL := waitForListening(t, stdout)

	script := exec.Command(python, "testdata/sdk_lifecycle.py")
	script.Env = append(os.Environ(),
		"LS_BASE_URL="+apiURL, "LS_API_KEY=sdk-test-token",
		"WORKSPACE_HOST="+workspaceURL)
	out, err := script.CombinedOutput()
	if err != nil {
		t.Fatalf("label-studio-sdk script failed: %v\n%s", err, out)
	}
	var ids []int
	deleted := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("unexpected script output %q", line)
		}
		if id, ok := row["id"].(float64); ok {
			ids = append(ids, int(id))
		}
		if id, ok := row["deleted"].(float64); ok {
			deleted = int(id)
		}
	}
	sort.Ints(ids)
	if len(ids) != 3 || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("created ids %v, want 3 distinct", ids)
	}
	// The deleted storage's secret is scheduled for deletion, which hides
	// it from listings; the other two remain.
	names := testenv.SecretNames(t, prefix)
	if len(names) != 2 || slices.Contains(names, secretstore.Name(prefix, int64(deleted))) {
		t.Errorf("secrets in moto: %v, want the two of the storages not deleted (deleted %d)", names, deleted)
	}
}

var (
	workspaceLine = regexp.MustCompile(`fake Databricks workspace at (https://\S+)`)
	listeningLine = regexp.MustCompile(`listening on (http://[^/\s]+)/`)
)

// waitForListening reads localapi's banner up to its "listening on" line and
// returns the API's base URL and the fake workspace's.
func waitForListening(t *testing.T, stdout interface{ Read([]byte) (int, error) }) (apiURL, workspaceURL string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("localapi exited before listening")
			}
			if m := workspaceLine.FindStringSubmatch(line); m != nil {
				workspaceURL = m[1]
			}
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				if workspaceURL == "" {
					t.Fatal("localapi listens without having named its fake workspace")
				}
				go func() {
					for range lines {
					}
				}()
				return m[1], workspaceURL
			}
		case <-timeout:
			t.Fatal("localapi did not start listening")
		}
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("localapi: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
