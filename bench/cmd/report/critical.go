package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// chainTarget is the accepted number of AWS round trips one after another
// once the connection check has returned.
const chainTarget = 1

// AWS services as X-Amz-Target names them.
const (
	svcDynamoDB = "DynamoDB_20120810"
	svcSecrets  = "secretsmanager"
)

// designs: the service as built, and today's design (before issue 12)
// reproduced with the same code by holding CreateSecret until the check
// returned.
var designs = []string{"as built", "secret after the check"}

// orderGate holds the create's CreateSecret until its connection check
// returned (when hold is set) and notes when the check returned. Creates
// are sequential: reset arms it for the next one.
type orderGate struct {
	core.ConnectionChecker
	secrets core.SecretStore

	mu      sync.Mutex
	hold    bool
	done    chan struct{}
	checked time.Time
}

func (g *orderGate) reset(hold bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.done, g.checked = hold, make(chan struct{}), time.Time{}
}

func (g *orderGate) CheckConnection(ctx context.Context, c storage.Connection) error {
	err := g.ConnectionChecker.CheckConnection(ctx, c)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checked = time.Now()
	close(g.done)
	return err
}

// gatedSecrets is the service's SecretStore behind the gate.
type gatedSecrets struct{ g *orderGate }

func (s gatedSecrets) CreateSecret(ctx context.Context, in core.NewSecret) (arn, versionID string, err error) {
	s.g.mu.Lock()
	hold, done := s.g.hold, s.g.done
	s.g.mu.Unlock()
	if hold {
		select {
		case <-done:
		case <-ctx.Done():
			return "", "", ctx.Err()
		}
	}
	return s.g.secrets.CreateSecret(ctx, in)
}

func (s gatedSecrets) DeleteSecret(ctx context.Context, arn string) error {
	return s.g.secrets.DeleteSecret(ctx, arn)
}

// cell is what the creates of one auth mode and design did.
type cell struct {
	dur, chain  benchkit.Summary
	wsPerCreate float64
	ops         map[string]float64
}

// measureCriticalPath runs sequential creates in-process through the real
// handler (app.New with the create function's environment, then
// Dispatcher.Invoke) against moto behind the latency proxy and the fake
// workspace, for each auth mode, alternating the two designs create by
// create.
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
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return s, err
	}
	// app.New loads the AWS configuration from the environment, as the
	// function's main does: AWS_ENDPOINT_URL names the proxy while it runs.
	os.Setenv("AWS_ENDPOINT_URL", proxy.URL())
	opts := l.env.AppOptions()
	opts.Role = app.RoleCreate
	opts.Version = "bench"
	a, err := app.New(l.ctx, cfg, logging.New(io.Discard, "INFO"), opts)
	os.Setenv("AWS_ENDPOINT_URL", l.env.Endpoint)
	if err != nil {
		return s, err
	}
	gate := &orderGate{ConnectionChecker: a.Creator.Checker, secrets: a.Creator.Secrets}
	a.Creator.Checker, a.Creator.Secrets = gate, gatedSecrets{gate}

	proxy.SetDelays(map[string]time.Duration{svcDynamoDB: l.opts.ddbLatency, svcSecrets: l.opts.smLatency})
	l.env.Workspace.SetDelay(l.opts.wsDelay)
	defer l.env.Workspace.SetDelay(0)
	logf("critical path: %d creates per auth mode and design", l.opts.creates)
	cells := map[string]*cell{}
	for m, mode := range authModes {
		durs, chains := map[string][]float64{}, map[string][]float64{}
		for _, d := range designs {
			cells[mode+d] = &cell{ops: map[string]float64{}}
		}
		const warmUp = 6
		for i := range 2 * (warmUp + l.opts.creates) {
			design := designs[(i+i/2)%2] // ABBA, so id-block refills fall on both
			c := cells[mode+design]
			l.seq++
			gate.reset(design != designs[0])
			proxy.Reset()
			l.env.Workspace.ResetRequests()
			start := time.Now()
			out, err := a.Dispatcher.Invoke(l.ctx, l.evs[m].Event(l.seq))
			elapsed := time.Since(start)
			if err == nil {
				err = benchkit.CheckCreated(out)
			}
			if err != nil {
				return s, fmt.Errorf("%s create %d (%s): %w", mode, i+1, design, err)
			}
			if i < 2*warmUp {
				continue
			}
			var after []benchkit.Call
			for _, call := range proxy.Calls() {
				if call.Status >= 300 {
					return s, fmt.Errorf("%s create %d: AWS call %s answered %d", mode, i+1, call.Operation, call.Status)
				}
				c.ops[call.Operation] += 1 / float64(l.opts.creates)
				if !call.Start.Before(gate.checked) {
					after = append(after, call)
				}
			}
			durs[design] = append(durs[design], msOf(elapsed))
			chains[design] = append(chains[design], float64(benchkit.SequentialDepth(after)))
			c.wsPerCreate += float64(len(l.env.Workspace.Requests())) / float64(l.opts.creates)
		}
		for _, d := range designs {
			cells[mode+d].dur, cells[mode+d].chain = benchkit.Summarize(durs[d]), benchkit.Summarize(chains[d])
		}
	}

	s.printf("In-process through the real Lambda handler: `app.New` with the create function's environment (`Role: app.RoleCreate`), then `Dispatcher.Invoke` with the API Gateway events `events/http-create-{pat,dbx-sp,azure-ad-sp}.json` (host pointed at the fake workspace, which is also the Azure authority). AWS calls go to moto through a proxy that waits, per call, DynamoDB %s and Secrets Manager %s (told apart by `X-Amz-Target`); the fake workspace answers each request (token, Files API) after %s. Creates are sequential, %d per auth mode and design after %d discarded warm-up creates; ID_BLOCK_SIZE and TOKEN_CACHE_SECONDS are the defaults.\n\n", l.opts.ddbLatency, l.opts.smLatency, l.opts.wsDelay, l.opts.creates, 6)
	s.printf("Two designs, measured create by create in turn (ABBA) with the same code: **as built**, and **secret after the check** (today's design before issue 12), reproduced by wrapping the service's ports (`core.Creator.Checker`, `core.Creator.Secrets`) so that `CreateSecret` waits until the connection check has returned. The chain after the check is the longest run of AWS calls one after another among those that started once the check had returned, as the proxy saw them.\n\n")
	s.printf("| auth mode | design | p50 | p99 | chain after check (median, max) | workspace requests | AWS calls / create |\n|---|---|---:|---:|---:|---:|---|\n")
	worst := 0.0
	for _, mode := range authModes {
		for _, d := range designs {
			c := cells[mode+d]
			s.printf("| %s | %s | %s | %s | %.0f, %.0f | %.2f | %s |\n", mode, d, ms(c.dur.Median), ms(c.dur.P99), c.chain.Median, c.chain.Max, c.wsPerCreate, fmtOps(c.ops))
			if d == designs[0] {
				worst = max(worst, c.chain.Max)
			}
		}
	}
	pat, old := cells[authModes[0]+designs[0]], cells[authModes[0]+designs[1]]
	s.target("AWS round trips one after another after the connection check", fmt.Sprintf("max %.0f over %d creates per auth mode (secret after the check: %.0f)", worst, l.opts.creates, old.chain.Median), "= 1", worst == chainTarget)
	s.info(fmt.Sprintf("Warm PAT create (DynamoDB %s, Secrets Manager %s, workspace %s away)", l.opts.ddbLatency, l.opts.smLatency, l.opts.wsDelay), fmt.Sprintf("p50 %s, p99 %s (secret after the check: p50 %s, p99 %s)", ms(pat.dur.Median), ms(pat.dur.P99), ms(old.dur.Median), ms(old.dur.P99)))
	return s, nil
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
