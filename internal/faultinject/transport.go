// Package faultinject is an HTTP transport for AWS SDK clients that injects
// faults into chosen API operations: throttling, server errors, timeouts and
// connection resets. Tests use it to prove the workflow leaves nothing behind.
package faultinject

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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

// ErrInjectedTimeout is the error a Timeout fault returns.
var ErrInjectedTimeout = errors.New("injected timeout: response lost")

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

	mu    sync.Mutex
	rules []*Rule
	calls map[string]int
}

// Add installs a rule.
func (t *Transport) Add(r Rule) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = append(t.rules, &r)
}

// Clear removes every rule.
func (t *Transport) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = nil
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
	return None
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	op := req.Header.Get("X-Amz-Target")
	switch fault := t.take(op); fault {
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
		return nil, ErrInjectedTimeout
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
