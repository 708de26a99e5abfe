package main

import (
	"fmt"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/rie"
)

// coldStartTarget is the largest accepted ratio of the real function's
// median INIT duration to the reference's.
const coldStartTarget = 1.25

// measureColdStart starts each function fresh under the emulator, sends one
// create and reads the INIT duration the emulator reports. The functions
// alternate (ABBA) after one discarded start each.
func measureColdStart(l *lab) (*section, error) {
	s := &section{}
	rieBin, err := rie.FindBinary(l.root)
	if err != nil {
		return s, err
	}
	bins := map[string]string{}
	for _, pkg := range []string{fnReal, fnReference} {
		if bins[pkg], err = l.hostBuild(pkg); err != nil {
			return s, err
		}
	}
	if l.envErr != nil {
		return s, l.envErr
	}
	env := l.functionEnv(l.env.Endpoint)
	initMS := map[string][]float64{}
	n := 0
	start := func(pkg string, keep bool) error {
		n++
		f, err := rie.Start(l.ctx, rieBin, bins[pkg], env)
		if err != nil {
			return fmt.Errorf("%s: %w", pkg, err)
		}
		defer f.Stop()
		out, err := f.Invoke(l.ctx, l.evs.Event(n))
		if err == nil && pkg == fnReal {
			err = benchkit.CheckCreated(out)
		}
		if err != nil {
			return fmt.Errorf("%s, start %d: %w\nlogs:\n%s", pkg, n, err, benchkit.Truncate(f.Logs(), 4000))
		}
		init, err := benchkit.WaitForInit(f.Logs, 2*time.Second)
		if keep {
			initMS[pkg] = append(initMS[pkg], init)
		}
		return err
	}
	// The first exec of each binary reads it from disk: not counted.
	for _, pkg := range []string{fnReference, fnReal} {
		if err := start(pkg, false); err != nil {
			return s, err
		}
	}
	for i := 0; i < l.opts.starts; i++ {
		order := []string{fnReference, fnReal}
		if i%2 == 1 {
			order = []string{fnReal, fnReference}
		}
		for _, pkg := range order {
			if err := start(pkg, true); err != nil {
				return s, err
			}
		}
	}
	real, ref := benchkit.Summarize(initMS[fnReal]), benchkit.Summarize(initMS[fnReference])
	r := real.Median / ref.Median
	s.printf("Each start is a new emulator (`aws-lambda-rie`) running the bootstrap built for this machine with the Lambda flags; its `INIT REPORT(durationMs: …)` covers exec, the Go runtime and `main` up to the first `/next` (for create-storage: configuration and `app.New`). The functions alternate (reference, real, real, reference, …) after one discarded start each, in the same environment (moto, the table, the fake workspace); the first invoke is a PAT create (the reference answers `{}`).\n\n")
	s.printf("| INIT duration | n | median | min | max |\n|---|---:|---:|---:|---:|\n")
	s.printf("| create-storage | %d | %s | %s | %s |\n", real.N, ms(real.Median), ms(real.Min), ms(real.Max))
	s.printf("| reference | %d | %s | %s | %s |\n", ref.N, ms(ref.Median), ms(ref.Min), ms(ref.Max))
	s.printf("| ratio of medians | | %.2f× | | |\n", r)
	s.target("Cold start: INIT median vs reference", fmt.Sprintf("%.2f× (%s vs %s)", r, ms(real.Median), ms(ref.Median)), "≤ 1.25×", r <= coldStartTarget)
	return s, nil
}
