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
START RequestId: 352ee825 Version: $LATEST
25 Nov 2026 00:19:21,589 [INFO] (rapid) INIT START(type: on-demand, phase: init)
25 Nov 2026 00:19:21,607 [INFO] (rapid) INIT REPORT(durationMs: 18.066000)
25 Nov 2026 00:19:21,609 [INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 1.530000ms)
REPORT RequestId: 352ee825	Init Duration: 0.05 ms	Duration: 19.84 ms	Billed Duration: 20 ms
`

func TestInitDuration(t *testing.T) {
	if d, err := WaitForInit(func() string { return rieLogs }, 0); err != nil || d != 18.066 {
		t.Errorf("WaitForInit = %v, %v; want 18.066 (INIT REPORT, not the REPORT line)", d, err)
	}
	if _, err := WaitForInit(func() string { return "REPORT RequestId: x\tInit Duration: 7.5 ms\t" }, 0); err == nil {
		t.Error("WaitForInit read the REPORT line")
	}
	logs := rieLogs + "REPORT RequestId: 2\tDuration: 3.25 ms\tBilled Duration: 4 ms\n"
	if d, err := WaitForReports(func() string { return logs }, 2, 0); err != nil || len(d) != 2 || d[0] != 19.84 || d[1] != 3.25 {
		t.Errorf("WaitForReports = %v, %v; want [19.84 3.25]", d, err)
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
	if s.N != 4 || s.Min != 1 || s.Max != 4 || s.Median != 2.5 || s.P95 != 4 || s.P99 != 4 || s.Mean != 2.5 {
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
	evs, err := LoadCreateEvents(path, "https://127.0.0.1:8443", "k1")
	if err != nil {
		t.Fatal(err)
	}
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
	if ev.Headers["authorization"] != "Token k1" || ev.RequestContext.RequestID != "bench-7" {
		t.Errorf("headers %v, request id %q", ev.Headers, ev.RequestContext.RequestID)
	}
	if ev.Headers["content-length"] != strconv.Itoa(len(ev.Body)) {
		t.Errorf("content-length %s for a body of %d bytes", ev.Headers["content-length"], len(ev.Body))
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

func TestMemoryAndCPUOfThisProcess(t *testing.T) {
	if cpu, peak, err := Usage(os.Getpid()); err != nil || peak <= 0 || cpu < 0 {
		t.Errorf("Usage = %s, %d, %v", cpu, peak, err)
	}
	if _, err := FindChild(os.Getpid(), "/nonexistent/bootstrap"); err == nil {
		t.Error("FindChild found a process that does not exist")
	}
}

func TestLatencyProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Target", r.Header.Get("X-Amz-Target"))
	}))
	defer upstream.Close()
	p, err := NewLatencyProxy(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const latency = 20 * time.Millisecond
	p.SetDelays(map[string]time.Duration{"DynamoDB_20120810": latency})
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
	for range 2 {
		if d := get(http.DefaultClient); d < latency {
			t.Errorf("call took %s, want at least the latency %s", d, latency)
		}
	}
	calls := p.Calls()
	if len(calls) != 2 || calls[1].Service != "DynamoDB_20120810" || calls[1].Operation != "GetItem" || calls[1].Status != 200 || calls[1].End.Sub(calls[1].Start) < latency {
		t.Errorf("calls %+v", calls)
	}
	p.Reset()
	if len(p.Calls()) != 0 {
		t.Error("Reset kept calls")
	}
}

func TestSymbolPackage(t *testing.T) {
	for name, want := range map[string]string{
		"github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).PutItem":    "github.com/aws/aws-sdk-go-v2/service/dynamodb",
		"type:*github.com/lsdbx/databricks-storage/internal/storage.Storage": "github.com/lsdbx/databricks-storage/internal/storage",
		"runtime.mallocgc": "runtime",
		"go:func.*":        "go:func.*",
	} {
		if got := SymbolPackage(name); got != want {
			t.Errorf("SymbolPackage(%q) = %q, want %q", name, got, want)
		}
	}
	if Module("go:func.*") != Module("runtime") || Module("github.com/lsdbx/databricks-storage/internal/app") != "this service" {
		t.Error("Module groups wrongly")
	}
}
