package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Core is the part of core.Service the event sources drive: SQS and
// EventBridge create; direct invocations also get, update and delete.
type Core interface {
	Create(ctx context.Context, caller core.Caller, req storage.Request, key string) (core.Created, error)
	Replay(ctx context.Context, caller core.Caller, key string) (core.Created, bool, error)
	Get(ctx context.Context, caller core.Caller, id int64) (storage.Storage, error)
	Update(ctx context.Context, caller core.Caller, id int64, patch storage.Patch) (storage.Storage, error)
	Delete(ctx context.Context, caller core.Caller, id int64) error
}

// Credentials is where SQS messages and EventBridge events hand over the
// secrets of a create (secretstore.Incoming): a secret under Dir whose id
// the body names in FieldCredentialsSecretID. Messages and events wait in
// queues (and dead-letter queues) for days, readable by whoever may receive
// them, so they never carry secret values themselves.
type Credentials interface {
	Dir() string
	Owns(id string) bool
	Read(ctx context.Context, id string) (values map[string]string, found bool, err error)
	Delete(ctx context.Context, id string) error
}

// FieldCredentialsSecretID names, in an event-borne create, the secret that
// holds its credentials.
const FieldCredentialsSecretID = "credentials_secret_id"

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
	ctx, _ = metrics.Start(ctx)
	res := d.createOnce(ctx, source, messageID, body)
	d.logSummary(ctx, start, source, "create", messageID, res.created.ID, res)
	return res
}

// logSummary logs the one summary line of an event-borne operation.
func (d *Dispatcher) logSummary(ctx context.Context, start time.Time, source, operation, messageID string, storageID int64, res result) {
	attrs := []slog.Attr{
		slog.String("source", source),
		slog.String("route", operation),
		slog.Int("status", res.status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if messageID != "" {
		attrs = append(attrs, slog.String("message_id", messageID))
	}
	if storageID != 0 {
		attrs = append(attrs, slog.Int64("storage_id", storageID))
	}
	level := slog.LevelInfo
	if res.err != nil {
		attrs = append(attrs, slog.String("error", res.err.Error()), slog.Bool("transient", res.transient))
		if res.status >= 500 {
			level = slog.LevelError
		}
	}
	attrs = append(attrs, metrics.RequestAttrs(ctx, d.MetricsNamespace, operation, res.status, time.Since(start))...)
	d.logger().LogAttrs(ctx, level, "request", attrs...)
}

func (d *Dispatcher) createOnce(ctx context.Context, source, messageID string, body []byte) result {
	if len(body) > storage.MaxRequestBytes {
		return d.failed(storage.ErrTooLarge)
	}
	// Checked here, on the body as sent: the credentials hand-over below
	// re-encodes it before the decoder sees it.
	if err := storage.CheckJSON(body); err != nil {
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
	caller := core.TrustedSource(source)
	body, ref, err := d.handOver(ctx, source, body)
	if errors.Is(err, errCredentialsGone) {
		// A redelivery of a create that succeeded and used up the secret
		// replays; anything else cannot be served.
		if created, found, replayErr := d.Core.Replay(ctx, caller, key); replayErr != nil || found {
			return d.succeeded(created, replayErr)
		}
		return d.failed(&storage.ValidationError{Fields: map[string][]string{FieldCredentialsSecretID: {
			"The secret does not exist; a create that used it has deleted it. Hand over the credentials again in a new secret."}}})
	}
	if err != nil {
		return d.failed(err)
	}
	req, err := d.Decoder.DecodeRequest(body)
	if err == nil {
		var created core.Created
		created, err = d.Core.Create(ctx, caller, req, key)
		if err == nil {
			d.discardCredentials(ctx, ref)
			if created.Replayed {
				metrics.Replayed(ctx)
			}
			return d.succeeded(created, nil)
		}
	}
	if !core.Transient(err) {
		// Refused for good: a retry of the same message cannot use the
		// secret, and nobody else should.
		d.discardCredentials(ctx, ref)
	}
	return d.failed(err)
}

// errCredentialsGone marks a handed-over secret that no longer exists.
var errCredentialsGone = errors.New("credentials secret gone")

// handOver replaces the credentials reference of an event-borne body by the
// values it refers to. SQS and EventBridge bodies that carry the values
// themselves are refused; direct invocations may carry either.
func (d *Dispatcher) handOver(ctx context.Context, source string, body []byte) (merged []byte, ref string, err error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields == nil {
		return body, "", nil // not an object: the decoder says what is wrong
	}
	problems := map[string][]string{}
	rawRef, hasRef := fields[FieldCredentialsSecretID]
	if source != SourceDirect {
		for _, name := range secretFields {
			if _, clear := fields[name]; clear {
				problems[name] = []string{fmt.Sprintf("Secrets may not travel in SQS messages or EventBridge events. Store them in a secret under %q and send its ARN as %q.", d.credentialsDir(), FieldCredentialsSecretID)}
			}
		}
	}
	if !hasRef {
		if len(problems) > 0 {
			return nil, "", &storage.ValidationError{Fields: problems}
		}
		return body, "", nil
	}
	if json.Unmarshal(rawRef, &ref) != nil || d.Credentials == nil || !d.Credentials.Owns(ref) {
		problems[FieldCredentialsSecretID] = []string{fmt.Sprintf("Must be the ARN or name of a secret under %q.", d.credentialsDir())}
		return nil, "", &storage.ValidationError{Fields: problems}
	}
	if len(problems) > 0 {
		return nil, "", &storage.ValidationError{Fields: problems}
	}
	values, found, err := d.Credentials.Read(ctx, ref)
	switch {
	case err != nil && !found:
		return nil, "", fmt.Errorf("%w: %w", core.ErrPersistence, err)
	case !found:
		return nil, ref, errCredentialsGone
	case err != nil:
		return nil, "", &storage.ValidationError{Fields: map[string][]string{FieldCredentialsSecretID: {err.Error()}}}
	}
	delete(fields, FieldCredentialsSecretID)
	for name, value := range values {
		if !slices.Contains(secretFields, name) {
			return nil, "", &storage.ValidationError{Fields: map[string][]string{FieldCredentialsSecretID: {
				fmt.Sprintf("The secret may hold only %s.", strings.Join(secretFields, " and "))}}}
		}
		if _, both := fields[name]; both {
			return nil, "", &storage.ValidationError{Fields: map[string][]string{name: {
				"Send it either in the body or in the credentials secret, not both."}}}
		}
		fields[name], _ = json.Marshal(value)
	}
	merged, err = json.Marshal(fields)
	return merged, ref, err
}

// secretFields are the request fields that hold secrets.
var secretFields = []string{"token", "client_secret"}

func (d *Dispatcher) credentialsDir() string {
	if d.Credentials == nil {
		return "(not configured)"
	}
	return d.Credentials.Dir()
}

// discardCredentials deletes a used handed-over secret. A failure is logged
// and left: the secret is the sender's to remove then.
func (d *Dispatcher) discardCredentials(ctx context.Context, ref string) {
	if ref == "" {
		return
	}
	if err := d.Credentials.Delete(context.WithoutCancel(ctx), ref); err != nil {
		d.logger().WarnContext(ctx, "could not delete a used credentials secret", slog.String("error", err.Error()))
	}
}

func (d *Dispatcher) succeeded(created core.Created, err error) result {
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

// directEnvelope is a direct invocation: an operation on a storage, or,
// without "operation", a create request.
type directEnvelope struct {
	Operation string          `json:"operation"`
	ID        json.RawMessage `json:"id"`
	Patch     json.RawMessage `json:"patch"`
}

// Direct operations besides create.
const (
	OperationCreate = "create"
	OperationGet    = "get"
	OperationUpdate = "update"
	OperationDelete = "delete"
)

func (d *Dispatcher) serveDirect(ctx context.Context, payload []byte) ([]byte, error) {
	var env directEnvelope
	_ = json.Unmarshal(payload, &env)
	var res result
	switch env.Operation {
	case "", OperationCreate:
		res = d.create(ctx, SourceDirect, "", payload)
	default:
		res = d.operate(ctx, env, payload)
	}
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

// operate runs a direct get, update or delete (payload is the whole
// invocation), and logs one summary line.
func (d *Dispatcher) operate(ctx context.Context, env directEnvelope, payload []byte) result {
	start := time.Now()
	ctx, _ = metrics.Start(ctx)
	caller := core.TrustedSource(SourceDirect)
	var res result
	id, idErr := strconv.ParseInt(strings.Trim(string(env.ID), `" `), 10, 64)
	if err := storage.CheckJSON(payload); err != nil {
		res = d.failed(err)
	} else if idErr != nil || id < 1 {
		res = d.failed(&storage.ValidationError{Fields: map[string][]string{"id": {"A valid integer is required."}}})
	} else {
		switch env.Operation {
		case OperationGet:
			got, err := d.Core.Get(ctx, caller, id)
			res = d.succeeded(core.Created{Storage: got}, err)
			res.status = statusOr(res, http.StatusOK)
		case OperationUpdate:
			patch, err := storage.DecodePatch(env.Patch)
			var updated storage.Storage
			if err == nil {
				updated, err = d.Core.Update(ctx, caller, id, patch)
			}
			res = d.succeeded(core.Created{Storage: updated}, err)
			res.status = statusOr(res, http.StatusOK)
		case OperationDelete:
			if err := d.Core.Delete(ctx, caller, id); err != nil {
				res = d.failed(err)
			} else {
				res = result{status: http.StatusNoContent}
			}
		default:
			res = d.failed(&storage.ValidationError{Fields: map[string][]string{"operation": {
				fmt.Sprintf("%q is not a valid choice: use %s, %s, %s or %s.", env.Operation, OperationCreate, OperationGet, OperationUpdate, OperationDelete)}}})
		}
	}
	d.logSummary(ctx, start, SourceDirect, env.Operation, "", max(id, 0), res)
	return res
}

// statusOr is the status of a successful result other than a create.
func statusOr(res result, status int) int {
	if res.err != nil {
		return res.status
	}
	return status
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
