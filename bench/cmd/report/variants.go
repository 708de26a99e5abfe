package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
)

// variantPasses is how many passes over the design variants share their
// creates.
const variantPasses = 2

// errUnbuildable marks a design variant the setup cannot build; the report
// says so in its row instead of measuring something else under its name.
var errUnbuildable = errors.New("variant cannot be built")

// variant is one design choice changed from the deployed configuration.
type variant struct {
	name       string
	inst       instance
	idempotent bool
	// shows is the one sentence saying what the row shows, from its result
	// and the deployed one's.
	shows func(v, deployed *variantResult) string
}

// variantResult is one variant measured with (L, V) and without.
type variantResult struct {
	lat, base *phaseResult
	// L and V are the latencies of lat.
	L, V time.Duration
	// unbuildable says why the variant was not measured.
	unbuildable error
}

// roundTrips is the latency-derived count of sequential AWS round trips,
// (p50 − p50₀ − V·n_ws) / L, as in the auth-mode table.
func (r *variantResult) roundTrips() float64 {
	return (r.lat.dur.Median - r.base.dur.Median - msOf(r.V)*r.lat.meanWS()) / msOf(r.L)
}

// roundTripsAfter is the same for the part of the create after the check:
// (p50 − p50₀ of the time from the workspace's last answer to the return) / L.
func (r *variantResult) roundTripsAfter() float64 {
	return (r.lat.after().Median - r.base.after().Median) / msOf(r.L)
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// opsOf is the mean number of calls per create of the operation whose name
// ends in op (e.g. "UpdateItem").
func opsOf(p *phaseResult, op string) float64 {
	var n float64
	for name, k := range p.opsPerCreate() {
		if name == op || strings.HasSuffix(name, "."+op) {
			n += k
		}
	}
	return n
}

// designVariants are the rows of "Effect of each design choice": the
// deployed configuration first, then one choice changed at a time.
func designVariants() []variant {
	return []variant{
		{
			name: "deployed: ID_BLOCK_SIZE 10, TOKEN_CACHE_SECONDS 30, no Idempotency-Key, kept-alive connections",
			shows: func(v, _ *variantResult) string {
				return fmt.Sprintf("The reference for the other rows: the token comes from the instance's cache and the id from its block (%.2f UpdateItem per create, run while the workspace is checked), so the create waits for %.2f sequential AWS round trips in all and %.2f after the check (proxy-observed: %.0f calls after the check, CreateSecret then PutItem).",
					opsOf(v.lat, "UpdateItem"), v.roundTrips(), v.roundTripsAfter(), v.lat.depths(true).Median)
			},
		},
		{
			name: "ID_BLOCK_SIZE=1 (an id reservation per create)",
			inst: instance{env: map[string]string{"ID_BLOCK_SIZE": "1"}},
			shows: func(v, d *variantResult) string {
				dp50 := v.lat.dur.Median - d.lat.dur.Median
				effect := fmt.Sprintf("it changes p50 by %+.1f ms", dp50)
				if math.Abs(dp50) < msOf(v.L)/4 {
					effect += ", less than a quarter of a round trip: with the id reserved while the workspace is checked, blocks now save an AWS call (and a DynamoDB write) per create rather than latency"
				} else if dp50 > 0 {
					effect += ": the reservation (L plus moto's UpdateItem) outlasts the check often enough that blocks still save latency as well as calls"
				}
				if dLocal := v.base.dur.Median - d.base.dur.Median; dLocal > 2 && v.roundTripsAfter() < v.lat.depths(true).Median {
					effect += fmt.Sprintf(" (without latency the reservation outlasts the now instant check and adds %.1f ms of local cost, which is why the corrected counts come out below the proxy-observed chain)", dLocal)
				}
				return fmt.Sprintf("Every create reserves its id with an UpdateItem (%.2f per create instead of %.2f); %s.",
					opsOf(v.lat, "UpdateItem"), opsOf(d.lat, "UpdateItem"), effect)
			},
		},
		{
			name: "TOKEN_CACHE_SECONDS=0 (token cache off)",
			inst: instance{env: map[string]string{"TOKEN_CACHE_SECONDS": "0"}},
			shows: func(v, d *variantResult) string {
				return fmt.Sprintf("Every create looks its API token up (%.2f GetItem, consistent read) before the check: %+.1f ms at p50 and %.2f sequential round trips in all instead of %.2f, while after the check it stays at %.2f — the round trip the 30 s cache takes off the critical path of a warm instance (its first create, and one every 30 s per token, still pay it).",
					opsOf(v.lat, "GetItem"), v.lat.dur.Median-d.lat.dur.Median, v.roundTrips(), d.roundTrips(), v.roundTripsAfter())
			},
		},
		{
			name:       "Idempotency-Key header (unique per create)",
			idempotent: true,
			shows: func(v, d *variantResult) string {
				return fmt.Sprintf("The keyed path reads the key (GetItem) before the check and writes record and key in one TransactWriteItems instead of the PutItem: %+.1f ms at p50, %.2f sequential round trips in all and %.2f after the check (deployed %.2f and %.2f); moto's TransactWriteItems is slower than its PutItem (local cost %+.1f ms), which the correction takes out.",
					v.lat.dur.Median-d.lat.dur.Median, v.roundTrips(), v.roundTripsAfter(), d.roundTrips(), d.roundTripsAfter(), v.base.dur.Median-d.base.dur.Median)
			},
		},
		{
			name: "fresh connection per AWS call (keep-alives off in app.New's AWS HTTP client)",
			inst: instance{freshConns: true},
			shows: func(v, d *variantResult) string {
				local := fmt.Sprintf("cost %+.1f ms of local time", v.base.dur.Median-d.base.dur.Median)
				if math.Abs(v.base.dur.Median-d.base.dur.Median) < 2 {
					local = fmt.Sprintf("make no measurable difference (local cost %+.1f ms)", v.base.dur.Median-d.base.dur.Median)
				}
				return fmt.Sprintf("Every AWS call opens its own connection (%.2f per create instead of %.2f), each charged %d·L of handshakes by the proxy: %+.1f ms at p50 and %.2f round trips after the check instead of %.2f, for the same %.0f proxy-observed calls — what connection reuse saves; on loopback alone (L = 0, nothing charged) the new connections %s, and the TLS handshake's CPU is not in these figures.",
					v.lat.meanConns(), d.lat.meanConns(), handshakeRoundTrips, v.lat.dur.Median-d.lat.dur.Median, v.roundTripsAfter(), d.roundTripsAfter(), v.lat.depths(true).Median, local)
			},
		},
	}
}

// measureVariants measures the design variants side by side, each on a
// fresh instance and table with the same number of pat creates, and adds
// "Effect of each design choice" to s.
func measureVariants(r *rig, s *section) error {
	L, V, n := r.l.opts.awsLatency, r.l.opts.wsDelay, r.l.opts.variantCreates
	if n <= 0 {
		s.printf("### Effect of each design choice\n\nSkipped (-variant-creates %d).\n\n", n)
		return nil
	}
	variants := designVariants()
	results := make([]*variantResult, len(variants))
	lats := make([][]*phaseResult, len(variants))
	bases := make([][]*phaseResult, len(variants))
	events := make([]*benchkit.CreateEvents, len(variants))
	for i, v := range variants {
		results[i] = &variantResult{L: L, V: V}
		evs, err := r.l.createEvents("http-create-pat.json")
		if err != nil {
			return err
		}
		if v.idempotent {
			evs.IdempotencyKeyPrefix = fmt.Sprintf("bench-variant-%d-", time.Now().UnixNano())
		}
		events[i] = evs
	}
	// Two passes of half the creates each, the rows in order and then in
	// reverse, so that a drift of the machine's speed during the run
	// weighs on every row alike. Each phase runs on a fresh instance and
	// table in an emptied moto, so that moto's time per call (which grows
	// with the items stored) is the same with and without latency.
	perPass := (n + variantPasses - 1) / variantPasses
	for pass := range variantPasses {
		order := make([]int, len(variants))
		for i := range order {
			order[i] = i
		}
		if pass%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			v, res := variants[i], results[i]
			if res.unbuildable != nil {
				continue
			}
			mode := authMode{name: v.name, n: perPass, idempotent: v.idempotent}
			logf("critical path: variant %d (pass %d/%d), %d creates with L=%s V=%s and with L=V=0", i+1, pass+1, variantPasses, perPass, L, V)
			for _, lv := range [][2]time.Duration{{L, V}, {0, 0}} {
				if err := r.newApp("variant", v.inst); err != nil {
					if errors.Is(err, errUnbuildable) {
						res.unbuildable = err
						logf("critical path: variant %q not measured: %v", v.name, err)
						break
					}
					return fmt.Errorf("variant %q: %w", v.name, err)
				}
				p, err := r.phase(mode, events[i], lv[0], lv[1], "")
				if err != nil {
					return fmt.Errorf("variant %q: %w", v.name, err)
				}
				if lv[0] == 0 {
					bases[i] = append(bases[i], p)
				} else {
					lats[i] = append(lats[i], p)
				}
			}
		}
	}
	for i, res := range results {
		if res.unbuildable == nil {
			res.lat, res.base = mergePhases(lats[i]...), mergePhases(bases[i]...)
		}
	}
	deployed := results[0]
	if deployed.unbuildable != nil {
		return fmt.Errorf("the deployed configuration could not be built: %w", deployed.unbuildable)
	}

	s.printf("### Effect of each design choice\n\n")
	s.printf("The deployed configuration and one design choice changed at a time, measured side by side in this run: pat creates (`events/http-create-pat.json`), %d per row in %d passes of %d (rows 1–%d, then %d–1, so that a drift of the machine weighs on every row alike), each pass after 10 warm-up creates and on a fresh instance and table in an emptied moto, with L = %s and V = %s and again with L = V = 0 for the local cost. Round trips are corrected as above: in all, (p50 − p50₀ − V·n_ws) / L; after the check, (p50 − p50₀ of the time from the workspace's last answer to the create's return) / L, next to the proxy-observed chain of calls that started after that answer. New connections are those the AWS client opened to the proxy; each costs %d·L (see above). A difference of a millisecond or two is within the run's noise, and p99 of %d creates is close to their maximum.\n\n",
		perPass*variantPasses, variantPasses, perPass, len(variants), len(variants), L, V, handshakeRoundTrips, perPass*variantPasses)
	s.printf("| # | variant | AWS calls / create | new AWS connections / create | p50 | p99 | Δ p50 vs deployed | local cost p50 (L = V = 0) | sequential AWS round trips, all | after the check | after the check, proxy-observed calls (median / max) |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var deltas []string
	for i, v := range variants {
		res := results[i]
		if res.unbuildable != nil {
			s.printf("| %d | %s | not measured: %s | | | | | | | | |\n", i+1, v.name, mdCell(firstLine(res.unbuildable.Error())))
			deltas = append(deltas, fmt.Sprintf("%s not measured", v.name))
			continue
		}
		after := res.lat.depths(true)
		s.printf("| %d | %s | %s | %.2f | %s | %s | %+.1f ms | %s | %.2f | %.2f | %.0f / %.0f |\n",
			i+1, v.name, fmtOps(res.lat.opsPerCreate()), res.lat.meanConns(), ms(res.lat.dur.Median), ms(res.lat.dur.P99),
			res.lat.dur.Median-deployed.lat.dur.Median, ms(res.base.dur.Median), res.roundTrips(), res.roundTripsAfter(), after.Median, after.Max)
		if i > 0 {
			short, _, _ := strings.Cut(v.name, " (")
			deltas = append(deltas, fmt.Sprintf("%s %+.1f ms", short, res.lat.dur.Median-deployed.lat.dur.Median))
		}
	}
	s.printf("\nWhat each row shows:\n\n")
	for i, v := range variants {
		res := results[i]
		if res.unbuildable != nil {
			s.printf("%d. Not measured: %s.\n", i+1, res.unbuildable)
			continue
		}
		line := v.shows(res, deployed)
		if observed := res.lat.depths(true).Median; !v.inst.freshConns && math.Abs(res.roundTripsAfter()-observed) > 0.5 {
			line += fmt.Sprintf(" Here the latency-derived count after the check (%.2f) and the proxy-observed chain (%.0f) differ by more than half a round trip: the local cost at L = V = 0 is not what this path adds under latency (work that overlaps the check with L and V runs in series with it without them, and moto's time per call varies), so the proxy-observed count is the better one.", res.roundTripsAfter(), observed)
		}
		s.printf("%d. %s\n", i+1, line)
	}
	s.printf("\n")
	s.info(fmt.Sprintf("Effect of each design choice, p50 vs deployed %s (L=%s V=%s, %d creates each)", ms(deployed.lat.dur.Median), L, V, n), strings.Join(deltas, "; "))
	return nil
}
