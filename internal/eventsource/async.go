package eventsource

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/httpapi"
)

// EventBridge events this service consumes: rules match this source and
// detail type, and the detail is the create request.
const (
	EventBridgeSource     = "label-studio.databricks-storage"
	EventBridgeDetailType = "Create Databricks Import Storage"
)

// createPath is where event-borne requests are routed: they can only create.
const createPath = "/api/storages/databricks/"

// maxParallelRecords bounds how many SQS messages of one batch are worked on
// at once.
const maxParallelRecords = 10

// Failure is a permanent failure of an event-borne create, kept so that the
// sender can find out what became of its message.
type Failure struct {
	// Source is "sqs", "eventbridge" or "direct".
	Source string
	// MessageID is the SQS message id or the EventBridge event id.
	MessageID string
	Status    int
	// Error is Label Studio's error body.
	Error json.RawMessage
}

// FailureRecorder keeps permanent failures.
type FailureRecorder interface {
	RecordFailure(ctx context.Context, f Failure) error
}

// TransientError is returned to Lambda for failures a retry may cure, so the
// caller's retry policy (Lambda's async retries, a Step Functions Retry on
// "TransientError") applies. Its message is Label Studio's error body.
type TransientError struct {
	Status int
	Body   json.RawMessage
}

func (e *TransientError) Error() string { return string(e.Body) }

// DirectResult is what a direct invocation returns for a create that
// succeeded or failed for good: a state machine branches on StatusCode.
type DirectResult struct {
	StatusCode int             `json:"status_code"`
	Replayed   bool            `json:"replayed,omitempty"`
	Storage    json.RawMessage `json:"storage,omitempty"`
	Error      json.RawMessage `json:"error,omitempty"`
}

// keyEnvelope reads the optional explicit idempotency key of an event body.
type keyEnvelope struct {
	IdempotencyKey string `json:"idempotency_key"`
}

// createFromEvent runs one event-borne create through the HTTP handler, as
// a trusted (IAM-authorised) request. defaultKey is used when the body names
// no idempotency_key.
func (d *Dispatcher) createFromEvent(ctx context.Context, body []byte, defaultKey, requestID string) httpapi.Response {
	headers := map[string]string{"content-type": "application/json"}
	var env keyEnvelope
	_ = json.Unmarshal(body, &env)
	scope := "event"
	key := env.IdempotencyKey
	if key == "" {
		scope, key = "event-id", defaultKey
	}
	if key != "" {
		headers["idempotency-key"] = key
	}
	return d.HTTP.Serve(ctx, httpapi.Request{
		Method:    http.MethodPost,
		Path:      createPath,
		Headers:   headers,
		Body:      body,
		RequestID: requestID,
		KeyScope:  scope,
		Trusted:   true,
	})
}

func (d *Dispatcher) serveDirect(ctx context.Context, payload []byte) ([]byte, error) {
	resp := d.createFromEvent(ctx, payload, "", "")
	if resp.Transient {
		return nil, &TransientError{Status: resp.Status, Body: resp.Body}
	}
	result := DirectResult{StatusCode: resp.Status}
	if resp.Status < 300 {
		result.Storage = resp.Body
		result.Replayed = resp.Headers[httpapi.HeaderReplayed] == "true"
	} else {
		result.Error = resp.Body
	}
	return json.Marshal(result)
}

func (d *Dispatcher) serveSQS(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	var (
		mu       sync.Mutex
		failures []events.SQSBatchItemFailure
		wg       sync.WaitGroup
		slots    = make(chan struct{}, maxParallelRecords)
	)
	for _, msg := range ev.Records {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if !d.handleAsync(ctx, "sqs", msg.MessageId, []byte(msg.Body)) {
				mu.Lock()
				failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failures == nil {
		failures = []events.SQSBatchItemFailure{}
	}
	return events.SQSEventResponse{BatchItemFailures: failures}
}

func (d *Dispatcher) serveEventBridge(ctx context.Context, ev events.CloudWatchEvent) error {
	if ev.Source != EventBridgeSource || ev.DetailType != EventBridgeDetailType {
		d.logger().WarnContext(ctx, "ignored event of another source or type",
			slog.String("source", ev.Source), slog.String("detail_type", ev.DetailType), slog.String("event_id", ev.ID))
		return nil
	}
	if !d.handleAsync(ctx, "eventbridge", ev.ID, ev.Detail) {
		return fmt.Errorf("event %s failed transiently; Lambda will retry it, then send it to the on-failure destination", ev.ID)
	}
	return nil
}

// handleAsync creates from one queued or published event. It returns false
// when the event should be delivered again (a transient failure, or a
// permanent one that could not be recorded); permanent failures are logged
// and recorded, then acknowledged.
func (d *Dispatcher) handleAsync(ctx context.Context, source, messageID string, body []byte) bool {
	resp := d.createFromEvent(ctx, body, source+":"+messageID, messageID)
	log := d.logger().With(slog.String("source", source), slog.String("message_id", messageID), slog.Int("status", resp.Status))
	switch {
	case resp.Status < 300:
		return true
	case resp.Transient:
		log.WarnContext(ctx, "transient failure; the event will be retried", slog.String("error", string(resp.Body)))
		return false
	}
	log.ErrorContext(ctx, "permanent failure; the event is acknowledged and recorded", slog.String("error", string(resp.Body)))
	if d.Failures == nil {
		return true
	}
	if err := d.Failures.RecordFailure(ctx, Failure{Source: source, MessageID: messageID, Status: resp.Status, Error: resp.Body}); err != nil {
		log.ErrorContext(ctx, "could not record the failure; the event will be retried", slog.String("record_error", err.Error()))
		return false
	}
	return true
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}
