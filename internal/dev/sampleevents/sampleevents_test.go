package sampleevents

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/syncmsg"
)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEveryEventGoesToTheFunctionOfItsRoute(t *testing.T) {
	want := map[string]Function{
		"http-create-pat.json":              Create,
		"http-create-minimal-no-slash.json": Create,
		"rest-create-pat.json":              Create,
		"http-missing-token.json":           Create,
		"http-validate-pat.json":            Manage,
		"http-wrong-method.json":            Manage, // DELETE /api/storages/databricks/
		"http-unknown-path.json":            Create, // not under /api/storages/databricks
		"sqs-create-batch.json":             Create,
		"eventbridge-create.json":           Create,
		"direct-create.json":                Create,
		"direct-invalid.json":               Create,
		"direct-get.json":                   Manage,
		"direct-update.json":                Manage,
		"direct-delete.json":                Manage,
		"sweep.json":                        Sweep,
		"direct-sync.json":                  Manage,
		"sync-step.json":                    SyncWorker,
	}
	for name, fn := range want {
		if got := For(readEvent(t, name)); got != fn {
			t.Errorf("%s goes to %s, want %s", name, got.LogicalID, fn.LogicalID)
		}
	}
}

func TestPointAtEveryWorkspaceDomain(t *testing.T) {
	const local = "https://127.0.0.1:4443"
	for _, suffix := range hostguard.DefaultSuffixes() {
		host := "https://dbc-1" + suffix
		body := `{"host": "` + host + `", "catalog": "main"}`
		b64 := base64.StdEncoding.EncodeToString([]byte(body))
		for _, c := range []struct {
			name, ev string
			n        int
		}{
			{"plain", `{"host": "` + host + `"}`, 1},
			{"string body", `{"isBase64Encoded": false, "body": ` + mustJSON(body) + `}`, 1},
			{"with port", `{"host": "` + host + `:8443"}`, 1},
			{"upper case", `{"host": "` + strings.ToUpper(host) + `"}`, 1},
			{"base64 body", `{"isBase64Encoded": true, "body": "` + b64 + `"}`, 1},
			{"both", `{"host": "` + host + `", "isBase64Encoded": true, "body": "` + b64 + `"}`, 2},
		} {
			out, n := PointAt([]byte(c.ev), local)
			text := decodeBody(t, out)
			if strings.Contains(strings.ToLower(text), suffix) || !strings.Contains(text, local) || n != c.n {
				t.Errorf("%s, %s: %d replaced, want %d: %s", suffix, c.name, n, c.n, text)
			}
		}
	}
}

func TestPointAtLeavesOtherHostsAndSaysSo(t *testing.T) {
	for _, ev := range []string{
		`{"host": "https://databricks.com"}`,
		`{"host": "https://cloud.databricks.com"}`,
		`{"host": "https://dbc-1.cloud.databricks.com.evil.example"}`,
		`{"host": "https://example.azure.us"}`,
		`{"isBase64Encoded": true, "body": "` + base64.StdEncoding.EncodeToString([]byte(`{"host": "https://x.example"}`)) + `"}`,
	} {
		if out, n := PointAt([]byte(ev), "https://127.0.0.1:1"); n != 0 || string(out) != ev {
			t.Errorf("%s: %d replaced: %s", ev, n, out)
		}
	}
}

func decodeBody(t *testing.T, ev []byte) string {
	t.Helper()
	var e event
	if err := json.Unmarshal(ev, &e); err != nil {
		t.Fatalf("%s: %v", ev, err)
	}
	if !e.IsBase64Encoded {
		return string(ev)
	}
	b, err := base64.StdEncoding.DecodeString(e.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(ev) + string(b)
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestCredentialsSecretIDs(t *testing.T) {
	got := CredentialsSecretIDs(readEvent(t, "sqs-create-batch.json"))
	if !slices.Equal(got, []string{"label-studio/databricks-storage/incoming/sample-queued", "label-studio/databricks-storage/incoming/sample-queued-2"}) {
		t.Errorf("sqs: %v", got)
	}
	got = CredentialsSecretIDs(readEvent(t, "eventbridge-create.json"))
	if !slices.Equal(got, []string{"label-studio/databricks-storage/incoming/sample-event"}) {
		t.Errorf("eventbridge: %v", got)
	}
	body := base64.StdEncoding.EncodeToString([]byte(`{"credentials_secret_id": "p/incoming/b64"}`))
	got = CredentialsSecretIDs([]byte(`{"isBase64Encoded": true, "body": "` + body + `"}`))
	if !slices.Equal(got, []string{"p/incoming/b64"}) {
		t.Errorf("base64 body: %v", got)
	}
}

func TestOrderPutsOperationsOnAStoredStorageLast(t *testing.T) {
	files := []string{"direct-create.json", "direct-delete.json", "direct-sync.json", "direct-get.json", "direct-update.json", "http-create-pat.json", "sweep.json", "sync-step.json"}
	payloads := map[string][]byte{}
	for _, f := range files {
		payloads[f] = readEvent(t, f)
	}
	got := Order(files, payloads)
	want := []string{"direct-create.json", "http-create-pat.json", "sweep.json", "sync-step.json", "direct-get.json", "direct-update.json", "direct-sync.json", "direct-delete.json"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestEveryEventHasAnExpectation holds events/README.md and events/ to each
// other: every event file has one machine-checkable row, every row a file.
func TestEveryEventHasAnExpectation(t *testing.T) {
	readme, err := os.ReadFile("../../../events/README.md")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := ParseExpectations(readme)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files("../../../events")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := exp[f]; !ok {
			t.Errorf("events/%s has no row in events/README.md", f)
		}
	}
	for f := range exp {
		if !slices.Contains(files, f) {
			t.Errorf("events/README.md lists %s, which is not an event file", f)
		}
	}
	if e := exp["http-create-pat.json"]; e.Status != 201 {
		t.Errorf("http-create-pat.json: %+v", e)
	}
	if e := exp["eventbridge-create.json"]; string(e.Check) != "null" {
		t.Errorf("eventbridge-create.json: %+v", e)
	}
}

func TestExpectationVerify(t *testing.T) {
	status := Expectation{File: "f", Status: 201}
	if err := status.Verify([]byte(`{"statusCode": 201, "body": "{}"}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"statusCode": 400}`, `null`, `not json`} {
		if status.Verify([]byte(bad)) == nil {
			t.Errorf("status 201 accepted %s", bad)
		}
	}
	check := Expectation{File: "f", Check: json.RawMessage(`{"outcome": "created", "storage": {"project": 1}}`)}
	if err := check.Verify([]byte(`{"outcome": "created", "storage": {"id": 3, "project": 1}}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"outcome": "refused", "storage": {"project": 1}}`, `{"outcome": "created"}`, `null`, `[]`} {
		if check.Verify([]byte(bad)) == nil {
			t.Errorf("check accepted %s", bad)
		}
	}
	empty := Expectation{File: "f", Check: json.RawMessage(`{"batchItemFailures": []}`)}
	if empty.Verify([]byte(`{"batchItemFailures": [{"itemIdentifier": "x"}]}`)) == nil {
		t.Error("a failure accepted as none")
	}
	if err := (Expectation{File: "f", Check: json.RawMessage(`null`)}).Verify([]byte("null\n")); err != nil {
		t.Error(err)
	}
}

func TestParseExpectationsRefusesUncheckableRows(t *testing.T) {
	for _, bad := range []string{
		"| `a.json` | case | created |\n",
		"| `a.json` | case | `{not json` |\n",
		"| `a.json` | x | 201 |\n| `a.json` | y | 400 |\n",
	} {
		if _, err := ParseExpectations([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestSyncStepSampleIsWhatTheQueueCarries: sync-step.json's body is a sync
// step as the manage function queues it (syncmsg.Encode), so the sample
// goes stale when the message does.
func TestSyncStepSampleIsWhatTheQueueCarries(t *testing.T) {
	var ev struct {
		Records []struct {
			EventSource string `json:"eventSource"`
			Body        string `json:"body"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(readEvent(t, "sync-step.json"), &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("sync-step.json: %v, %d records; want one SQS record", err, len(ev.Records))
	}
	m, err := syncmsg.Decode(ev.Records[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := syncmsg.Encode(m); got != ev.Records[0].Body || m.Step != 0 || m.Purge {
		t.Errorf("sync-step.json's body %s; syncqueue encodes it %s; want a first step", ev.Records[0].Body, got)
	}
}

func TestNeedsSync(t *testing.T) {
	for name, want := range map[string]bool{
		"direct-sync.json": true, "sync-step.json": true,
		"sqs-create-batch.json": false, "direct-get.json": false, "http-create-pat.json": false, "sweep.json": false,
	} {
		if got := NeedsSync(readEvent(t, name)); got != want {
			t.Errorf("NeedsSync(%s) = %v, want %v", name, got, want)
		}
	}
}
