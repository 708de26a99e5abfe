// Package faultinject is an HTTP transport for AWS SDK clients that injects
// faults into chosen API operations: throttling, server errors, timeouts and
// connection resets. Tests use it to prove the workflow leaves nothing behind.
package faultinject

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"sync"
	"syscall"
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

// Transport wraps Base and applies the rules.
type Transport struct {
	Base http.RoundTripper

	mu          sync.Mutex
	rules       []*Rule
	calls       map[string]int
	random      *rand.Rand // non-nil: inject random faults
	probability float64
	crashed     chan struct{} // closed by Release; nil until a Crash fault fires
	hung        chan struct{} // receives once per request that hangs after a crash
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

// Clear removes every rule and stops random faults.
func (t *Transport) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = nil
	t.random = nil
}

// Randomly injects, into every request, one of Faults with probability p,
// drawn from a generator seeded with seed (so a failing run can be replayed).
func (t *Transport) Randomly(seed int64, p float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.random = rand.New(rand.NewSource(seed))
	t.probability = p
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

func (t *Transport) take(op string) Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.calls == nil {
		t.calls = map[string]int{}
	}
	t.calls[op]++
	for _, r := range t.rules {
		if r.Operation == op && r.Times > 0 {
			r.Times--
			return r.Fault
		}
	}
	if t.random != nil && t.random.Float64() < t.probability {
		return Faults[t.random.Intn(len(Faults))]
	}
	return None
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
	switch fault := t.take(op); fault {
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
