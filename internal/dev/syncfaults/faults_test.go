//go:build integration

// Package syncfaults runs the sync worker in-process against the real
// parts — moto's DynamoDB, Secrets Manager and SQS, the fake workspace and
// a real Label Studio OSS — with faults injected into every one of them,
// and checks that the sync still imports every file exactly once
// (TestSyncFaultRun, build tag integration).
package syncfaults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
)

// run decides and counts the faults of one seeded run. Every decision is
// faultinject.Plan's: a pure function of the seed, the call id of the
// request's context (one per queue delivery or sync start), the kind of
// call and how many calls of that kind the id made before, so that a run
// replays from its seed as long as its calls happen in the same order.
type run struct {
	plan faultinject.Plan

	mu       sync.Mutex
	attempts map[[2]string]int
	cancels  map[string]context.CancelFunc // of each delivery running
	dead     map[string]bool               // deliveries whose process "died"
	counts   map[string]int                // injected faults by name
}

func newRun(seed int64) *run {
	return &run{plan: faultinject.Plan{Seed: seed}, attempts: map[[2]string]int{}, cancels: map[string]context.CancelFunc{}, dead: map[string]bool{}, counts: map[string]int{}}
}

// decide is the fault of the next call of kind made under ctx's call id
// (none for an unlabelled call: the test's own reads).
func (r *run) decide(ctx context.Context, kind string, p float64) faultinject.Fault {
	id := faultinject.CallID(ctx)
	if id == "" || p <= 0 {
		return faultinject.None
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{id, kind}
	a := r.attempts[k]
	r.attempts[k]++
	return r.plan.Decide(id, kind, a, p)
}

func (r *run) count(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[name]++
}

// Counts returns the faults injected so far, by name.
func (r *run) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.counts)
}

// summary lists counts by name.
func summary(counts map[string]int) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&b, "\n  %-40s %d", k, counts[k])
	}
	return b.String()
}

// timeoutError is a net.Error that timed out, as a client timeout is.
type timeoutError struct{ what string }

func (e timeoutError) Error() string { return "injected timeout: " + e.what }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// errCrashed is what every request of a delivery fails with after its
// process "died".
var errCrashed = errors.New("injected crash: the worker's process is gone")

// httpFaults injects faults into the HTTP calls of a non-AWS service
// (Label Studio or the workspace). For each call it decides one of
// faultinject's four faults and plays it as that service would:
//
//   - ServerError: a 5xx answer; the request never reached the service.
//   - Reset: the workspace resets the connection; Label Studio's request
//     times out before it reached it.
//   - Timeout: the request is served, its answer lost (a timeout): for a
//     Label Studio import, the tasks exist but the worker never learns
//     their ids.
//   - Throttle: for a Label Studio import, the request is served and a
//     gateway answers 502 instead (the import happened); elsewhere a 429.
type httpFaults struct {
	base    http.RoundTripper
	run     *run
	service string // "label studio" or "workspace"
	// rate gives a call's kind and its probability of failing.
	rate func(r *http.Request) (kind string, p float64)
}

func (h *httpFaults) RoundTrip(req *http.Request) (*http.Response, error) {
	kind, p := h.rate(req)
	fault := h.run.decide(req.Context(), h.service+" "+kind, p)
	name := h.service + " " + kind + ": "
	switch fault {
	case faultinject.ServerError:
		h.run.count(name + "5xx")
		return answer(req, http.StatusInternalServerError, `{"detail":"injected server error"}`), nil
	case faultinject.Reset:
		if h.service == "workspace" {
			h.run.count(name + "connection reset")
			drain(req)
			return nil, fmt.Errorf("injected: %w", syscall.ECONNRESET)
		}
		h.run.count(name + "timeout before it arrived")
		drain(req)
		return nil, timeoutError{"no answer"}
	case faultinject.Timeout:
		h.run.count(name + "answer lost after it was served")
		resp, err := h.base.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil, timeoutError{"answer lost"}
	case faultinject.Throttle:
		if kind == "import" {
			h.run.count(name + "502 after it was served")
			resp, err := h.base.RoundTrip(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			return answer(req, http.StatusBadGateway, `{"detail":"injected: bad gateway"}`), nil
		}
		h.run.count(name + "429")
		return answer(req, http.StatusTooManyRequests, `{"error_code":"TOO_MANY_REQUESTS","message":"injected: slow down"}`), nil
	}
	return h.base.RoundTrip(req)
}

func drain(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func answer(req *http.Request, status int, body string) *http.Response {
	drain(req)
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// crashGate makes a delivery's process "die" at a random request: the
// request is served, its answer never read, and every later request of
// the delivery fails (its context is cancelled, so the AWS SDK does not
// retry), as if the Lambda invocation had been killed: nothing after that
// point, not even giving up the step's lease, reaches any service.
type crashGate struct {
	next    http.RoundTripper
	run     *run
	service string
	rate    float64
}

func (g *crashGate) RoundTrip(req *http.Request) (*http.Response, error) {
	id := faultinject.CallID(req.Context())
	if g.run.died(id) {
		drain(req)
		return nil, errCrashed
	}
	if !strings.HasPrefix(id, deliveryPrefix) || g.run.decide(req.Context(), "crash", g.rate) == faultinject.None {
		return g.next.RoundTrip(req)
	}
	resp, err := g.next.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	g.run.count("crash after a call to " + g.service)
	g.run.mu.Lock()
	g.run.dead[id] = true
	cancel := g.run.cancels[id]
	g.run.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return nil, fmt.Errorf("%w: %w", errCrashed, syscall.ECONNRESET)
}

// deliver registers a delivery's cancel func, so that a crash stops it.
func (r *run) deliver(id string, cancel context.CancelFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancels[id] = cancel
}

// died reports whether the delivery's process "died".
func (r *run) died(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dead[id]
}
