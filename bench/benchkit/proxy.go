package benchkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Call is one AWS API call that went through a LatencyProxy.
type Call struct {
	// Service and Operation split the X-Amz-Target header, e.g.
	// "DynamoDB_20120810" and "PutItem", or "secretsmanager" and
	// "CreateSecret".
	Service, Operation string
	// Start is when the call reached the proxy, End when the upstream's
	// answer came back, before the proxy passes it on: the injected latency
	// lies between them, and the client cannot send its next call before End.
	Start, End time.Time
	// Status is the upstream's HTTP status.
	Status int
}

// LatencyProxy is a reverse proxy in front of an AWS endpoint (moto) that
// waits a latency before forwarding each call, the network distance to
// and the service time of the AWS service the call's X-Amz-Target names,
// and records every call before the client gets its answer. It keeps client
// connections alive (moto closes its own after each answer). New
// connections cost nothing extra: a warm instance reuses its own.
type LatencyProxy struct {
	server *httptest.Server

	mu     sync.Mutex
	delays map[string]time.Duration
	calls  []Call
}

type startKey struct{}

// NewLatencyProxy starts a proxy to target without latency.
func NewLatencyProxy(target string) (*LatencyProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &LatencyProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // SigV4 signs the Host
		},
		ModifyResponse: func(resp *http.Response) error {
			start, _ := resp.Request.Context().Value(startKey{}).(time.Time)
			p.mu.Lock()
			defer p.mu.Unlock()
			svc, op, _ := strings.Cut(resp.Request.Header.Get("X-Amz-Target"), ".")
			p.calls = append(p.calls, Call{Service: svc, Operation: op, Start: start, End: time.Now(), Status: resp.StatusCode})
			return nil
		},
	}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		svc, _, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		p.mu.Lock()
		d := p.delays[svc]
		p.mu.Unlock()
		select {
		case <-time.After(d):
			rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startKey{}, start)))
		case <-r.Context().Done():
		}
	}))
	return p, nil
}

// URL is the endpoint to give AWS_ENDPOINT_URL.
func (p *LatencyProxy) URL() string { return p.server.URL }

// SetDelays sets the latency added to each call by service (the part of
// X-Amz-Target before the dot); other services get none.
func (p *LatencyProxy) SetDelays(byService map[string]time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delays = byService
}

// Calls returns the calls recorded since the last Reset, oldest first.
func (p *LatencyProxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// Reset forgets the recorded calls.
func (p *LatencyProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
}

// Close stops the proxy.
func (p *LatencyProxy) Close() { p.server.Close() }

// SequentialDepth returns the length of the longest chain of calls each of
// which starts after the previous one ended: the round trips that lie one
// after another, whatever ran beside them.
func SequentialDepth(calls []Call) int {
	// Greedy by earliest end finds the most pairwise disjoint intervals.
	depth, last := 0, time.Time{}
	for _, c := range slices.SortedFunc(slices.Values(calls), func(a, b Call) int { return a.End.Compare(b.End) }) {
		if depth == 0 || !c.Start.Before(last) {
			depth, last = depth+1, c.End
		}
	}
	return depth
}
