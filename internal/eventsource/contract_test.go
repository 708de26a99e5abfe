package eventsource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

const contractSecret = "dapi-contract-secret-must-never-leak"

// scriptedCore answers each create by the request's title: "ok", "replay",
// "permanent" (a connection the caller must fix), "invalid-project"
// (permission), "transient" (AWS failed) or "timeout" (the workspace
// timed out).
type scriptedCore struct {
	mu    sync.Mutex
	calls []createCall
}

type createCall struct {
	caller core.Caller
	key    string
	title  string
}

func (c *scriptedCore) Get(_ context.Context, _ core.Caller, id int64) (storage.Storage, error) {
	if id == 404 {
		return storage.Storage{}, core.ErrNotFound
	}
	return storage.Storage{ID: id, Type: storage.StorageType}, nil
}

func (c *scriptedCore) Update(_ context.Context, _ core.Caller, id int64, u storage.Update) (storage.Storage, error) {
	if u.Gave("volume") {
		return storage.Storage{}, &storage.ConnectionError{Reason: storage.ReasonTimedOut, Message: "The workspace did not answer in time."}
	}
	return storage.Storage{ID: id, Type: storage.StorageType}, nil
}

func (c *scriptedCore) Delete(_ context.Context, _ core.Caller, id int64) error {
	if id == 404 {
		return core.ErrNotFound
	}
	return nil
}

func (c *scriptedCore) Sync(_ context.Context, _ core.Caller, id int64) (storage.Storage, error) {
	if id == 404 {
		return storage.Storage{}, core.ErrNotFound
	}
	return storage.Storage{ID: id, Type: storage.StorageType, Settings: storage.Settings{Status: "queued"}}, nil
}

func (c *scriptedCore) Replay(context.Context, core.Caller, string) (core.Created, bool, error) {
	return core.Created{}, false, nil
}

func (c *scriptedCore) Create(_ context.Context, caller core.Caller, req storage.Request, key string) (core.Created, error) {
	title := ""
	if req.Title != nil {
		title = *req.Title
	}
	c.mu.Lock()
	c.calls = append(c.calls, createCall{caller, key, title})
	c.mu.Unlock()
	switch title {
	case "permanent":
		return core.Created{}, &storage.ConnectionError{Reason: "volume_not_found", Message: "The volume main.default.landing does not exist."}
	case "forbidden":
		return core.Created{}, &core.PermissionError{TokenID: "t", Project: req.Project}
	case "transient":
		return core.Created{}, fmt.Errorf("%w: write record: ThrottlingException", core.ErrPersistence)
	case "timeout":
		return core.Created{}, &storage.ConnectionError{Reason: storage.ReasonTimedOut, Message: "The workspace did not answer in time."}
	}
	return core.Created{
		Storage:  storage.Storage{ID: 9, Type: storage.StorageType, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Settings: req.Settings},
		Replayed: title == "replay",
	}, nil
}

// failureLog is a FailureRecorder that can be made to fail.
type failureLog struct {
	mu       sync.Mutex
	err      error
	failures []core.Failure
}

func (f *failureLog) RecordFailure(_ context.Context, failure core.Failure) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.failures = append(f.failures, failure)
	return nil
}

// createBody is a create request with the token in clear; the title
// "invalid" makes it fail validation.
func createBody(title string) string {
	return strings.Replace(handedOverBody(title, ""), `"title"`, `"token": "`+contractSecret+`", "title"`, 1)
}

// handedOverBody is a create request whose credentials are in the secret
// ref (none when ref is empty).
func handedOverBody(title, ref string) string {
	project := "4"
	if title == "invalid" {
		project = `"four"`
	}
	body := `{"project": ` + project + `, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", "schema": "default",` +
		` "volume": "landing", "title": "` + title + `"}`
	if ref != "" {
		body = strings.Replace(body, `"title"`, `"credentials_secret_id": "`+ref+`", "title"`, 1)
	}
	return body
}

// handOvers is an in-memory Credentials: secret id → values.
type handOvers struct {
	mu      sync.Mutex
	secrets map[string]map[string]string
	deleted []string
}

const handOverDir = "lsdbx/incoming/"

func newHandOvers(ids ...string) *handOvers {
	h := &handOvers{secrets: map[string]map[string]string{}}
	for _, id := range ids {
		h.secrets[id] = map[string]string{"token": contractSecret}
	}
	return h
}

func (h *handOvers) Dir() string         { return handOverDir }
func (h *handOvers) Owns(id string) bool { return strings.HasPrefix(id, handOverDir) }

func (h *handOvers) Read(_ context.Context, id string) (map[string]string, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.secrets[id]
	return v, ok, nil
}

func (h *handOvers) Delete(_ context.Context, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.secrets, id)
	h.deleted = append(h.deleted, id)
	return nil
}

func handOverID(i int) string { return handOverDir + messageID(i) }

type contractCase struct {
	name string
	// titles of the messages; for EventBridge and direct, only the first.
	titles       []string
	recordFails  bool
	wantRetry    []int // indexes of messages to be redelivered
	wantRecorded []int // indexes of messages with a failure record
	// wantOutcome and wantKind are the first message's outcome and, for a
	// failure, the kind of its error.
	wantOutcome eventsource.Outcome
	wantKind    core.Kind
}

var contractCases = []contractCase{
	{name: "success", titles: []string{"ok"}, wantOutcome: eventsource.OutcomeCreated},
	{name: "permanent failure", titles: []string{"permanent"}, wantRecorded: []int{0}, wantOutcome: eventsource.OutcomeRefused, wantKind: core.KindConnectionRefused},
	{name: "permission refused", titles: []string{"forbidden"}, wantRecorded: []int{0}, wantOutcome: eventsource.OutcomeRefused, wantKind: core.KindForbidden},
	{name: "invalid request", titles: []string{"invalid"}, wantRecorded: []int{0}, wantOutcome: eventsource.OutcomeRefused, wantKind: core.KindInvalid},
	{name: "transient failure", titles: []string{"transient"}, wantRetry: []int{0}, wantOutcome: eventsource.OutcomeRetry, wantKind: core.KindPersistence},
	{name: "workspace timed out", titles: []string{"timeout"}, wantRetry: []int{0}, wantOutcome: eventsource.OutcomeRetry, wantKind: core.KindWorkspaceUnavailable},
	{name: "failure record cannot be written", titles: []string{"permanent"}, recordFails: true, wantRetry: []int{0}, wantOutcome: eventsource.OutcomeRefused, wantKind: core.KindConnectionRefused},
}

// directCreate is a direct create of body, with the idempotency key when
// one is given.
func directCreate(body, key string) string {
	if key != "" {
		return `{"operation": "create", "idempotency_key": "` + key + `", "storage": ` + body + `}`
	}
	return `{"operation": "create", "storage": ` + body + `}`
}

func newContractDispatcher(c contractCase) (*eventsource.Dispatcher, *scriptedCore, *failureLog, *bytes.Buffer) {
	var ids []string
	for i := range c.titles {
		ids = append(ids, handOverID(i))
	}
	sc := &scriptedCore{}
	fl := &failureLog{}
	if c.recordFails {
		fl.err = errors.New("dynamodb: ProvisionedThroughputExceededException")
	}
	logs := &bytes.Buffer{}
	return &eventsource.Dispatcher{
		Creator: sc, Manager: sc, Decoder: storage.Decoder{}, Failures: fl, Version: "contract", Credentials: newHandOvers(ids...),
		Logger: logging.New(logs, "DEBUG"),
	}, sc, fl, logs
}

func lambdaContext(id string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
}

func messageID(i int) string { return fmt.Sprintf("msg-%d", i) }

func recordedIDs(fl *failureLog) []string {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	var ids []string
	for _, f := range fl.failures {
		ids = append(ids, f.MessageID)
	}
	sort.Strings(ids)
	return ids
}

func ids(indexes []int) []string {
	var out []string
	for _, i := range indexes {
		out = append(out, messageID(i))
	}
	sort.Strings(out)
	return out
}

// checkFailureRecords checks the FAILURE records of permanent failures:
// their source, kind and detail.
func checkFailureRecords(t *testing.T, fl *failureLog, source string, kind core.Kind) {
	t.Helper()
	for _, f := range fl.failures {
		if f.Source != source || f.Kind != kind || f.Detail == "" {
			t.Errorf("failure record %s/%s of kind %s detail %q, want source %s kind %s and a detail", f.Source, f.MessageID, f.Kind, f.Detail, source, kind)
		}
	}
}

func checkNoSecret(t *testing.T, what string, out []byte) {
	t.Helper()
	if bytes.Contains(out, []byte(contractSecret)) {
		t.Errorf("%s holds the secret: %s", what, out)
	}
}

func TestSQSContract(t *testing.T) {
	cases := append(contractCases, contractCase{
		name:         "mixed batch",
		titles:       []string{"ok", "transient", "permanent", "replay", "timeout"},
		wantRetry:    []int{1, 4},
		wantRecorded: []int{2},
		wantOutcome:  eventsource.OutcomeCreated,
		wantKind:     core.KindConnectionRefused, // of the one recorded
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, sc, fl, logs := newContractDispatcher(c)
			var ev events.SQSEvent
			for i, title := range c.titles {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: messageID(i), EventSource: "aws:sqs", Body: handedOverBody(title, handOverID(i))})
			}
			payload, _ := json.Marshal(ev)
			out, err := d.Invoke(lambdaContext("lambda-req-1"), payload)
			if err != nil {
				t.Fatalf("Invoke: %v (an SQS batch reports failures per message, never as an error)", err)
			}
			var resp struct {
				BatchItemFailures []struct {
					ItemIdentifier string `json:"itemIdentifier"`
				} `json:"batchItemFailures"`
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte(`"batchItemFailures":[`)) {
				t.Errorf("response %s lacks a batchItemFailures list", out)
			}
			var retried []string
			for _, f := range resp.BatchItemFailures {
				retried = append(retried, f.ItemIdentifier)
			}
			sort.Strings(retried)
			if !reflect.DeepEqual(retried, ids(c.wantRetry)) {
				t.Errorf("batchItemFailures = %v, want %v", retried, ids(c.wantRetry))
			}
			if got := recordedIDs(fl); !reflect.DeepEqual(got, ids(c.wantRecorded)) {
				t.Errorf("failure records for %v, want %v", got, ids(c.wantRecorded))
			}
			if len(c.wantRecorded) > 0 {
				checkFailureRecords(t, fl, eventsource.SourceSQS, c.wantKind)
			}
			for _, call := range sc.calls {
				if call.caller.Principal != nil || call.caller.Source != eventsource.SourceSQS || !strings.Contains(call.key, "sqs") {
					t.Errorf("core called as %+v with key %q; want the trusted SQS source and the message id as key", call.caller, call.key)
				}
			}
			checkNoSecret(t, "response", out)
			checkNoSecret(t, "logs", logs.Bytes())
			if !strings.Contains(logs.String(), `"request_id":"lambda-req-1"`) {
				t.Errorf("log lines lack the Lambda request id: %s", logs)
			}
		})
	}
}

func TestEventBridgeContract(t *testing.T) {
	for _, c := range contractCases {
		t.Run(c.name, func(t *testing.T) {
			d, sc, fl, logs := newContractDispatcher(c)
			payload, _ := json.Marshal(events.CloudWatchEvent{
				ID: messageID(0), Source: eventsource.EventBridgeSource, DetailType: eventsource.EventBridgeDetailType,
				Detail: json.RawMessage(handedOverBody(c.titles[0], handOverID(0))),
			})
			out, err := d.Invoke(lambdaContext("lambda-req-2"), payload)
			if retry := len(c.wantRetry) > 0; retry != (err != nil) {
				t.Fatalf("Invoke = %s, %v; want an error (so Lambda retries) %v", out, err, retry)
			}
			if err != nil && !errors.Is(err, eventsource.ErrRetryEvent) {
				t.Errorf("error %v does not wrap ErrRetryEvent", err)
			}
			if err == nil && string(out) != "null" {
				t.Errorf("output = %s, want null", out)
			}
			if got := recordedIDs(fl); !reflect.DeepEqual(got, ids(c.wantRecorded)) {
				t.Errorf("failure records for %v, want %v", got, ids(c.wantRecorded))
			}
			checkFailureRecords(t, fl, eventsource.SourceEventBridge, c.wantKind)
			if len(sc.calls) > 0 && (sc.calls[0].caller.Source != eventsource.SourceEventBridge || !strings.Contains(sc.calls[0].key, messageID(0))) {
				t.Errorf("core called as %+v with key %q", sc.calls[0].caller, sc.calls[0].key)
			}
			if err != nil {
				checkNoSecret(t, "error", []byte(err.Error()))
			}
			checkNoSecret(t, "logs", logs.Bytes())
		})
	}
	t.Run("other source is ignored", func(t *testing.T) {
		d, sc, fl, _ := newContractDispatcher(contractCase{})
		payload, _ := json.Marshal(events.CloudWatchEvent{ID: "e", Source: "someone.else", DetailType: eventsource.EventBridgeDetailType, Detail: json.RawMessage(createBody("ok"))})
		if out, err := d.Invoke(context.Background(), payload); err != nil || string(out) != "null" {
			t.Fatalf("Invoke = %s, %v", out, err)
		}
		if len(sc.calls)+len(fl.failures) != 0 {
			t.Errorf("an event of another source reached the core or the failure log")
		}
	})
}

func TestDirectContract(t *testing.T) {
	for _, c := range append(contractCases, contractCase{name: "replay", titles: []string{"replay"}, wantOutcome: eventsource.OutcomeReplayed}) {
		if c.recordFails {
			continue // direct invocations answer their caller; they record nothing
		}
		t.Run(c.name, func(t *testing.T) {
			d, sc, fl, logs := newContractDispatcher(c)
			out, err := d.Invoke(lambdaContext("lambda-req-3"), []byte(directCreate(createBody(c.titles[0]), "")))
			checkNoSecret(t, "logs", logs.Bytes())
			if len(fl.failures) != 0 {
				t.Errorf("a direct invocation wrote failure records: %+v", fl.failures)
			}
			if c.wantOutcome == eventsource.OutcomeRetry {
				var te *eventsource.TransientError
				if !errors.As(err, &te) || te.Kind != c.wantKind {
					t.Fatalf("Invoke = %s, %v; want a *TransientError of kind %s", out, err, c.wantKind)
				}
				checkNoSecret(t, "error", []byte(err.Error()))
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			var res eventsource.DirectResult
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			if res.Outcome != c.wantOutcome.String() {
				t.Errorf("outcome = %q, want %q: %s", res.Outcome, c.wantOutcome, out)
			}
			refused := c.wantOutcome == eventsource.OutcomeRefused
			if (res.Storage != nil) == refused || (res.Error != nil) != refused {
				t.Errorf("result %s: want storage on success, error otherwise", out)
			}
			if refused && res.ErrorKind != c.wantKind.String() {
				t.Errorf("error_kind = %q, want %q", res.ErrorKind, c.wantKind)
			}
			if len(sc.calls) > 0 && (sc.calls[0].caller.Source != eventsource.SourceDirect || sc.calls[0].key != "") {
				t.Errorf("core called as %+v with key %q; want the direct source without a key", sc.calls[0].caller, sc.calls[0].key)
			}
			checkNoSecret(t, "result", out)
		})
	}
	t.Run("explicit idempotency key", func(t *testing.T) {
		d, sc, _, _ := newContractDispatcher(contractCase{})
		if _, err := d.Invoke(context.Background(), []byte(directCreate(createBody("ok"), "order-7"))); err != nil {
			t.Fatal(err)
		}
		if len(sc.calls) != 1 || !strings.Contains(sc.calls[0].key, "order-7") {
			t.Fatalf("calls %+v; want the envelope's key", sc.calls)
		}
	})
}

// Queued and evented creates carry secrets by reference: values in clear
// are refused for good, the reference must name a secret under the
// hand-over prefix, and a used secret is deleted once the storage exists or
// the request is refused for good, but kept for a retry.
func TestCredentialsAreHandedOverByReference(t *testing.T) {
	cases := []struct {
		name        string
		body        string
		wantKind    core.Kind
		wantField   string
		wantRetry   bool
		wantDeleted bool
	}{
		{name: "token in clear", body: createBody("ok"), wantKind: core.KindInvalid, wantField: "token"},
		{name: "client_secret in clear", body: strings.Replace(handedOverBody("ok", ""), `"title"`, `"client_secret": "`+contractSecret+`", "title"`, 1), wantKind: core.KindInvalid, wantField: "client_secret"},
		{name: "reference outside the prefix", body: handedOverBody("ok", "lsdbx/storage-1"), wantKind: core.KindInvalid, wantField: eventsource.FieldCredentialsSecretID},
		{name: "reference and value", body: strings.Replace(handedOverBody("ok", handOverID(0)), `"title"`, `"token": "x", "title"`, 1), wantKind: core.KindInvalid, wantField: "token"},
		{name: "missing secret", body: handedOverBody("ok", handOverDir+"never-made"), wantKind: core.KindInvalid, wantField: eventsource.FieldCredentialsSecretID},
		{name: "created", body: handedOverBody("ok", handOverID(0)), wantKind: -1, wantDeleted: true},
		{name: "refused for good", body: handedOverBody("permanent", handOverID(0)), wantKind: core.KindConnectionRefused, wantDeleted: true},
		{name: "invalid request", body: handedOverBody("invalid", handOverID(0)), wantKind: core.KindInvalid, wantField: "project", wantDeleted: true},
		{name: "transient failure keeps it", body: handedOverBody("transient", handOverID(0)), wantKind: core.KindPersistence, wantRetry: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, sc, fl, logs := newContractDispatcher(contractCase{titles: []string{"x"}})
			secrets := d.Credentials.(*handOvers)
			payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: messageID(0), EventSource: "aws:sqs", Body: c.body}}})
			out, err := d.Invoke(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			if retried := strings.Contains(string(out), messageID(0)); retried != c.wantRetry {
				t.Errorf("result %s: redelivery %v, want %v", out, retried, c.wantRetry)
			}
			if c.wantKind >= 0 && !c.wantRetry {
				if len(fl.failures) != 1 || fl.failures[0].Kind != c.wantKind {
					t.Fatalf("failure records %+v, want one of kind %s", fl.failures, c.wantKind)
				}
				f := fl.failures[0]
				if c.wantField != "" && len(f.Fields[c.wantField]) == 0 {
					t.Errorf("failure %+v does not name %s", f, c.wantField)
				}
				checkNoSecret(t, "failure record", []byte(fmt.Sprint(f)))
			}
			if strings.HasPrefix(c.name, "token in clear") || strings.HasPrefix(c.name, "client_secret") {
				if len(sc.calls) != 0 {
					t.Errorf("a create with secrets in clear reached the core")
				}
				if !strings.Contains(fmt.Sprint(fl.failures[0].Fields), handOverDir) {
					t.Errorf("the error does not say where to put the secrets: %+v", fl.failures[0])
				}
			}
			_, kept := secrets.secrets[handOverID(0)]
			if deleted := slices.Contains(secrets.deleted, handOverID(0)); deleted != c.wantDeleted || (c.wantDeleted && kept) {
				t.Errorf("hand-over secret deleted %v (kept %v), want deleted %v", deleted, kept, c.wantDeleted)
			}
			checkNoSecret(t, "logs", logs.Bytes())
		})
	}
	t.Run("direct invocations may carry values", func(t *testing.T) {
		d, sc, _, _ := newContractDispatcher(contractCase{})
		out, err := d.Invoke(context.Background(), []byte(directCreate(createBody("ok"), "")))
		if err != nil || !strings.Contains(string(out), `"outcome":"created"`) || len(sc.calls) != 1 {
			t.Fatalf("Invoke = %s, %v", out, err)
		}
	})
	t.Run("the core receives the handed-over token", func(t *testing.T) {
		d, _, _, _ := newContractDispatcher(contractCase{titles: []string{"x"}})
		var got storage.Request
		d.Creator = recordingCore{func(req storage.Request) { got = req }}
		payload, _ := json.Marshal(events.CloudWatchEvent{ID: "e", Source: eventsource.EventBridgeSource, DetailType: eventsource.EventBridgeDetailType,
			Detail: json.RawMessage(handedOverBody("ok", handOverID(0)))})
		if _, err := d.Invoke(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
		if got.Secrets.Token != contractSecret {
			t.Errorf("the request's token is not the handed-over one")
		}
	})
}

// A redelivered message whose create succeeded (and deleted its secret)
// replays the storage the first delivery made.
func TestRedeliveryAfterTheSecretWasUsedReplays(t *testing.T) {
	d, _, fl, _ := newContractDispatcher(contractCase{})
	d.Creator = &replayingCore{}
	payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", EventSource: "aws:sqs", Body: handedOverBody("ok", handOverDir+"used")}}})
	out, err := d.Invoke(context.Background(), payload)
	if err != nil || string(out) != `{"batchItemFailures":[]}` || len(fl.failures) != 0 {
		t.Fatalf("Invoke = %s, %v, failures %+v; want an acknowledged replay", out, err, fl.failures)
	}
}

type replayingCore struct{ scriptedCore }

func (*replayingCore) Replay(_ context.Context, _ core.Caller, key string) (core.Created, bool, error) {
	if key != "message:sqs:m-1" {
		return core.Created{}, false, nil
	}
	return core.Created{Storage: storage.Storage{ID: 3}, Replayed: true}, true, nil
}

// Direct invocations name their operation and carry exactly its members.
func TestDirectOperations(t *testing.T) {
	for _, c := range []struct {
		payload string
		outcome eventsource.Outcome
		kind    core.Kind // of a refusal or retry
		field   string    // the member a refusal names
	}{
		{`{"operation": "get", "id": 7}`, eventsource.OutcomeGot, 0, ""},
		{`{"operation": "get", "id": "7"}`, eventsource.OutcomeGot, 0, ""},
		{`{"operation": "get", "id": 404}`, eventsource.OutcomeRefused, core.KindNotFound, ""},
		{`{"operation": "update", "id": 7, "patch": {"title": "x"}}`, eventsource.OutcomeUpdated, 0, ""},
		{`{"operation": "update", "id": 7, "patch": {"volume": "x"}}`, eventsource.OutcomeRetry, core.KindWorkspaceUnavailable, ""},
		{`{"operation": "update", "id": 7, "patch": [1]}`, eventsource.OutcomeRefused, core.KindInvalid, "patch"},
		{`{"operation": "update", "id": 7}`, eventsource.OutcomeRefused, core.KindInvalid, "patch"},
		{`{"operation": "delete", "id": 7}`, eventsource.OutcomeDeleted, 0, ""},
		{`{"operation": "delete", "id": 404}`, eventsource.OutcomeRefused, core.KindNotFound, ""},
		{`{"operation": "delete"}`, eventsource.OutcomeRefused, core.KindInvalid, "id"},
		{`{"operation": "delete", "id": 0}`, eventsource.OutcomeRefused, core.KindInvalid, "id"},
		{`{"operation": "delete", "id": 7, "patch": {}}`, eventsource.OutcomeRefused, core.KindInvalid, "patch"},
		{`{"operation": "sync", "id": 7}`, eventsource.OutcomeSyncStarted, 0, ""},
		{`{"operation": "sync", "id": 404}`, eventsource.OutcomeRefused, core.KindNotFound, ""},
		{`{"operation": "sync"}`, eventsource.OutcomeRefused, core.KindInvalid, "id"},
		{`{"operation": "get", "id": 7, "verbose": true}`, eventsource.OutcomeRefused, core.KindInvalid, "verbose"},
		{`{"operation": "export", "id": 7}`, eventsource.OutcomeRefused, core.KindInvalid, "operation"},
		{`{"operation": 3}`, eventsource.OutcomeRefused, core.KindMalformed, ""},
		{`{"operation": "create"}`, eventsource.OutcomeRefused, core.KindInvalid, "storage"},
		{`{"operation": "create", "storage": [1]}`, eventsource.OutcomeRefused, core.KindInvalid, "storage"},
		{`{"operation": "create", "storage": {"idempotency_key": "k"}}`, eventsource.OutcomeRefused, core.KindInvalid, "storage"},
		{`{"operation": "create", "storage": {}, "idempotency_key": ""}`, eventsource.OutcomeRefused, core.KindInvalid, "idempotency_key"},
		{`{"operation": "create", "storage": {}, "id": 7}`, eventsource.OutcomeRefused, core.KindInvalid, "id"},
		{`{"operation": "get", "id": 7} {"x": 1}`, eventsource.OutcomeRefused, core.KindMalformed, ""},
	} {
		t.Run(c.payload, func(t *testing.T) {
			d, sc, _, _ := newContractDispatcher(contractCase{})
			out, err := d.Invoke(context.Background(), []byte(c.payload))
			if c.outcome == eventsource.OutcomeRetry {
				var te *eventsource.TransientError
				if !errors.As(err, &te) || te.Kind != c.kind {
					t.Fatalf("Invoke = %s, %v; want a TransientError of kind %s", out, err, c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var res eventsource.DirectResult
			_ = json.Unmarshal(out, &res)
			if res.Outcome != c.outcome.String() {
				t.Errorf("result %s, want outcome %s", out, c.outcome)
			}
			if hasStorage := res.Storage != nil; hasStorage != (c.outcome == eventsource.OutcomeGot || c.outcome == eventsource.OutcomeUpdated || c.outcome == eventsource.OutcomeSyncStarted) {
				t.Errorf("result %s: storage present %v", out, hasStorage)
			}
			if c.outcome == eventsource.OutcomeRefused {
				var body struct {
					ValidationErrors map[string][]string `json:"validation_errors"`
				}
				_ = json.Unmarshal(res.Error, &body)
				if res.ErrorKind != c.kind.String() || (c.field != "" && len(body.ValidationErrors[c.field]) == 0) {
					t.Errorf("result %s: want error_kind %s naming %q", out, c.kind, c.field)
				}
			}
			if len(sc.calls) != 0 {
				t.Errorf("an operation created a storage")
			}
		})
	}
}

// What a function may do is its type: the create function has no Manager,
// so a direct get, update or delete sent to it is refused for good (never
// retried) with where to send it; the manage function has no Creator and
// refuses a create the same way. Before, a nil vault made an update a
// retryable persistence error, retried until the dead-letter queue.
func TestDirectOperationSentToTheWrongFunction(t *testing.T) {
	createOnly := func() *eventsource.Dispatcher {
		d, sc, _, _ := newContractDispatcher(contractCase{})
		d.Creator, d.Manager = sc, nil
		return d
	}
	manageOnly := func() *eventsource.Dispatcher {
		d, sc, _, _ := newContractDispatcher(contractCase{})
		d.Creator, d.Manager = nil, sc
		return d
	}
	cases := []struct {
		name       string
		dispatcher func() *eventsource.Dispatcher
		payload    string
		detail     string
	}{
		{"update to the create function", createOnly, `{"operation": "update", "id": 7, "patch": {"title": "x"}}`,
			"this function only creates storages; send update to the manage function"},
		{"get to the create function", createOnly, `{"operation": "get", "id": 7}`,
			"this function only creates storages; send get to the manage function"},
		{"delete to the create function", createOnly, `{"operation": "delete", "id": 7}`,
			"this function only creates storages; send delete to the manage function"},
		{"create to the manage function", manageOnly, directCreate(createBody("ok"), ""),
			"this function does not create storages; send create to the create function"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.dispatcher().Invoke(context.Background(), []byte(c.payload))
			if err != nil {
				t.Fatalf("Invoke = %v; want a refusal, never a retry", err)
			}
			var res eventsource.DirectResult
			_ = json.Unmarshal(out, &res)
			var body struct {
				Detail string `json:"detail"`
			}
			_ = json.Unmarshal(res.Error, &body)
			if res.Outcome != "refused" || res.ErrorKind != core.KindWrongFunction.String() || !strings.Contains(body.Detail, c.detail) {
				t.Errorf("result %s; want refused (%s) saying %q", out, core.KindWrongFunction, c.detail)
			}
		})
	}
}

type recordingCore struct{ seen func(storage.Request) }

func (r recordingCore) Create(_ context.Context, _ core.Caller, req storage.Request, _ string) (core.Created, error) {
	r.seen(req)
	return core.Created{Storage: storage.Storage{ID: 1, Settings: req.Settings}}, nil
}

func (recordingCore) Replay(context.Context, core.Caller, string) (core.Created, bool, error) {
	return core.Created{}, false, nil
}

func (recordingCore) Get(context.Context, core.Caller, int64) (storage.Storage, error) {
	return storage.Storage{}, nil
}

func (recordingCore) Update(context.Context, core.Caller, int64, storage.Update) (storage.Storage, error) {
	return storage.Storage{}, nil
}

func (recordingCore) Delete(context.Context, core.Caller, int64) error { return nil }

// An SQS body over the size limit is refused for good and recorded: no
// redelivery makes it smaller. (Before, the too-large error was of no
// known kind, so the message was redelivered until the dead-letter queue.)
func TestOversizedMessageIsRefusedNotRetried(t *testing.T) {
	d, sc, fl, _ := newContractDispatcher(contractCase{})
	body := strings.Replace(handedOverBody("ok", ""), `"title"`, `"description": "`+strings.Repeat("x", storage.MaxRequestBytes)+`", "title"`, 1)
	payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "big", EventSource: "aws:sqs", Body: body}}})
	out, err := d.Invoke(context.Background(), payload)
	if err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("Invoke = %s, %v; want the message acknowledged", out, err)
	}
	if len(fl.failures) != 1 || fl.failures[0].Kind != core.KindTooLarge || len(sc.calls) != 0 {
		t.Errorf("failure records %+v, core calls %d; want one too_large record and no create", fl.failures, len(sc.calls))
	}
}
