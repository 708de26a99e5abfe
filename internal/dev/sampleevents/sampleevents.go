// Package sampleevents knows the sample events of events/ the way the local
// runners use them (make invoke, make sam-local): which function an event
// goes to in AWS, how to point its workspace hosts at a local fake workspace,
// which handed-over credentials secrets it names, in which order a run
// sends them, and what events/README.md says each must answer.
package sampleevents

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/syncmsg"
)

// Function is one of the stack's functions: its folder under functions/ and
// its logical id in template.yaml.
type Function struct {
	Dir       string
	LogicalID string
}

// The stack's functions.
var (
	Create = Function{Dir: "create-storage", LogicalID: "CreateStorageFunction"}
	Manage = Function{Dir: "manage-storage", LogicalID: "ManageStorageFunction"}
	Sweep  = Function{Dir: "sweep", LogicalID: "SweepFunction"}
	// SyncWorker runs the sync queue's steps.
	SyncWorker = Function{Dir: "sync-worker", LogicalID: "SyncWorkerFunction"}
)

// event holds the fields that tell events apart.
type event struct {
	Operation  string `json:"operation"`
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	HTTPMethod string `json:"httpMethod"`
	Path       string `json:"path"`
	RawPath    string `json:"rawPath"`
	Context    struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`
	Body            string `json:"body"`
	Records         []struct {
		EventSource string `json:"eventSource"`
		Body        string `json:"body"`
	} `json:"Records"`
}

// syncSteps reports whether ev is an SQS batch of sync steps (what the sync
// queue delivers), not of creates.
func (ev event) syncSteps() bool {
	if len(ev.Records) == 0 {
		return false
	}
	for _, r := range ev.Records {
		if _, err := syncmsg.Decode(r.Body); r.EventSource != "aws:sqs" || err != nil {
			return false
		}
	}
	return true
}

// For tells which function an event goes to in AWS: the hourly schedule's
// event to the sweep; an SQS batch of sync steps to the sync worker; the
// manage function serves every HTTP route but POST /api/storages/databricks/
// and the direct get, update, delete and sync; the create function
// everything else (creates, their SQS batches, EventBridge).
func For(payload []byte) Function {
	var ev event
	_ = json.Unmarshal(payload, &ev)
	method, path := cmpOr(ev.Context.HTTP.Method, ev.HTTPMethod), cmpOr(ev.RawPath, ev.Path)
	switch {
	case ev.Source == "aws.events" && ev.DetailType == "Scheduled Event":
		return Sweep
	case ev.syncSteps():
		return SyncWorker
	case ev.Operation != "" && ev.Operation != "create":
		return Manage
	case method != "" && strings.HasPrefix(path, "/api/storages/databricks") &&
		!(method == "POST" && strings.TrimSuffix(path, "/") == "/api/storages/databricks"):
		return Manage
	}
	return Create
}

// NeedsSync reports whether an event is a sync's (the direct sync, a batch
// of sync steps): it needs a sync queue, and the sync worker Label Studio,
// which make invoke and make sam-local do not set up (make run and
// internal/dev/e2e do).
func NeedsSync(payload []byte) bool {
	var ev event
	_ = json.Unmarshal(payload, &ev)
	return ev.Operation == "sync" || ev.syncSteps()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// hostURL matches an https URL's scheme, host and optional port.
var hostURL = regexp.MustCompile(`(?i)https://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]+)?`)

// rewrite replaces, in text, the URLs whose host is under one of the
// Databricks workspace domains the host guard accepts by default (declared
// once, in hostguard.DefaultSuffixes) with url, and counts them.
func rewrite(text []byte, url string) ([]byte, int) {
	n := 0
	out := hostURL.ReplaceAllFunc(text, func(m []byte) []byte {
		host := strings.ToLower(strings.TrimPrefix(strings.ToLower(string(m)), "https://"))
		if i := strings.IndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		for _, s := range hostguard.DefaultSuffixes() {
			if strings.HasSuffix(host, s) && len(host) > len(s) {
				n++
				return []byte(url)
			}
		}
		return m
	})
	return out, n
}

// PointAt replaces every Databricks workspace URL in an event with url: in
// its JSON, in JSON-in-a-string bodies and in base64-encoded bodies alike.
// It returns the event and how many URLs it replaced; with none, the event
// is returned unchanged.
func PointAt(payload []byte, url string) ([]byte, int) {
	out, n := rewrite(payload, url)
	var ev event
	if json.Unmarshal(out, &ev) != nil || !ev.IsBase64Encoded || ev.Body == "" {
		return out, n
	}
	body, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		return out, n
	}
	body, m := rewrite(body, url)
	if m == 0 {
		return out, n
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(out, &fields) != nil {
		return out, n
	}
	fields["body"], _ = json.Marshal(base64.StdEncoding.EncodeToString(body))
	rewritten, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		return out, n
	}
	return rewritten, n + m
}

// handedOverID finds credentials_secret_id values, in JSON and in
// JSON-in-a-string bodies alike.
var handedOverID = regexp.MustCompile(`credentials_secret_id\\?"\s*:\s*\\?"([^"\\]+)`)

// CredentialsSecretIDs returns the handed-over credentials secrets an event
// names (credentials_secret_id), base64-encoded bodies included, each once.
func CredentialsSecretIDs(payload []byte) []string {
	texts := [][]byte{payload}
	var ev event
	if json.Unmarshal(payload, &ev) == nil && ev.IsBase64Encoded {
		if body, err := base64.StdEncoding.DecodeString(ev.Body); err == nil {
			texts = append(texts, body)
		}
	}
	var ids []string
	for _, t := range texts {
		for _, m := range handedOverID.FindAllSubmatch(t, -1) {
			if id := string(m[1]); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// Files lists the event files of dir (*.json), by name; env.*.json files
// are --env-vars files, not events.
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, "env.") {
			out = append(out, name)
		}
	}
	return out, nil
}

// Order returns the event files in the order a run sends them: as given,
// except that the direct get, update, sync and delete, which act on a
// storage an earlier create made, come last, in that order.
func Order(files []string, payloads map[string][]byte) []string {
	rank := func(f string) int {
		var ev event
		_ = json.Unmarshal(payloads[f], &ev)
		return map[string]int{"get": 1, "update": 2, "sync": 3, "delete": 4}[ev.Operation]
	}
	out := slices.Clone(files)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}
