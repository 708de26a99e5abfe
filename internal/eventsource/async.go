package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Creator is what the create function does for the event sources (a
// core.Creator): SQS messages, EventBridge events and direct invocations
// create.
type Creator interface {
	Create(ctx context.Context, caller core.Caller, req storage.Request, key string) (core.Created, error)
	Replay(ctx context.Context, caller core.Caller, key string) (core.Created, bool, error)
}

// Manager is what the manage function does for direct invocations (a
// core.Manager): get, update and delete.
type Manager interface {
	Get(ctx context.Context, caller core.Caller, id int64) (storage.Storage, error)
	Update(ctx context.Context, caller core.Caller, id int64, changes storage.Update) (storage.Storage, error)
	Delete(ctx context.Context, caller core.Caller, id int64) error
	Sync(ctx context.Context, caller core.Caller, id int64) (storage.Storage, error)
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

// Outcome is what became of one event-borne operation. The event sources
// answer in their own contracts from it: SQS lists a retried message in its
// batch item failures, EventBridge fails the invocation of a retried event,
// a direct invocation returns it (or fails, for a retry).
type Outcome int

// The outcomes.
const (
	// OutcomeCreated: a storage was created.
	OutcomeCreated Outcome = iota + 1
	// OutcomeReplayed: an earlier request with the same idempotency key
	// created the storage; this one only returned it.
	OutcomeReplayed
	// OutcomeGot, OutcomeUpdated, OutcomeDeleted: a direct manage
	// operation succeeded.
	OutcomeGot
	OutcomeUpdated
	OutcomeDeleted
	// OutcomeSyncStarted: a direct sync was queued (or one was already
	// queued or running, as the storage's status says).
	OutcomeSyncStarted
	// OutcomeRefused: the request can never succeed as sent; it is
	// acknowledged (and recorded for SQS and EventBridge), never retried.
	OutcomeRefused
	// OutcomeRetry: the same request may succeed later; it is delivered
	// again.
	OutcomeRetry
)

var outcomeNames = map[Outcome]string{
	OutcomeCreated: "created", OutcomeReplayed: "replayed", OutcomeGot: "got", OutcomeUpdated: "updated",
	OutcomeDeleted: "deleted", OutcomeSyncStarted: "sync_started", OutcomeRefused: "refused", OutcomeRetry: "retry",
}

// String is the outcome's name in direct results and logs.
func (o Outcome) String() string { return outcomeNames[o] }

// TransientError is returned to Lambda for failures a retry may cure, so the
// caller's retry policy (Lambda's async retries, a Step Functions Retry on
// "TransientError") applies. Its message is Label Studio's error body.
type TransientError struct {
	// Kind is the kind of the failure (a retryable one).
	Kind core.Kind
	Body json.RawMessage
}

func (e *TransientError) Error() string { return string(e.Body) }

// DirectResult is what a direct invocation returns for an operation that
// succeeded or was refused for good (a retry is a TransientError instead):
// a state machine branches on Outcome ("created", "replayed", "got",
// "updated", "deleted" or "refused").
type DirectResult struct {
	Outcome string `json:"outcome"`
	// Storage is the created, replayed, read or updated storage.
	Storage *storage.Storage `json:"storage,omitempty"`
	// ErrorKind names the kind of a refusal ("invalid", "not_found",
	// "wrong_function", …: core.Kind).
	ErrorKind string `json:"error_kind,omitempty"`
	// Error is Label Studio's error body of a refusal.
	Error json.RawMessage `json:"error,omitempty"`
}

// result is the outcome of one event-borne operation.
type result struct {
	outcome Outcome
	storage storage.Storage
	kind    core.Kind // of err
	err     error
}

// succeeded is the result of a successful operation.
func succeeded(outcome Outcome, s storage.Storage) result {
	return result{outcome: outcome, storage: s}
}

// failed is the result of a failed operation: a retry when the error's kind
// says one can help, else refused for good.
func failed(err error) result {
	kind := core.KindOf(err)
	if kind.Retryable() {
		return result{outcome: OutcomeRetry, kind: kind, err: err}
	}
	return result{outcome: OutcomeRefused, kind: kind, err: err}
}

// of is the result of an operation that returns a storage.
func of(outcome Outcome, s storage.Storage, err error) result {
	if err != nil {
		return failed(err)
	}
	return succeeded(outcome, s)
}

// errorBody renders a failed result's error in Label Studio's format.
func (d *Dispatcher) errorBody(res result) json.RawMessage {
	return apierror.FromError(res.err, d.Version).JSON()
}

// keyEnvelope reads the optional explicit idempotency key of an SQS or
// EventBridge body.
type keyEnvelope struct {
	IdempotencyKey string `json:"idempotency_key"`
}

// createFromBody runs the create an SQS message or EventBridge event
// carries (the create request, with an optional "idempotency_key"). Without
// a key, the message or event id is the key, so a redelivered message
// creates nothing twice; the two kinds of key cannot meet.
func (d *Dispatcher) createFromBody(ctx context.Context, source, messageID string, body []byte) result {
	var env keyEnvelope
	_ = json.Unmarshal(body, &env)
	key := "key:" + env.IdempotencyKey
	if env.IdempotencyKey == "" {
		key = "message:" + source + ":" + messageID
	}
	return d.create(ctx, source, messageID, body, key)
}

// create runs one event-borne create as a trusted (IAM-authorised) caller
// under the idempotency key (none when empty) and logs one summary line.
func (d *Dispatcher) create(ctx context.Context, source, messageID string, body []byte, key string) result {
	start := time.Now()
	ctx, _ = metrics.Start(ctx)
	res := d.createOnce(ctx, source, body, key)
	d.logSummary(ctx, start, source, OperationCreate, messageID, res.storage.ID, res)
	return res
}

// logSummary logs the one summary line of an event-borne operation.
func (d *Dispatcher) logSummary(ctx context.Context, start time.Time, source, operation, messageID string, storageID int64, res result) {
	attrs := []slog.Attr{
		slog.String("source", source),
		slog.String("route", operation),
		slog.String("outcome", res.outcome.String()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if messageID != "" {
		attrs = append(attrs, slog.String("message_id", messageID))
	}
	if storageID != 0 {
		attrs = append(attrs, slog.Int64("storage_id", storageID))
	}
	level := slog.LevelInfo
	class := metrics.OutcomeSuccess
	if res.err != nil {
		attrs = append(attrs, slog.String("error", res.err.Error()), slog.String("error_kind", res.kind.String()),
			slog.Bool("transient", res.outcome == OutcomeRetry))
		class = metrics.OutcomeClientError
		if res.outcome == OutcomeRetry {
			level, class = slog.LevelError, metrics.OutcomeServerError
		}
	}
	attrs = append(attrs, metrics.OutcomeAttrs(ctx, d.MetricsNamespace, operation, class, time.Since(start))...)
	d.logger().LogAttrs(ctx, level, "request", attrs...)
}

func (d *Dispatcher) createOnce(ctx context.Context, source string, body []byte, key string) result {
	if d.Creator == nil {
		return failed(&core.WrongFunctionError{Operation: OperationCreate, Creates: true})
	}
	if len(body) > storage.MaxRequestBytes {
		return failed(storage.ErrTooLarge)
	}
	// Checked here, on the body as sent: the credentials hand-over below
	// re-encodes it before the decoder sees it.
	if err := storage.CheckJSON(body); err != nil {
		return failed(err)
	}
	caller := core.TrustedSource(source)
	credentials, ref, err := d.handOver(ctx, source, body)
	if errors.Is(err, errCredentialsGone) {
		// A redelivery of a create that succeeded and used up the secret
		// replays; anything else cannot be served.
		if created, found, replayErr := d.Creator.Replay(ctx, caller, key); replayErr != nil || found {
			return createdResult(created, replayErr)
		}
		return failed(&storage.ValidationError{Fields: map[string][]string{FieldCredentialsSecretID: {
			"The secret does not exist; a create that used it has deleted it. Hand over the credentials again in a new secret."}}})
	}
	if err != nil {
		return failed(err)
	}
	req, err := d.Decoder.DecodeRequestWithCredentials(body, credentials)
	if err == nil {
		var created core.Created
		created, err = d.Creator.Create(ctx, caller, req, key)
		if err == nil {
			d.discardCredentials(ctx, ref)
			if created.Replayed {
				metrics.Replayed(ctx)
			}
			return createdResult(created, nil)
		}
	}
	res := failed(err)
	if res.outcome == OutcomeRefused {
		// Refused for good: a retry of the same message cannot use the
		// secret, and nobody else should.
		d.discardCredentials(ctx, ref)
	}
	return res
}

// createdResult is the result of a create (or of its replay).
func createdResult(created core.Created, err error) result {
	if created.Replayed {
		return of(OutcomeReplayed, created.Storage, err)
	}
	return of(OutcomeCreated, created.Storage, err)
}

// errCredentialsGone marks a handed-over secret that no longer exists.
var errCredentialsGone = errors.New("credentials secret gone")

// handOver reads the credentials an event-borne body refers to: the values,
// keyed by their request field names, for the decoder to check beside the
// body (which goes to the decoder as it came: the reference, like the rest
// of the envelope, is no request field). SQS and
// EventBridge bodies that carry the values themselves are refused; direct
// invocations may carry either.
func (d *Dispatcher) handOver(ctx context.Context, source string, body []byte) (credentials map[string]string, ref string, err error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields == nil {
		return nil, "", nil // not an object: the decoder says what is wrong
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
		return nil, "", nil
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
	for name := range values {
		if !slices.Contains(secretFields, name) {
			return nil, "", &storage.ValidationError{Fields: map[string][]string{FieldCredentialsSecretID: {
				fmt.Sprintf("The secret may hold only %s.", strings.Join(secretFields, " and "))}}}
		}
		if _, both := fields[name]; both {
			return nil, "", &storage.ValidationError{Fields: map[string][]string{name: {
				"Send it either in the body or in the credentials secret, not both."}}}
		}
	}
	return values, ref, nil
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
	cctx, cancel := core.CleanupContext(ctx)
	defer cancel()
	if err := d.Credentials.Delete(cctx, ref); err != nil {
		d.logger().WarnContext(ctx, "could not delete a used credentials secret", slog.String("error", err.Error()))
	}
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
// when the event should be delivered again (a retry, or a refusal that
// could not be recorded); refusals are recorded, then acknowledged.
func (d *Dispatcher) handleAsync(ctx context.Context, source, messageID string, body []byte) bool {
	res := d.createFromBody(ctx, source, messageID, body)
	switch {
	case res.outcome == OutcomeRetry:
		return false
	case res.outcome != OutcomeRefused || d.Failures == nil:
		return true
	}
	_, detail, fields := apierror.For(res.err)
	failure := core.Failure{Source: source, MessageID: messageID, Kind: res.kind, Detail: detail, Fields: fields}
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
