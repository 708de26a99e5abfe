package faultinject_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
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

// callWith is call with a context (and so a call id) and a body.
func callWith(t *testing.T, ctx context.Context, tr *faultinject.Transport, url, op, body string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", op)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, nil
}

// planned runs, for each of ids, three calls of each operation under the
// plan on a fresh transport, with the ids spread over goroutines in a
// shuffled order, and returns the decisions sorted.
func planned(t *testing.T, srv *server, plan faultinject.Plan, ids []string, goroutines int, shuffle int64) []faultinject.Decision {
	t.Helper()
	tr := &faultinject.Transport{Base: srv.Client().Transport}
	tr.SetPlan(&plan)
	order := append([]string(nil), ids...)
	rand.New(rand.NewSource(shuffle)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	work := make(chan string)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				ctx := faultinject.WithCallID(context.Background(), id)
				for i := 0; i < 3; i++ {
					for _, op := range []string{opCreate, opPut} {
						_, _ = callWith(t, ctx, tr, srv.URL, op, `{"Name":"x"}`)
					}
				}
			}
		}()
	}
	for _, id := range order {
		work <- id
	}
	close(work)
	wg.Wait()
	if n := tr.Unlabelled(); n != 0 {
		t.Errorf("Unlabelled() = %d, want 0", n)
	}
	return sortedDecisions(tr.Decisions())
}

func sortedDecisions(ds []faultinject.Decision) []faultinject.Decision {
	slices.SortFunc(ds, func(a, b faultinject.Decision) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Attempt, b.Attempt))
	})
	return ds
}

// TestPlanIgnoresInterleaving: the same seed fails the same attempts of the
// same calls whatever the number of goroutines and the order of the calls,
// exactly as Plan.Decide says; another seed fails others.
func TestPlanIgnoresInterleaving(t *testing.T) {
	srv := newServer(t)
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, fmt.Sprint("create-", i))
	}
	plan := faultinject.Plan{Seed: 7, Probability: 0.3}
	first := planned(t, srv, plan, ids, 1, 1)
	if len(first) != len(ids)*3*2 {
		t.Fatalf("%d decisions, want %d", len(first), len(ids)*3*2)
	}
	faulted := 0
	for _, d := range first {
		if want := plan.Decide(d.ID, d.Kind, d.Attempt, plan.Probability); d.Fault != want {
			t.Errorf("%+v, but Decide says %v", d, want)
		}
		if d.Attempt < 0 || d.Attempt > 2 {
			t.Errorf("%+v: attempts are counted per id and operation, from 0", d)
		}
		if d.Fault != faultinject.None {
			faulted++
		}
	}
	if faulted == 0 || faulted == len(first) {
		t.Fatalf("%d of %d attempts faulted at p=0.3", faulted, len(first))
	}
	for _, run := range []struct {
		goroutines int
		shuffle    int64
	}{{8, 2}, {16, 3}, {3, 4}} {
		if again := planned(t, srv, plan, ids, run.goroutines, run.shuffle); !slices.Equal(again, first) {
			t.Errorf("%d goroutines, order %d: the decisions differ from a sequential run", run.goroutines, run.shuffle)
		}
	}
	other := planned(t, srv, faultinject.Plan{Seed: 8, Probability: 0.3}, ids, 8, 2)
	if slices.Equal(other, first) {
		t.Errorf("seeds 7 and 8 made the same decisions")
	}
}

// TestPlanFaultsAtItsRate: over many attempts about the plan's share fail,
// with every kind of fault; probability 0 and 1 are exact.
func TestPlanFaultsAtItsRate(t *testing.T) {
	for _, p := range []float64{0, 0.08, 0.5, 1} {
		plan := faultinject.Plan{Seed: 20261125}
		kinds := map[faultinject.Fault]int{}
		const n = 10000
		failed := 0
		for i := 0; i < n; i++ {
			f := plan.Decide(fmt.Sprint("key-", i/4), opPut, i%4, p)
			kinds[f]++
			if f != faultinject.None {
				failed++
			}
		}
		got := float64(failed) / n
		if (p == 0 || p == 1) && got != p || math.Abs(got-p) > 0.015 {
			t.Errorf("p=%v: %.4f of the attempts failed", p, got)
		}
		if p > 0 {
			for _, f := range faultinject.Faults {
				if share := float64(kinds[f]) / float64(failed); math.Abs(share-0.25) > 0.05 {
					t.Errorf("p=%v: %v is %.3f of the faults, want about a quarter", p, f, share)
				}
			}
		}
	}
}

// TestPlanClassify: Classify splits an operation into kinds with their own
// rates and attempt counts, and a spared call (probability 0) neither fails
// nor shifts the attempt numbers of the calls after it. The body reaches the
// server intact.
func TestPlanClassify(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	tr := &faultinject.Transport{Base: srv.Client().Transport}
	tr.SetPlan(&faultinject.Plan{Seed: 1, Classify: func(op string, body []byte) (string, float64) {
		switch {
		case strings.Contains(string(body), "TOKEN#"):
			return op, 0
		case strings.Contains(string(body), `"Delete"`):
			return op + "/delete", 1
		}
		return op + "/put", 0.000001
	}})
	ctx := faultinject.WithCallID(context.Background(), "create-1")
	const op = "DynamoDB_20120810.TransactWriteItems"
	sent := []string{`{"Put":{}}`, `{"Key":"TOKEN#abc"}`, `{"Delete":{}}`, `{"Put":{}}`, `{"Delete":{}}`}
	var statuses []int
	for _, body := range sent {
		status, err := callWith(t, ctx, tr, srv.URL, op, body)
		if err != nil {
			status = -1
		}
		statuses = append(statuses, status)
	}
	if statuses[0] != 200 || statuses[1] != 200 || statuses[3] != 200 {
		t.Errorf("statuses = %v: the puts and the spared call must go through", statuses)
	}
	if statuses[2] == 200 || statuses[4] == 200 {
		t.Errorf("statuses = %v: the deletes must fail (probability 1)", statuses)
	}
	want := []faultinject.Decision{
		{ID: "create-1", Kind: op + "/put", Attempt: 0},
		{ID: "create-1", Kind: op + "/delete", Attempt: 0},
		{ID: "create-1", Kind: op + "/put", Attempt: 1},
		{ID: "create-1", Kind: op + "/delete", Attempt: 1},
	}
	got := tr.Decisions()
	for i := range got {
		got[i].Fault = faultinject.None
	}
	if !slices.Equal(got, want) {
		t.Errorf("decisions = %+v, want %+v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bodies {
		if !slices.Contains(sent, b) {
			t.Errorf("the server got body %q, which was never sent", b)
		}
	}
	if len(bodies) < 3 {
		t.Errorf("the server got %d bodies, want the puts and the spared call", len(bodies))
	}
}

// TestPlanSparesUnlabelledCallsAndYieldsToRules: calls without a call id are
// never faulted but counted; rules come first; Clear and SetPlan(nil) stop
// the plan.
func TestPlanSparesUnlabelledCallsAndYieldsToRules(t *testing.T) {
	srv := newServer(t)
	tr := &faultinject.Transport{Base: srv.Client().Transport}
	tr.SetPlan(&faultinject.Plan{Seed: 1, Probability: 1})
	for i := 0; i < 3; i++ {
		if status, err := callWith(t, context.Background(), tr, srv.URL, opPut, `{}`); err != nil || status != 200 {
			t.Fatalf("unlabelled call: %d, %v", status, err)
		}
	}
	if n := tr.Unlabelled(); n != 3 {
		t.Errorf("Unlabelled() = %d, want 3", n)
	}
	ctx := faultinject.WithCallID(context.Background(), "create-1")
	if faultinject.CallID(ctx) != "create-1" || faultinject.CallID(context.Background()) != "" {
		t.Errorf("CallID does not return what WithCallID set")
	}
	tr.Add(faultinject.Rule{Operation: opPut, Fault: faultinject.ServerError, Times: 1})
	if status, err := callWith(t, ctx, tr, srv.URL, opPut, `{}`); err != nil || status != 500 {
		t.Errorf("the rule's call: %d, %v; want its 500", status, err)
	}
	if len(tr.Decisions()) != 0 {
		t.Errorf("the plan decided a call a rule claimed: %+v", tr.Decisions())
	}
	if status, err := callWith(t, ctx, tr, srv.URL, opPut, `{}`); err == nil && status == 200 {
		t.Errorf("with probability 1 the labelled call went through")
	}
	for _, stop := range []func(){tr.Clear, func() { tr.SetPlan(nil) }} {
		tr.SetPlan(&faultinject.Plan{Seed: 1, Probability: 1})
		stop()
		if status, err := callWith(t, ctx, tr, srv.URL, opPut, `{}`); err != nil || status != 200 {
			t.Errorf("after the plan stopped: %d, %v", status, err)
		}
	}
	if n := len(tr.Decisions()); n != 1 {
		t.Errorf("%d decisions, want the one made while the plan ran", n)
	}
}

// TestSlack: the transport notes how close to their deadline labelled calls
// came; calls without a deadline or without a call id do not count.
func TestSlack(t *testing.T) {
	srv := newServer(t)
	tr := &faultinject.Transport{Base: srv.Client().Transport}
	if _, _, ok := tr.Slack(); ok {
		t.Fatal("Slack() is measured before any call")
	}
	labelled := faultinject.WithCallID(context.Background(), "create-1")
	if _, err := callWith(t, labelled, tr, srv.URL, opPut, `{}`); err != nil {
		t.Fatal(err)
	}
	unlabelled, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := callWith(t, unlabelled, tr, srv.URL, opPut, `{}`); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := tr.Slack(); ok {
		t.Fatal("Slack() counts calls without a deadline or without a call id")
	}
	for _, limit := range []time.Duration{time.Hour, time.Minute} {
		ctx, cancel := context.WithTimeout(labelled, limit)
		if _, err := callWith(t, ctx, tr, srv.URL, opPut, `{}`); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if slack, id, ok := tr.Slack(); !ok || slack > time.Minute || slack < 50*time.Second || id != "create-1" {
		t.Errorf("Slack() = %v, %q, %v; want just under a minute, create-1", slack, id, ok)
	}
}
