package faultinject_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/faultinject"
)

const (
	opCreate = "secretsmanager.CreateSecret"
	opPut    = "DynamoDB_20120810.PutItem"
)

// server counts the requests that reach it, per operation.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newServer(t *testing.T) *server {
	s := &server{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.hits[r.Header.Get("X-Amz-Target")]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[op]
}

func call(t *testing.T, tr *faultinject.Transport, url, op string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"Name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", op)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body), nil
}

func TestFaults(t *testing.T) {
	cases := []struct {
		fault      faultinject.Fault
		status     int    // 0: the call fails
		errorType  string // X-Amzn-Errortype and __type
		errIs      error
		reachesAWS bool
	}{
		{faultinject.None, 200, "", nil, true},
		{faultinject.Throttle, 400, "ThrottlingException", nil, false},
		{faultinject.ServerError, 500, "InternalFailure", nil, false},
		// The request arrives and the operation happens, but the answer is lost.
		{faultinject.Timeout, 0, "", faultinject.ErrInjectedTimeout, true},
		{faultinject.Reset, 0, "", syscall.ECONNRESET, false},
	}
	for _, c := range cases {
		t.Run(c.fault.String(), func(t *testing.T) {
			srv := newServer(t)
			tr := &faultinject.Transport{Base: srv.Client().Transport}
			tr.Add(faultinject.Rule{Operation: opCreate, Fault: c.fault, Times: 1})

			resp, body, err := call(t, tr, srv.URL, opCreate)
			switch {
			case c.status == 0:
				if !errors.Is(err, c.errIs) {
					t.Fatalf("error = %v, want %v", err, c.errIs)
				}
			case err != nil:
				t.Fatalf("call failed: %v", err)
			default:
				if resp.StatusCode != c.status {
					t.Fatalf("status = %d, want %d", resp.StatusCode, c.status)
				}
				if c.errorType != "" {
					if got := resp.Header.Get("X-Amzn-Errortype"); got != c.errorType {
						t.Errorf("X-Amzn-Errortype = %q, want %q", got, c.errorType)
					}
					if !strings.Contains(body, `"__type":"`+c.errorType+`"`) {
						t.Errorf("body = %s, want __type %s", body, c.errorType)
					}
				} else if body != `{"ok":true}` {
					t.Errorf("body = %s, want the server's", body)
				}
			}
			if got := srv.count(opCreate); (got == 1) != c.reachesAWS || got > 1 {
				t.Errorf("server saw %d requests; reaches AWS = %v", got, c.reachesAWS)
			}
			// One fault only: the next call goes through.
			if resp, body, err := call(t, tr, srv.URL, opCreate); err != nil || resp.StatusCode != 200 || body != `{"ok":true}` {
				t.Errorf("second call: %v, %v, %s; want it unfaulted", err, resp, body)
			}
			if got := tr.Calls()[opCreate]; got != 2 {
				t.Errorf("Calls()[%s] = %d, want 2", opCreate, got)
			}
		})
	}
}

func TestRulesCountDownAndMatchTheirOperation(t *testing.T) {
	srv := newServer(t)
	tr := &faultinject.Transport{Base: srv.Client().Transport}
	tr.Add(faultinject.Rule{Operation: opPut, Fault: faultinject.ServerError, Times: 2})

	statuses := []int{}
	for i := 0; i < 4; i++ {
		resp, _, err := call(t, tr, srv.URL, opPut)
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, resp.StatusCode)
	}
	if want := []int{500, 500, 200, 200}; !equal(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}
	// Other operations are untouched.
	if resp, _, err := call(t, tr, srv.URL, opCreate); err != nil || resp.StatusCode != 200 {
		t.Errorf("other operation: %v %v", resp, err)
	}
	calls := tr.Calls()
	if calls[opPut] != 4 || calls[opCreate] != 1 {
		t.Errorf("Calls() = %v", calls)
	}
	if srv.count(opPut) != 2 {
		t.Errorf("server saw %d PutItem, want 2", srv.count(opPut))
	}
	// Calls returns a copy.
	calls[opPut] = 100
	if tr.Calls()[opPut] != 4 {
		t.Errorf("Calls() exposes internal state")
	}
}

func TestRulesApplyInOrder(t *testing.T) {
	srv := newServer(t)
	tr := &faultinject.Transport{Base: srv.Client().Transport}
	tr.Add(faultinject.Rule{Operation: opPut, Fault: faultinject.Throttle, Times: 1})
	tr.Add(faultinject.Rule{Operation: opPut, Fault: faultinject.ServerError, Times: 1})
	tr.Add(faultinject.Rule{Operation: opPut, Fault: faultinject.Reset, Times: 0})
	var got []int
	for i := 0; i < 3; i++ {
		resp, _, err := call(t, tr, srv.URL, opPut)
		if err != nil {
			t.Fatalf("call %d: %v (a rule with Times 0 must never fire)", i, err)
		}
		got = append(got, resp.StatusCode)
	}
	if want := []int{400, 500, 200}; !equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}

func TestClear(t *testing.T) {
	srv := newServer(t)
	tr := &faultinject.Transport{Base: srv.Client().Transport}
	tr.Add(faultinject.Rule{Operation: opPut, Fault: faultinject.Reset, Times: 5})
	if _, _, err := call(t, tr, srv.URL, opPut); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("before Clear: %v", err)
	}
	tr.Clear()
	if resp, _, err := call(t, tr, srv.URL, opPut); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after Clear: %v %v", resp, err)
	}
}

func TestFaultNames(t *testing.T) {
	want := map[faultinject.Fault]string{
		faultinject.None: "none", faultinject.Throttle: "throttle", faultinject.ServerError: "server-error",
		faultinject.Timeout: "timeout", faultinject.Reset: "reset",
	}
	for f, name := range want {
		if f.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(f), f.String(), name)
		}
	}
	if len(faultinject.Faults) != 4 {
		t.Errorf("Faults = %v, want the four injectable faults", faultinject.Faults)
	}
	for _, f := range faultinject.Faults {
		if f == faultinject.None {
			t.Errorf("Faults lists None")
		}
	}
	// An out-of-range value must not panic (it may be printed in a test name).
	for _, f := range []faultinject.Fault{-1, 5, 99} {
		if s := f.String(); s == "" {
			t.Errorf("Fault(%d).String() is empty", int(f))
		}
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
