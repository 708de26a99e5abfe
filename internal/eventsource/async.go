package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Creator is the part of core.Service the event sources drive.
type Creator interface {
	Create(ctx context.Context, caller core.Caller, req storage.Request, key string) (core.Created, error)
}

// EventBridge events this service consumes: rules match this source and
// detail type, and the detail is the create request.
const (
	EventBridgeSource     = "label-studio.databricks-storage"
	EventBridgeDetailType = "Create Databricks Import Storage"
)

// Event sources, as failure records and logs name them.
const (
	SourceSQS         = "sqs"
	SourceEventBridge = "eventbridge"
	SourceDirect      = "direct"
)

// maxParallelRecords bounds how many SQS messages of one batch are worked on
// at once.
const maxParallelRecords = 10

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
	Replayed   bool            `json:"replayed"`
	Storage    json.RawMessage `json:"storage,omitempty"`
	Error      json.RawMessage `json:"error,omitempty"`
}

// result is the outcome of one event-borne create.
type result struct {
	created   core.Created
	status    int
	body      json.RawMessage // the storage, or Label Studio's error body
	transient bool
	err       error
}

// keyEnvelope reads the optional explicit idempotency key of an event body.
type keyEnvelope struct {
	IdempotencyKey string `json:"idempotency_key"`
}

// create runs one event-borne create as a trusted (IAM-authorised) caller
// and logs one summary line. Without an idempotency_key in the body,
// messageKey (the message or event id) is the key, so a redelivered message
// creates nothing twice; the two kinds of key cannot meet.
func (d *Dispatcher) create(ctx context.Context, source, messageID string, body []byte) result {
	start := time.Now()
	res := d.createOnce(ctx, source, messageID, body)
	attrs := []slog.Attr{
		slog.String("request_id", logging.RequestID(ctx)),
		slog.String("source", source),
		slog.String("route", "create"),
		slog.Int("status", res.status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if messageID != "" {
		attrs = append(attrs, slog.String("message_id", messageID))
	}
	if res.created.ID != 0 {
		attrs = append(attrs, slog.Int64("storage_id", res.created.ID))
	}
	level := slog.LevelInfo
	if res.err != nil {
		attrs = append(attrs, slog.String("error", res.err.Error()), slog.Bool("transient", res.transient))
		if res.status >= 500 {
			level = slog.LevelError
		}
	}
	d.logger().LogAttrs(ctx, level, "request", attrs...)
	return res
}

func (d *Dispatcher) createOnce(ctx context.Context, source, messageID string, body []byte) result {
	if len(body) > storage.MaxRequestBytes {
		return d.failed(storage.ErrTooLarge)
	}
	req, err := d.Decoder.DecodeRequest(body)
	if err != nil {
		return d.failed(err)
	}
	var env keyEnvelope
	_ = json.Unmarshal(body, &env)
	key := "key:" + env.IdempotencyKey
	if env.IdempotencyKey == "" {
		key = ""
		if messageID != "" {
			key = "message:" + source + ":" + messageID
		}
	}
	created, err := d.Core.Create(ctx, core.TrustedSource(source), req, key)
	if err != nil {
		return d.failed(err)
	}
	rendered, err := json.Marshal(created.Storage)
	if err != nil {
		return d.failed(fmt.Errorf("render storage %d: %w", created.ID, err))
	}
	return result{created: created, status: http.StatusCreated, body: rendered}
}

func (d *Dispatcher) failed(err error) result {
	body := apierror.FromError(err, d.Version)
	return result{status: body.StatusCode, body: body.JSON(), transient: core.Transient(err), err: err}
}

func (d *Dispatcher) serveDirect(ctx context.Context, payload []byte) ([]byte, error) {
	res := d.create(ctx, SourceDirect, "", payload)
	if res.transient {
		return nil, &TransientError{Status: res.status, Body: res.body}
	}
	out := DirectResult{StatusCode: res.status, Replayed: res.created.Replayed}
	if res.err == nil {
		out.Storage = res.body
	} else {
		out.Error = res.body
	}
	return json.Marshal(out)
}

func (d *Dispatcher) serveSQS(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	var (
		mu       sync.Mutex
		failures = []events.SQSBatchItemFailure{}
		wg       sync.WaitGroup
		slots    = make(chan struct{}, maxParallelRecords)
	)
	for _, msg := range ev.Records {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if !d.handleAsync(ctx, SourceSQS, msg.MessageId, []byte(msg.Body)) {
				mu.Lock()
				failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return events.SQSEventResponse{BatchItemFailures: failures}
}

// ErrRetryEvent is wrapped by the error an EventBridge invocation returns
// when the event should be delivered again.
var ErrRetryEvent = errors.New("the event failed transiently")

func (d *Dispatcher) serveEventBridge(ctx context.Context, ev events.CloudWatchEvent) error {
	if ev.Source != EventBridgeSource || ev.DetailType != EventBridgeDetailType {
		d.logger().WarnContext(ctx, "ignored event of another source or type",
			slog.String("source", ev.Source), slog.String("detail_type", ev.DetailType), slog.String("event_id", ev.ID))
		return nil
	}
	if !d.handleAsync(ctx, SourceEventBridge, ev.ID, ev.Detail) {
		return fmt.Errorf("event %s: %w; Lambda will retry it, then send it to the on-failure destination", ev.ID, ErrRetryEvent)
	}
	return nil
}

// handleAsync creates from one queued or published event. It returns false
// when the event should be delivered again (a transient failure, or a
// permanent one that could not be recorded); permanent failures are
// recorded, then acknowledged.
func (d *Dispatcher) handleAsync(ctx context.Context, source, messageID string, body []byte) bool {
	res := d.create(ctx, source, messageID, body)
	switch {
	case res.err == nil:
		return true
	case res.transient:
		return false
	case d.Failures == nil:
		return true
	}
	failure := core.Failure{Source: source, MessageID: messageID, Status: res.status, Error: res.body}
	if err := d.Failures.RecordFailure(ctx, failure); err != nil {
		d.logger().ErrorContext(ctx, "could not record a permanent failure; the event will be retried",
			slog.String("source", source), slog.String("message_id", messageID), slog.String("error", err.Error()))
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
