package eventsource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
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

// createBody is a create request; the title "invalid" makes it fail
// validation.
func createBody(title string) string {
	project := "4"
	if title == "invalid" {
		project = `"four"`
	}
	return `{"project": ` + project + `, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", "schema": "default",` +
		` "volume": "landing", "token": "` + contractSecret + `", "title": "` + title + `"}`
}

type contractCase struct {
	name string
	// titles of the messages; for EventBridge and direct, only the first.
	titles        []string
	recordFails   bool
	wantRetry     []int // indexes of messages to be redelivered
	wantRecorded  []int // indexes of messages with a failure record
	wantStatus    int   // of the first message
	wantTransient bool  // the first message's failure is transient
}

var contractCases = []contractCase{
	{name: "success", titles: []string{"ok"}, wantStatus: 201},
	{name: "permanent failure", titles: []string{"permanent"}, wantRecorded: []int{0}, wantStatus: 400},
	{name: "permission refused", titles: []string{"forbidden"}, wantRecorded: []int{0}, wantStatus: 403},
	{name: "invalid request", titles: []string{"invalid"}, wantRecorded: []int{0}, wantStatus: 400},
	{name: "transient failure", titles: []string{"transient"}, wantRetry: []int{0}, wantStatus: 500, wantTransient: true},
	{name: "workspace timed out", titles: []string{"timeout"}, wantRetry: []int{0}, wantStatus: 400, wantTransient: true},
	{name: "failure record cannot be written", titles: []string{"permanent"}, recordFails: true, wantRetry: []int{0}, wantStatus: 400},
}

func newContractDispatcher(c contractCase) (*eventsource.Dispatcher, *scriptedCore, *failureLog, *bytes.Buffer) {
	sc := &scriptedCore{}
	fl := &failureLog{}
	if c.recordFails {
		fl.err = errors.New("dynamodb: ProvisionedThroughputExceededException")
	}
	logs := &bytes.Buffer{}
	return &eventsource.Dispatcher{
		Core: sc, Decoder: storage.Decoder{}, Failures: fl, Version: "contract",
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
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

// checkFailureRecord checks the FAILURE record of a permanent failure: its
// source, status and Label Studio error body.
func checkFailureRecords(t *testing.T, fl *failureLog, source string, status int) {
	t.Helper()
	for _, f := range fl.failures {
		if f.Source != source || f.Status != status {
			t.Errorf("failure record %s/%s status %d, want source %s status %d", f.Source, f.MessageID, f.Status, source, status)
		}
		var body struct {
			StatusCode int    `json:"status_code"`
			Detail     string `json:"detail"`
			Version    string `json:"version"`
		}
		if err := json.Unmarshal(f.Error, &body); err != nil || body.StatusCode != status || body.Detail == "" || body.Version != "contract" {
			t.Errorf("failure record error body %s is not Label Studio's error for %d (%v)", f.Error, status, err)
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
		wantStatus:   201,
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, sc, fl, logs := newContractDispatcher(c)
			var ev events.SQSEvent
			for i, title := range c.titles {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: messageID(i), EventSource: "aws:sqs", Body: createBody(title)})
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
			if len(c.titles) == 1 {
				checkFailureRecords(t, fl, eventsource.SourceSQS, c.wantStatus)
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
				Detail: json.RawMessage(createBody(c.titles[0])),
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
			checkFailureRecords(t, fl, eventsource.SourceEventBridge, c.wantStatus)
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
	for _, c := range append(contractCases, contractCase{name: "replay", titles: []string{"replay"}, wantStatus: 201}) {
		if c.recordFails {
			continue // direct invocations answer their caller; they record nothing
		}
		t.Run(c.name, func(t *testing.T) {
			d, sc, fl, logs := newContractDispatcher(c)
			out, err := d.Invoke(lambdaContext("lambda-req-3"), []byte(createBody(c.titles[0])))
			checkNoSecret(t, "logs", logs.Bytes())
			if len(fl.failures) != 0 {
				t.Errorf("a direct invocation wrote failure records: %+v", fl.failures)
			}
			if c.wantTransient {
				var te *eventsource.TransientError
				if !errors.As(err, &te) || te.Status != c.wantStatus {
					t.Fatalf("Invoke = %s, %v; want a *TransientError with status %d", out, err, c.wantStatus)
				}
				checkNoSecret(t, "error", []byte(err.Error()))
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			var res map[string]json.RawMessage
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			if string(res["status_code"]) != fmt.Sprint(c.wantStatus) {
				t.Errorf("status_code = %s, want %d", res["status_code"], c.wantStatus)
			}
			wantReplayed := "false"
			if c.titles[0] == "replay" {
				wantReplayed = "true"
			}
			if string(res["replayed"]) != wantReplayed {
				t.Errorf("replayed = %s, want %s", res["replayed"], wantReplayed)
			}
			_, hasStorage := res["storage"]
			_, hasError := res["error"]
			if hasStorage != (c.wantStatus == 201) || hasError == (c.wantStatus == 201) {
				t.Errorf("result %s: want storage on success, error otherwise", out)
			}
			if len(sc.calls) > 0 && (sc.calls[0].caller.Source != eventsource.SourceDirect || sc.calls[0].key != "") {
				t.Errorf("core called as %+v with key %q; want the direct source without a key", sc.calls[0].caller, sc.calls[0].key)
			}
			checkNoSecret(t, "result", out)
		})
	}
	t.Run("explicit idempotency key", func(t *testing.T) {
		d, sc, _, _ := newContractDispatcher(contractCase{})
		body := strings.Replace(createBody("ok"), `{`, `{"idempotency_key": "order-7", `, 1)
		if _, err := d.Invoke(context.Background(), []byte(body)); err != nil {
			t.Fatal(err)
		}
		if len(sc.calls) != 1 || !strings.Contains(sc.calls[0].key, "order-7") {
			t.Fatalf("calls %+v; want the body's key", sc.calls)
		}
	})
}
