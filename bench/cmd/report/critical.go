package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/logging"
)

// roundTripTarget is the largest accepted number of sequential AWS round
// trips after the connection check.
const roundTripTarget = 2

// phase is what the measured creates at one (L, V) did: their durations,
// the sequential depth of the AWS calls that started after the workspace's
// last answer was due (the round trips after the check), and the workspace
// requests and AWS calls (by operation) per create.
type phase struct {
	dur, after  benchkit.Summary
	wsPerCreate float64
	ops         map[string]float64
}

// measureCriticalPath runs sequential PAT creates in-process through the
// real handler (app.New with the function's environment, then
// Dispatcher.Invoke) against moto behind the latency proxy and the fake
// workspace delayed by V, then the same without latency (the baseline).
func measureCriticalPath(l *lab) (*section, error) {
	s := &section{}
	if l.envErr != nil {
		return s, l.envErr
	}
	proxy, err := benchkit.NewLatencyProxy(l.env.Endpoint)
	if err != nil {
		return s, err
	}
	defer proxy.Close()
	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		return s, err
	}
	cfg.Version = "bench"
	// app.New loads the AWS configuration from the environment, as the
	// function's main does: AWS_ENDPOINT_URL names the proxy while it runs.
	os.Setenv("AWS_ENDPOINT_URL", proxy.URL())
	a, err := app.New(l.ctx, cfg, logging.New(io.Discard, "INFO"), l.env.AppOptions())
	os.Setenv("AWS_ENDPOINT_URL", l.env.Endpoint)
	if err != nil {
		return s, err
	}
	L, V := l.opts.awsLatency, l.opts.wsDelay
	seq := 0
	run := func(latency, delay time.Duration) (*phase, error) {
		logf("critical path: %d creates with L=%s V=%s", l.opts.creates, latency, delay)
		return measurePhase(l, a, proxy, latency, delay, &seq)
	}
	lat, err := run(L, V)
	if err != nil {
		return s, err
	}
	base, err := run(0, 0)
	if err != nil {
		return s, err
	}
	rt := (lat.dur.Median - base.dur.Median - msOf(V)*lat.wsPerCreate) / msOf(L)

	s.printf("In-process through the real Lambda handler: `app.New` with the function's environment, then `Dispatcher.Invoke` with API Gateway HTTP API events from `events/http-create-pat.json` (host pointed at the fake workspace, the seeded token). AWS calls go to moto through a reverse proxy that waits L = %s before forwarding each one; the fake workspace answers each request after V = %s. Creates are sequential, after 10 discarded warm-up creates; the baseline repeats them with L = V = 0 to take out the local cost (handler, moto, loopback). ID_BLOCK_SIZE and TOKEN_CACHE_SECONDS are the defaults. The proxy keeps connections alive and charges a new one nothing, so a service that stopped reusing its connections would not show here.\n\n", L, V)
	s.printf("- round trips = (p50 − p50 baseline − V·workspace requests) / L;\n")
	s.printf("- proxy-observed: the longest chain of AWS calls one after another among those that started after the workspace's last answer was due.\n\n")
	s.printf("| | creates | p50 | p99 | max | workspace requests / create | AWS calls / create |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, p := range []struct {
		name string
		ph   *phase
	}{{fmt.Sprintf("L = %s, V = %s", L, V), lat}, {"baseline, L = V = 0", base}} {
		s.printf("| %s | %d | %s | %s | %s | %.2f | %s |\n", p.name, p.ph.dur.N, ms(p.ph.dur.Median), ms(p.ph.dur.P99), ms(p.ph.dur.Max), p.ph.wsPerCreate, fmtOps(p.ph.ops))
	}
	s.printf("\nSequential AWS round trips after the check: %.2f from the latencies; proxy-observed median %.0f, max %.0f.\n", rt, lat.after.Median, lat.after.Max)
	s.target("Sequential AWS round trips after the connection check", fmt.Sprintf("%.0f observed (max %.0f); %.2f from (p50 − p50₀ − V·n)/L", lat.after.Median, lat.after.Max, rt), "≤ 2", lat.after.Median <= roundTripTarget)
	s.info(fmt.Sprintf("Warm create, AWS %s and workspace %s away", L, V), fmt.Sprintf("p50 %s, p99 %s (local cost p50 %s)", ms(lat.dur.Median), ms(lat.dur.P99), ms(base.dur.Median)))
	return s, nil
}

// measurePhase sends 10 warm-up creates and then -creates measured ones,
// with each AWS call delayed by latency and each workspace answer by delay.
func measurePhase(l *lab, a *app.App, proxy *benchkit.LatencyProxy, latency, delay time.Duration, seq *int) (*phase, error) {
	fw := l.env.Workspace
	proxy.SetDelay(latency)
	fw.SetDelay(delay)
	defer fw.SetDelay(0)
	const warmUp = 10
	n := l.opts.creates
	var durs, after []float64
	ph := &phase{ops: map[string]float64{}}
	for i := range warmUp + n {
		*seq++
		proxy.Reset()
		fw.ResetRequests()
		start := time.Now()
		out, err := a.Dispatcher.Invoke(l.ctx, l.evs.Event(*seq))
		elapsed := time.Since(start)
		if err == nil {
			err = benchkit.CheckCreated(out)
		}
		if err != nil {
			return nil, fmt.Errorf("create %d: %w", i+1, err)
		}
		if i < warmUp {
			continue
		}
		reqs := fw.Requests()
		checkDone := start
		if len(reqs) > 0 {
			checkDone = reqs[len(reqs)-1].Time.Add(delay)
		}
		var afterCheck []benchkit.Call
		for _, c := range proxy.Calls() {
			if c.Status >= 300 {
				return nil, fmt.Errorf("create %d: AWS call %s answered %d", i+1, c.Operation, c.Status)
			}
			_, op, _ := strings.Cut(c.Operation, ".")
			ph.ops[op] += 1 / float64(n)
			if !c.Start.Before(checkDone) {
				afterCheck = append(afterCheck, c)
			}
		}
		durs = append(durs, msOf(elapsed))
		after = append(after, float64(benchkit.SequentialDepth(afterCheck)))
		ph.wsPerCreate += float64(len(reqs)) / float64(n)
	}
	ph.dur, ph.after = benchkit.Summarize(durs), benchkit.Summarize(after)
	return ph, nil
}

// fmtOps renders calls per create by operation, e.g.
// "CreateSecret 1.00, PutItem 1.00, UpdateItem 0.10".
func fmtOps(ops map[string]float64) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", op, ops[op]))
	}
	return strings.Join(parts, ", ")
}
