package benchkit

import (
	"archive/zip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

const rieLogs = `25 Nov 2026 00:19:20,579 [INFO] (rapid) exec '/tmp/bx/ref' (cwd=/tmp/bx, handler=)
init internal/bytealg @0.003 ms, 0 ms clock, 0 bytes, 0 allocs
START RequestId: 352ee825 Version: $LATEST
25 Nov 2026 00:19:21,589 [INFO] (rapid) INIT START(type: on-demand, phase: init)
init runtime @0.010 ms, 0.020 ms clock, 0 bytes, 0 allocs
init github.com/x/y @1.5 ms, 2.25 ms clock, 4096 bytes, 12 allocs
25 Nov 2026 00:19:21,607 [INFO] (rapid) INIT REPORT(durationMs: 18.066000)
25 Nov 2026 00:19:21,609 [INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 1.530000ms)
REPORT RequestId: 352ee825	Init Duration: 0.05 ms	Duration: 19.84 ms	Billed Duration: 20 ms
`

func TestEmulatorLogs(t *testing.T) {
	if d, err := InitDuration(rieLogs); err != nil || d != 18.066 {
		t.Errorf("InitDuration = %v, %v; want 18.066 (INIT REPORT, not the REPORT line)", d, err)
	}
	if d, err := InitDuration("REPORT RequestId: x\tInit Duration: 7.5 ms\t"); err != nil || d != 7.5 {
		t.Errorf("InitDuration fallback = %v, %v", d, err)
	}
	if _, err := InitDuration("nothing"); err == nil {
		t.Error("InitDuration of no report succeeded")
	}
	if d, err := FirstInvokeDuration(rieLogs); err != nil || d != 1.53 {
		t.Errorf("FirstInvokeDuration = %v, %v", d, err)
	}
	inits := ParseInitTrace(rieLogs)
	if len(inits) != 2 || inits[1].Package != "github.com/x/y" || inits[1].ClockMS != 2.25 || inits[1].Bytes != 4096 || inits[1].Allocs != 12 {
		t.Errorf("ParseInitTrace = %+v; want the two inits after INIT START", inits)
	}
}

func TestSequentialDepth(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	call := func(start, end int) Call { return Call{Start: at(start), End: at(end)} }
	for _, tc := range []struct {
		name  string
		calls []Call
		want  int
	}{
		{"none", nil, 0},
		{"one", []Call{call(0, 20)}, 1},
		{"in a row", []Call{call(40, 60), call(0, 20), call(20, 40)}, 3},
		{"side by side", []Call{call(0, 20), call(5, 25)}, 1},
		{"two parallel then one", []Call{call(0, 20), call(1, 21), call(30, 50)}, 2},
	} {
		if got := SequentialDepth(tc.calls); got != tc.want {
			t.Errorf("%s: SequentialDepth = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{4, 1, 3, 2})
	if s.N != 4 || s.Min != 1 || s.Max != 4 || s.Median != 2.5 || s.Mean != 2.5 || s.P99 != 4 {
		t.Errorf("Summarize = %+v", s)
	}
	if s := Summarize([]float64{5, 1, 3}); s.Median != 3 {
		t.Errorf("odd median = %v", s.Median)
	}
	if s := Summarize(nil); s.N != 0 {
		t.Errorf("empty = %+v", s)
	}
}

func TestCreateEvents(t *testing.T) {
	path := filepath.Join("..", "..", "events", "http-create-pat.json")
	evs, err := LoadCreateEvents(path, "https://127.0.0.1:8443", Authorization("k1"))
	if err != nil {
		t.Fatal(err)
	}
	evs.IdempotencyKeyPrefix = "key-"
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(evs.Event(7), &ev); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body["host"] != "https://127.0.0.1:8443" || body["catalog"] != "main" {
		t.Errorf("body host/catalog = %v/%v", body["host"], body["catalog"])
	}
	if ev.Headers["authorization"] != "Token k1" || ev.Headers["idempotency-key"] != "key-7" || ev.RequestContext.RequestID != "bench-7" {
		t.Errorf("headers %v, request id %q", ev.Headers, ev.RequestContext.RequestID)
	}
	if ev.Headers["content-length"] != strconv.Itoa(len(ev.Body)) {
		t.Errorf("content-length %s for a body of %d bytes", ev.Headers["content-length"], len(ev.Body))
	}
	evs.Authorization = ""
	var bare events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(evs.Event(8), &bare); err != nil {
		t.Fatal(err)
	}
	if _, ok := bare.Headers["authorization"]; ok {
		t.Error("an event without Authorization still has the header")
	}
}

func TestCheckCreated(t *testing.T) {
	if err := CheckCreated([]byte(`{"statusCode":201,"body":"{}"}`)); err != nil {
		t.Error(err)
	}
	err := CheckCreated([]byte(`{"statusCode":401,"body":"{\"detail\":\"Invalid token.\"}"}`))
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Invalid token.") {
		t.Errorf("CheckCreated of a 401 = %v; want the status and the body", err)
	}
}

func TestZipBootstrap(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(bin, []byte(strings.Repeat("binary ", 1000)), 0o755); err != nil {
		t.Fatal(err)
	}
	size, err := ZipBootstrap(bin, filepath.Join(dir, "f.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "f.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		t.Fatalf("%d entries", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" || f.Method != zip.Deflate || f.Mode().Perm() != 0o755 || f.UncompressedSize64 != 7000 {
		t.Errorf("entry %s method %d mode %v size %d", f.Name, f.Method, f.Mode(), f.UncompressedSize64)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "f.zip")); fi.Size() != size || size >= 7000 {
		t.Errorf("zip size %d (file %d)", size, fi.Size())
	}
}

func TestReadMemoryAndCPUOfThisProcess(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("memory = %+v", m)
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Error(err)
	}
	if _, err := FindChild(os.Getpid(), "/nonexistent/bootstrap"); err == nil {
		t.Error("FindChild found a process that does not exist")
	}
}

func TestLatencyProxyConnections(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Target", r.Header.Get("X-Amz-Target"))
	}))
	defer upstream.Close()
	p, err := NewLatencyProxy(upstream.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const connect = 50 * time.Millisecond
	p.SetConnectDelay(connect)
	get := func(c *http.Client) time.Duration {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, p.URL(), strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Seen-Target") != "DynamoDB_20120810.GetItem" {
			t.Fatalf("upstream did not get the call: %v", resp.Header)
		}
		return time.Since(start)
	}
	reuse := &http.Client{Transport: &http.Transport{}}
	if d := get(reuse); d < connect {
		t.Errorf("first call on a new connection took %s, want at least the connect delay %s", d, connect)
	}
	if d := get(reuse); d >= connect {
		t.Errorf("second call on a kept-alive connection took %s, want less than the connect delay", d)
	}
	if n := p.Conns(); n != 1 {
		t.Errorf("Conns = %d after two calls on one kept-alive connection, want 1", n)
	}
	p.Reset()
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 2 {
		if d := get(fresh); d < connect {
			t.Errorf("call on a fresh connection took %s, want at least %s", d, connect)
		}
	}
	if !p.Quiesce(time.Second) {
		t.Fatal("a call was still in flight")
	}
	if n, calls := p.Conns(), len(p.Calls()); n != 2 || calls != 2 {
		t.Errorf("without keep-alives: Conns = %d, Calls = %d, want 2 and 2", n, calls)
	}
}
