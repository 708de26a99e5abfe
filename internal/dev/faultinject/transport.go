// Package faultinject is an HTTP transport for AWS SDK clients that injects
// faults into chosen API operations: throttling, server errors, timeouts and
// connection resets. Tests use it to prove the workflow leaves nothing behind.
//
// Faults come from rules (the next n calls of an operation) or from a Plan,
// which decides every call from a seed and the call's identity alone, so a
// randomised run can be replayed from its seed however its goroutines
// interleave.
package faultinject

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Fault is what to do to a matching request.
type Fault int

// The faults the transport can inject.
const (
	None Fault = iota
	// Throttle answers 400 with the service's throttling error.
	Throttle
	// ServerError answers 500.
	ServerError
	// Timeout lets the request reach the service and then fails as if the
	// answer never came: the operation may have happened.
	Timeout
	// Reset fails with a connection reset before the request is sent.
	Reset
	// Crash lets the request complete and then acts as if the process died:
	// every later request hangs until Release and then fails, so nothing
	// after the crash reaches AWS.
	Crash
)

func (f Fault) String() string {
	names := [...]string{"none", "throttle", "server-error", "timeout", "reset"}
	if f < 0 || int(f) >= len(names) {
		return fmt.Sprintf("fault(%d)", int(f))
	}
	return names[f]
}

// Faults lists every injectable fault.
var Faults = []Fault{Throttle, ServerError, Timeout, Reset}

// ErrInjectedTimeout is the error a Timeout fault returns (errors.Is).
var ErrInjectedTimeout = errors.New("injected timeout: response lost")

// timeoutError is a net.Error that timed out, as a real client timeout is.
type timeoutError struct{}

func (timeoutError) Error() string   { return ErrInjectedTimeout.Error() }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(target error) bool {
	return target == ErrInjectedTimeout
}

// Rule injects Fault into the next Times calls of Operation (an X-Amz-Target
// such as "DynamoDB_20120810.PutItem" or "secretsmanager.CreateSecret").
type Rule struct {
	Operation string
	Fault     Fault
	Times     int
}

// Transport wraps Base and applies the rules, then the plan.
type Transport struct {
	Base http.RoundTripper

	mu         sync.Mutex
	rules      []*Rule
	calls      map[string]int
	plan       *Plan              // non-nil: decide faults by plan
	attempts   map[attemptKey]int // attempts seen per call id and kind
	decisions  []Decision         // every call the plan decided, in arrival order
	unlabelled int                // calls without a call id while a plan was set
	slack      time.Duration      // least time left before a labelled call's deadline
	slackID    string             // the call id that had it
	hasSlack   bool               // slack has been measured
	crashed    chan struct{}      // closed by Release; nil until a Crash fault fires
	hung       chan struct{}      // receives once per request that hangs after a crash
}

// ErrCrashed is what requests after a Crash fault fail with once released.
var ErrCrashed = errors.New("injected crash: the process is gone")

// Hung is signalled each time a request hangs after a crash: the moment the
// crashed process would have made its next call.
func (t *Transport) Hung() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hung == nil {
		t.hung = make(chan struct{}, 64)
	}
	return t.hung
}

// Release lets the requests hanging after a crash fail with ErrCrashed.
func (t *Transport) Release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.crashed != nil {
		select {
		case <-t.crashed:
		default:
			close(t.crashed)
		}
	}
}

// hangIfCrashed blocks a request made after a crash until Release.
func (t *Transport) hangIfCrashed() bool {
	t.mu.Lock()
	crashed := t.crashed
	if crashed != nil && t.hung == nil {
		t.hung = make(chan struct{}, 64)
	}
	hung := t.hung
	t.mu.Unlock()
	if crashed == nil {
		return false
	}
	select {
	case hung <- struct{}{}:
	default:
	}
	<-crashed
	return true
}

// Add installs a rule.
func (t *Transport) Add(r Rule) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = append(t.rules, &r)
}

// Clear removes every rule and the plan. What the plan decided stays
// readable with Decisions.
func (t *Transport) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = nil
	t.plan = nil
}

// Calls returns how many requests each operation received (faulted or not).
func (t *Transport) Calls() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.calls))
	for k, v := range t.calls {
		out[k] = v
	}
	return out
}

// take counts the call and decides its fault: the first rule of the
// operation with calls left, else the plan, else none. body returns the
// request's body; it is called only when a plan needs it.
func (t *Transport) take(ctx context.Context, op string, body func() []byte) Fault {
	t.mu.Lock()
	if t.calls == nil {
		t.calls = map[string]int{}
	}
	t.calls[op]++
	for _, r := range t.rules {
		if r.Operation == op && r.Times > 0 {
			r.Times--
			t.mu.Unlock()
			return r.Fault
		}
	}
	plan := t.plan
	id := CallID(ctx)
	if plan != nil && id == "" {
		t.unlabelled++
	}
	t.mu.Unlock()
	if plan == nil || id == "" {
		return None
	}
	kind, p := op, plan.Probability
	if plan.Classify != nil {
		kind, p = plan.Classify(op, body())
	}
	if p <= 0 {
		return None
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.plan != plan {
		return None // the plan was replaced meanwhile
	}
	key := attemptKey{id, kind}
	if t.attempts == nil {
		t.attempts = map[attemptKey]int{}
	}
	attempt := t.attempts[key]
	t.attempts[key]++
	fault := plan.Decide(id, kind, attempt, p)
	t.decisions = append(t.decisions, Decision{ID: id, Kind: kind, Attempt: attempt, Fault: fault})
	return fault
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.hangIfCrashed() {
		return nil, ErrCrashed
	}
	op := req.Header.Get("X-Amz-Target")
	defer t.measureSlack(req.Context())
	var bodyErr error
	body := func() []byte {
		// A RoundTripper must not change the caller's request: the body is
		// read once and a copy of the request carries the bytes on.
		if req.Body == nil || req.Body == http.NoBody {
			return nil
		}
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		bodyErr = err
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		return b
	}
	fault := t.take(req.Context(), op, body)
	if bodyErr != nil {
		return nil, fmt.Errorf("faultinject: read request body: %w", bodyErr)
	}
	switch fault {
	case Crash:
		resp, err := base.RoundTrip(req)
		t.mu.Lock()
		t.crashed = make(chan struct{})
		t.mu.Unlock()
		return resp, err
	case Throttle:
		return errorResponse(req, http.StatusBadRequest, "ThrottlingException", "Rate exceeded"), nil
	case ServerError:
		return errorResponse(req, http.StatusInternalServerError, "InternalFailure", "injected server error"), nil
	case Reset:
		return nil, fmt.Errorf("injected: %w", syscall.ECONNRESET)
	case Timeout:
		resp, err := base.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil, timeoutError{}
	}
	return base.RoundTrip(req)
}

func errorResponse(req *http.Request, status int, code, msg string) *http.Response {
	body := fmt.Sprintf(`{"__type":"%s","message":"%s"}`, code, msg)
	return &http.Response{
		StatusCode:    status,
		Status:        http.StatusText(status),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Errortype": {code}},
		Body:          io.NopCloser(bytes.NewBufferString(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// Plan decides faults as a pure function of a seed and each call's identity,
// never of the order in which calls arrive: an attempt fails when a hash of
// (Seed, call id, kind, attempt) falls under the kind's probability, and the
// same hash picks which of Faults it gets. The call id comes from the
// request's context (WithCallID); kind is the operation unless Classify names
// it otherwise; attempt counts the earlier attempts of the same id and kind
// on the transport, so the SDK's retries of one call, and a workflow's
// successive calls of one operation, are told apart.
//
// The same seed thus fails the same calls as long as each call id's own
// calls happen in the same order, whatever other goroutines do meanwhile.
// Calls whose context carries no id are never faulted (see Unlabelled).
type Plan struct {
	Seed int64
	// Probability is the chance that an attempt fails, for calls Classify
	// does not decide.
	Probability float64
	// Classify, when set, names the kind of a call from its operation (the
	// X-Amz-Target) and body and gives its own probability of failing: a
	// test may split an operation (a transaction that deletes from one
	// that puts) or fail undo calls more often. A call given probability 0
	// or less is spared and does not count as an attempt, so calls that do
	// not happen reproducibly (a lookup after a cache expiry) can be left
	// out without shifting the others' attempt numbers.
	Classify func(op string, body []byte) (kind string, probability float64)
}

// Decide is the fault the plan gives the attempt-th attempt (from 0) of the
// call id's calls of the given kind, which fail with the given probability.
func (p Plan) Decide(id, kind string, attempt int, probability float64) Fault {
	h := sha256.New()
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(p.Seed))
	h.Write(seed[:])
	// Lengths first, so that no two (id, kind) pairs hash alike.
	for _, part := range []string{id, kind} {
		h.Write([]byte(strconv.Itoa(len(part)) + ":" + part))
	}
	h.Write([]byte(strconv.Itoa(attempt)))
	sum := h.Sum(nil)
	u := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53) // uniform in [0, 1)
	if u >= probability {
		return None
	}
	return Faults[binary.BigEndian.Uint64(sum[8:16])%uint64(len(Faults))]
}

// Decision is what a plan decided for one attempt.
type Decision struct {
	ID      string // the call id of the request's context
	Kind    string // the operation, or the kind Classify named
	Attempt int    // earlier attempts of the same ID and Kind on the transport
	Fault   Fault  // None when the attempt went through
}

type attemptKey struct{ id, kind string }

type callIDKey struct{}

// WithCallID labels the AWS calls made with ctx (and contexts derived from
// it) as belonging to one logical operation, e.g. one create request, for a
// Plan. Give every logical operation its own id: an id shared by concurrent
// operations makes their attempt numbers depend on the interleaving.
func WithCallID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, callIDKey{}, id)
}

// CallID returns the call id WithCallID put into ctx, or "".
func CallID(ctx context.Context) string {
	id, _ := ctx.Value(callIDKey{}).(string)
	return id
}

// SetPlan decides, from now on, every call that no rule claims by plan (nil
// stops it), and forgets the attempts counted under the previous plan.
func (t *Transport) SetPlan(p *Plan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p != nil {
		copied := *p
		p = &copied
	}
	t.plan = p
	t.attempts = nil
}

// Decisions returns every decision a plan made on this transport, faulted
// or not, in the order the calls arrived.
func (t *Transport) Decisions() []Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Decision(nil), t.decisions...)
}

// measureSlack notes how much time a labelled call under a deadline has
// left as one of its attempts ends.
func (t *Transport) measureSlack(ctx context.Context) {
	deadline, ok := ctx.Deadline()
	if !ok || CallID(ctx) == "" {
		return
	}
	left := time.Until(deadline)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hasSlack || left < t.slack {
		t.slack, t.slackID, t.hasSlack = left, CallID(ctx), true
	}
}

// Slack returns the least time that was left before its context's deadline
// when an attempt of a labelled call ended, over the calls made under a
// deadline (a workflow's clean-up typically runs under one), and the call id
// of that attempt; ok is false when there were none. A plan makes the same decisions whatever the
// timing, but a call whose deadline passes makes fewer attempts than its
// retries allow, and its workflow takes another path: a slack near zero
// means a run's outcome depended on how fast the service answered.
func (t *Transport) Slack() (slack time.Duration, id string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.slack, t.slackID, t.hasSlack
}

// Unlabelled returns how many calls arrived without a call id while a plan
// was set; a plan cannot fault them.
func (t *Transport) Unlabelled() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unlabelled
}
