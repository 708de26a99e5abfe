package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/rie"
)

// coldStartTarget is the largest accepted ratio of the real function's
// median INIT duration to the reference's.
const coldStartTarget = 1.25

// measureColdStart starts each function fresh under the emulator, sends one
// create, and reads the INIT duration the emulator reports. The two
// functions alternate (ABBA), after one discarded warm-up start each.
func measureColdStart(ctx context.Context, l *lab) (*section, error) {
	s := &section{}
	rieBin, err := l.rie()
	if err != nil {
		return s, err
	}
	bins := map[string]string{}
	for _, fn := range []string{fnReal, fnReference} {
		if bins[fn], err = l.hostBuild(fn); err != nil {
			return s, err
		}
	}
	m, err := l.aws()
	if err != nil {
		return s, err
	}
	if _, err := l.workspace(); err != nil {
		return s, err
	}
	table, err := l.newTable("coldstart")
	if err != nil {
		return s, err
	}
	env := l.functionEnv(m.URL, table, l.secretPrefix("coldstart"))
	evs, err := l.createEvents("http-create-pat.json")
	if err != nil {
		return s, err
	}

	initMS := map[string][]float64{}
	firstMS := map[string][]float64{}
	n := 0
	start := func(fn string, keep bool) error {
		n++
		f, err := rie.Start(ctx, rieBin, bins[fn], env)
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		defer f.Stop()
		out, err := f.Invoke(ctx, evs.Event(n))
		if err != nil {
			return fmt.Errorf("%s: %w\nlogs:\n%s", fn, err, f.Logs())
		}
		if fn == fnReal {
			if err := benchkit.CheckCreated(out); err != nil {
				return fmt.Errorf("%s, start %d: %w\nlogs:\n%s", fn, n, err, f.Logs())
			}
		}
		init, err := benchkit.WaitForLogs(f.Logs, benchkit.InitDuration, 2*time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		first, err := benchkit.WaitForLogs(f.Logs, benchkit.FirstInvokeDuration, 2*time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		if keep {
			initMS[fn] = append(initMS[fn], init)
			firstMS[fn] = append(firstMS[fn], first)
		}
		return nil
	}
	// Warm-up: the first exec of each binary reads it from disk.
	for _, fn := range []string{fnReference, fnReal} {
		if err := start(fn, false); err != nil {
			return s, err
		}
	}
	for i := 0; i < l.opts.starts; i++ {
		order := []string{fnReference, fnReal}
		if i%2 == 1 {
			order = []string{fnReal, fnReference}
		}
		for _, fn := range order {
			if err := start(fn, true); err != nil {
				return s, err
			}
		}
	}
	// One more start of each with GODEBUG=inittrace=1, not counted above:
	// where package initialisation spends its time.
	traces := map[string][]benchkit.PackageInit{}
	traceEnv := maps.Clone(env)
	traceEnv["GODEBUG"] = "inittrace=1"
	for _, fn := range []string{fnReference, fnReal} {
		f, err := rie.Start(ctx, rieBin, bins[fn], traceEnv)
		if err != nil {
			return s, fmt.Errorf("%s with inittrace: %w", fn, err)
		}
		n++
		_, err = f.Invoke(ctx, evs.Event(n))
		if err == nil {
			_, err = benchkit.WaitForLogs(f.Logs, benchkit.InitDuration, 2*time.Second)
		}
		traces[fn] = benchkit.ParseInitTrace(f.Logs())
		f.Stop()
		if err != nil {
			return s, fmt.Errorf("%s with inittrace: %w", fn, err)
		}
	}

	real, ref := benchkit.Summarize(initMS[fnReal]), benchkit.Summarize(initMS[fnReference])
	realFirst, refFirst := benchkit.Summarize(firstMS[fnReal]), benchkit.Summarize(firstMS[fnReference])
	r := real.Median / ref.Median

	s.printf("Each start is a new emulator (`aws-lambda-rie`) running the bootstrap built for this machine with the Lambda flags; the emulator starts the bootstrap at the first invoke, and its `INIT REPORT(durationMs: …)` covers exec, Go runtime start, `main` up to the runtime's first `/next` (for create-storage: configuration, `app.New`). The functions alternate (reference, real, real, reference, …) after one discarded start each; both get the same environment (moto, TABLE_NAME, …). The first invoke is a PAT create (for the reference it only answers `{}`).\n\n")
	s.printf("| INIT duration | n | median | min | max | mean |\n|---|---:|---:|---:|---:|---:|\n")
	s.printf("| create-storage | %d | %s | %s | %s | %s |\n", real.N, ms(real.Median), ms(real.Min), ms(real.Max), ms(real.Mean))
	s.printf("| reference | %d | %s | %s | %s | %s |\n", ref.N, ms(ref.Median), ms(ref.Min), ms(ref.Max), ms(ref.Mean))
	s.printf("| ratio of medians | | %.2f× | | | |\n\n", r)
	s.printf("Samples (ms), create-storage: %s\n\nSamples (ms), reference: %s\n\n", fmtSamples(initMS[fnReal]), fmtSamples(initMS[fnReference]))
	s.printf("First invoke after INIT (`INVOKE RTDONE` duration; for create-storage a full create on new connections: TLS to the workspace, first AWS calls, an id block): create-storage median %s (min %s, max %s); reference median %s.\n\n",
		ms(realFirst.Median), ms(realFirst.Min), ms(realFirst.Max), ms(refFirst.Median))

	writeInitTrace(s, traces[fnReal], traces[fnReference])

	s.target("Cold start: INIT median vs reference", fmt.Sprintf("%.2f× (%s vs %s; real min–max %.1f–%.1f ms)", r, ms(real.Median), ms(ref.Median), real.Min, real.Max), "≤ 1.25×", r <= coldStartTarget)
	s.info("First create on a cold instance (after INIT)", fmt.Sprintf("median %s", ms(realFirst.Median)))
	return s, nil
}

func fmtSamples(xs []float64) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%.1f", x)
	}
	return out
}

// writeInitTrace summarises GODEBUG=inittrace=1 of both functions.
func writeInitTrace(s *section, real, ref []benchkit.PackageInit) {
	if len(real) == 0 || len(ref) == 0 {
		s.printf("GODEBUG=inittrace=1 printed nothing; package init times are not available.\n\n")
		return
	}
	sum := func(ps []benchkit.PackageInit) (clock float64, bytes int64, end float64) {
		for _, p := range ps {
			clock += p.ClockMS
			bytes += p.Bytes
			end = max(end, p.AtMS+p.ClockMS)
		}
		return clock, bytes, end
	}
	rc, rb, re := sum(real)
	fc, fb, fe := sum(ref)
	inRef := map[string]bool{}
	for _, p := range ref {
		inRef[p.Package] = true
	}
	s.printf("Package initialisation (one extra start each with `GODEBUG=inittrace=1`, not among the samples): create-storage runs %d package inits, %.1f ms of clock and %s allocated, done %.1f ms after the process started; the reference %d inits, %.1f ms, %s, done at %.1f ms. The rest of INIT is exec, the Go runtime and `main`.\n\n",
		len(real), rc, fmtKB(rb), re, len(ref), fc, fmtKB(fb), fe)
	sorted := slices.Clone(real)
	slices.SortFunc(sorted, func(a, b benchkit.PackageInit) int { return cmp.Compare(b.ClockMS, a.ClockMS) })
	s.printf("| slowest package inits of create-storage | clock | allocated | also in reference |\n|---|---:|---:|---|\n")
	for i, p := range sorted {
		if i == 12 {
			break
		}
		also := "no"
		if inRef[p.Package] {
			also = "yes"
		}
		s.printf("| %s | %.2f ms | %s | %s |\n", p.Package, p.ClockMS, fmtKB(p.Bytes), also)
	}
	s.printf("\n")
}
