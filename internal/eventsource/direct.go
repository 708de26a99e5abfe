package eventsource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The operations of a direct invocation.
const (
	OperationCreate = "create"
	OperationGet    = "get"
	OperationUpdate = "update"
	OperationDelete = "delete"
	OperationSync   = "sync"
)

// DirectRequest is a direct invocation (lambda:InvokeFunction, e.g. from
// Step Functions). It names its operation; the other members are those the
// operation takes, and no others:
//
//	{"operation": "create", "storage": {…create request…}, "idempotency_key": "…"}
//	{"operation": "get", "id": N}
//	{"operation": "update", "id": N, "patch": {…partial update…}}
//	{"operation": "delete", "id": N}
//	{"operation": "sync", "id": N}
//
// The storage of a create may carry its secrets in clear (IAM authorised
// the caller, and nothing queues the payload) or hand them over by
// reference in credentials_secret_id, as SQS and EventBridge bodies must.
// idempotency_key is optional: with one, a repeated create replays the
// first one's storage.
type DirectRequest struct {
	Operation      string          `json:"operation"`
	Storage        json.RawMessage `json:"storage,omitempty"`
	IdempotencyKey *string         `json:"idempotency_key,omitempty"`
	ID             json.RawMessage `json:"id,omitempty"`
	Patch          json.RawMessage `json:"patch,omitempty"`
}

// directMembers are the members each operation takes, the required first.
var directMembers = map[string]struct{ required, optional []string }{
	OperationCreate: {[]string{"storage"}, []string{"idempotency_key"}},
	OperationGet:    {[]string{"id"}, nil},
	OperationUpdate: {[]string{"id", "patch"}, nil},
	OperationDelete: {[]string{"id"}, nil},
	OperationSync:   {[]string{"id"}, nil},
}

// maxDirectKey bounds an idempotency key, as the HTTP header's.
const maxDirectKey = 255

// parseDirect decodes a direct invocation and checks that it has exactly
// the members its operation takes; problems are field errors.
func parseDirect(payload []byte) (DirectRequest, int64, error) {
	var req DirectRequest
	if err := storage.CheckJSON(payload); err != nil {
		return req, 0, err
	}
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&e); err != nil || e == nil {
		return req, 0, fmt.Errorf("%w: a direct invocation is a JSON object", storage.ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, 0, fmt.Errorf("%w: a direct invocation is one JSON object", storage.ErrMalformed)
	}
	if json.Unmarshal(e["operation"], &req.Operation) != nil {
		return req, 0, &storage.ValidationError{Fields: map[string][]string{"operation": {"Not a valid string."}}}
	}
	members, known := directMembers[req.Operation]
	if !known {
		return req, 0, &storage.ValidationError{Fields: map[string][]string{"operation": {
			fmt.Sprintf("%q is not a valid choice: use %s, %s, %s, %s or %s.", req.Operation, OperationCreate, OperationGet, OperationUpdate, OperationDelete, OperationSync)}}}
	}
	problems := map[string][]string{}
	for _, name := range members.required {
		if !e.has(name) {
			problems[name] = []string{"This field is required."}
		}
	}
	for name := range e {
		if name != "operation" && !slices.Contains(members.required, name) && !slices.Contains(members.optional, name) {
			problems[name] = []string{fmt.Sprintf("A direct %s takes no %q: it takes %s.", req.Operation, name,
				strings.Join(append(slices.Clone(members.required), members.optional...), " and "))}
		}
	}
	var id int64
	if raw, ok := e["id"]; ok && problems["id"] == nil {
		n, err := storage.DecodeInteger("id", raw, 1, math.MaxInt64)
		var verr *storage.ValidationError
		if errors.As(err, &verr) {
			problems["id"] = verr.Fields["id"]
		}
		id = n
	}
	if raw, ok := e["idempotency_key"]; ok && problems["idempotency_key"] == nil {
		var key string
		if json.Unmarshal(raw, &key) != nil || key == "" || len(key) > maxDirectKey {
			problems["idempotency_key"] = []string{fmt.Sprintf("Must be a string of 1 to %d characters.", maxDirectKey)}
		}
		req.IdempotencyKey = &key
	}
	for _, name := range []string{"storage", "patch"} {
		if raw, ok := e[name]; ok && problems[name] == nil {
			var fields map[string]json.RawMessage
			if json.Unmarshal(raw, &fields) != nil || fields == nil {
				problems[name] = []string{"Must be a JSON object."}
			} else if _, inside := fields["idempotency_key"]; inside && name == "storage" {
				problems[name] = []string{"Send idempotency_key beside storage, not in it."}
			}
		}
	}
	req.Storage, req.Patch = e["storage"], e["patch"]
	if len(problems) > 0 {
		return req, 0, &storage.ValidationError{Fields: problems}
	}
	return req, id, nil
}

func (d *Dispatcher) serveDirect(ctx context.Context, payload []byte) ([]byte, error) {
	req, id, err := parseDirect(payload)
	var res result
	switch {
	case err != nil:
		res = d.logged(ctx, cmpOr(req.Operation, "none"), 0, func(context.Context) result { return failed(err) })
	case req.Operation == OperationCreate:
		key := ""
		if req.IdempotencyKey != nil {
			key = "key:" + *req.IdempotencyKey
		}
		res = d.create(ctx, SourceDirect, "", req.Storage, key)
	default:
		res = d.logged(ctx, req.Operation, id, func(ctx context.Context) result { return d.manage(ctx, req, id) })
	}
	return d.directAnswer(res)
}

// directAnswer renders a direct invocation's result: a retry is a function
// error (TransientError), so that Lambda's and Step Functions' retry
// policies apply; anything else a DirectResult.
func (d *Dispatcher) directAnswer(res result) ([]byte, error) {
	if res.outcome == OutcomeRetry {
		return nil, &TransientError{Kind: res.kind, Body: d.errorBody(res)}
	}
	out := DirectResult{Outcome: res.outcome.String()}
	switch {
	case res.err != nil:
		out.ErrorKind, out.Error = res.kind.String(), d.errorBody(res)
	case res.outcome != OutcomeDeleted:
		out.Storage = &res.storage
	}
	return json.Marshal(out)
}

// logged runs a direct operation and logs its summary line.
func (d *Dispatcher) logged(ctx context.Context, operation string, id int64, run func(context.Context) result) result {
	start := time.Now()
	ctx, _ = metrics.Start(ctx)
	res := run(ctx)
	d.logSummary(ctx, start, SourceDirect, operation, "", id, res)
	return res
}

// manage runs a direct get, update or delete. The create function has no
// Manager: it refuses them for good, saying where to send them.
func (d *Dispatcher) manage(ctx context.Context, req DirectRequest, id int64) result {
	if d.Manager == nil {
		return failed(&core.WrongFunctionError{Operation: req.Operation})
	}
	caller := core.TrustedSource(SourceDirect)
	switch req.Operation {
	case OperationGet:
		got, err := d.Manager.Get(ctx, caller, id)
		return of(OutcomeGot, got, err)
	case OperationUpdate:
		changes, err := d.Decoder.DecodeUpdate(req.Patch)
		var updated storage.Storage
		if err == nil {
			updated, err = d.Manager.Update(ctx, caller, id, changes)
		}
		return of(OutcomeUpdated, updated, err)
	case OperationDelete:
		return of(OutcomeDeleted, storage.Storage{}, d.Manager.Delete(ctx, caller, id))
	case OperationSync:
		queued, err := d.Manager.Sync(ctx, caller, id)
		return of(OutcomeSyncStarted, queued, err)
	}
	// parseDirect lets no other operation through.
	return failed(fmt.Errorf("direct operation %q has no handler", req.Operation))
}

// refuseUnsupported answers a payload of no accepted shape: refused for
// good, in the direct contract, with the shapes that are accepted.
func (d *Dispatcher) refuseUnsupported(ctx context.Context) ([]byte, error) {
	err := fmt.Errorf("%w: %w: %s", storage.ErrMalformed, ErrUnsupportedEvent, acceptedShapes)
	d.logger().WarnContext(ctx, "refused a payload of no accepted shape", slog.String("error", ErrUnsupportedEvent.Error()))
	return d.directAnswer(failed(err))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
