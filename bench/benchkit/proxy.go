package benchkit

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Call is one AWS API call that went through a LatencyProxy.
type Call struct {
	// Operation is the X-Amz-Target header, e.g. "DynamoDB_20120810.PutItem";
	// "(none)" for a call without one.
	Operation string
	// Start is when the call reached the proxy, End when the proxy began
	// to send the answer back (its headers), so the injected latency lies
	// between them. End is never after the client could have sent its next
	// call, which is what telling sequential calls from overlapping ones
	// needs.
	Start, End time.Time
	// Status is the upstream's HTTP status (502 when it could not be reached).
	Status int
}

// LatencyProxy is a reverse proxy in front of an AWS endpoint (moto) that
// waits a fixed latency before forwarding each call and records every call.
// It stands in for the network distance to the real AWS services. It speaks
// plain HTTP on loopback, where a new connection costs next to nothing; a
// connect delay (SetConnectDelay) charges each new connection the handshake
// round trips a real endpoint would cost.
type LatencyProxy struct {
	server *httptest.Server

	mu           sync.Mutex
	delay        time.Duration
	connectDelay time.Duration
	calls        []Call
	conns        int
	inFlight     int
}

// NewLatencyProxy starts a proxy to target that delays each call by delay.
func NewLatencyProxy(target string, delay time.Duration) (*LatencyProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &LatencyProxy{delay: delay}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Keep the Host the client signed (SigV4 covers it).
			r.Out.Host = r.In.Host
		},
	}
	p.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		p.mu.Lock()
		d := p.delay
		p.inFlight++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.inFlight--
			p.mu.Unlock()
		}()
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(sw, r)
		if sw.headerAt.IsZero() {
			sw.headerAt = time.Now()
		}
		op := r.Header.Get("X-Amz-Target")
		if op == "" {
			op = "(none)"
		}
		p.mu.Lock()
		p.calls = append(p.calls, Call{Operation: op, Start: start, End: sw.headerAt, Status: sw.status})
		p.mu.Unlock()
	}))
	p.server.Listener = &countingListener{Listener: p.server.Listener, p: p}
	p.server.Start()
	return p, nil
}

// URL is the endpoint to give AWS_ENDPOINT_URL.
func (p *LatencyProxy) URL() string { return p.server.URL }

// SetDelay changes the latency added to each call.
func (p *LatencyProxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// SetConnectDelay sets the time each new client connection waits before its
// first request is read, e.g. 2·latency for the TCP and TLS 1.3 handshakes
// of a real endpoint. Zero (the default) adds nothing.
func (p *LatencyProxy) SetConnectDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connectDelay = d
}

// Conns returns how many client connections were opened since the last
// Reset.
func (p *LatencyProxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// Calls returns the calls recorded so far, oldest first.
func (p *LatencyProxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Quiesce waits up to timeout until no call is in flight, so that Calls
// holds every call a finished request made (a client can read an answer a
// moment before the proxy has recorded it). It reports whether that
// happened in time.
func (p *LatencyProxy) Quiesce(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		n := p.inFlight
		p.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// Reset forgets the recorded calls and connections.
func (p *LatencyProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
	p.conns = 0
}

// Close stops the proxy.
func (p *LatencyProxy) Close() { p.server.Close() }

// countingListener counts the proxy's client connections and gives each the
// connect delay in force when it was accepted.
type countingListener struct {
	net.Listener
	p *LatencyProxy
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	l.p.mu.Lock()
	l.p.conns++
	d := l.p.connectDelay
	l.p.mu.Unlock()
	if d <= 0 {
		return c, nil
	}
	return &delayedConn{Conn: c, delay: d}, nil
}

// delayedConn holds back its first read by delay: the client's first request
// is answered that much later, as if its connection had needed handshakes.
// The read runs on the connection's own goroutine, so other connections are
// not held up.
type delayedConn struct {
	net.Conn
	delay time.Duration
	once  sync.Once
}

func (c *delayedConn) Read(b []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.Conn.Read(b)
}

type statusWriter struct {
	http.ResponseWriter
	status   int
	headerAt time.Time
}

func (s *statusWriter) WriteHeader(code int) {
	if s.headerAt.IsZero() {
		s.status = code
		s.headerAt = time.Now()
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.headerAt.IsZero() {
		s.headerAt = time.Now()
	}
	return s.ResponseWriter.Write(b)
}

// SequentialDepth returns the length of the longest chain of calls in which
// each call starts after the previous one ended: the number of round trips
// that lie one after another, whatever ran beside them. Calls that overlap
// count once.
func SequentialDepth(calls []Call) int {
	// Greedy by earliest end gives the largest set of pairwise
	// non-overlapping intervals, which for intervals is the longest chain.
	sorted := slices.SortedFunc(slices.Values(calls), func(a, b Call) int { return a.End.Compare(b.End) })
	depth := 0
	var last time.Time
	for _, c := range sorted {
		if depth == 0 || !c.Start.Before(last) {
			depth++
			last = c.End
		}
	}
	return depth
}
