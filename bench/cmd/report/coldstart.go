package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/dev/rie"
)

// coldStartTarget is the largest accepted ratio of the real function's
// median INIT duration to that of the reference linking the Databricks SDK.
const coldStartTarget = 1.10

// measureColdStart starts each function fresh under the emulator, sends one
// create and reads the INIT duration the emulator reports. The functions
// take turns in an order that rotates and reverses from round to round,
// after one discarded start each.
func measureColdStart(l *lab) (*section, error) {
	s := &section{}
	rieBin, err := rie.FindBinary(l.root)
	if err != nil {
		return s, err
	}
	bins := map[string]string{}
	for _, pkg := range functions {
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
		out, err := f.Invoke(l.ctx, l.evs[0].Event(n))
		if err == nil {
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
	for _, pkg := range functions {
		if err := start(pkg, false); err != nil {
			return s, err
		}
	}
	for i := 0; i < l.opts.starts; i++ {
		order := append(slices.Clone(functions[i%3:]), functions[:i%3]...)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, pkg := range order {
			if err := start(pkg, true); err != nil {
				return s, err
			}
		}
	}
	sum := map[string]benchkit.Summary{}
	for _, pkg := range functions {
		sum[pkg] = benchkit.Summarize(initMS[pkg])
	}
	real, dbx, aws := sum[fnReal], sum[fnReferenceDBX], sum[fnReference]
	s.printf("Each start is a new emulator (`aws-lambda-rie`) running the bootstrap built for this machine with the Lambda flags; its `INIT REPORT(durationMs: …)` covers exec, the Go runtime and `main` up to the first `/next` (for create-storage: configuration and `app.New`). The three take turns (the order rotates and reverses each round) after one discarded start each, in the same environment; the first invoke is a PAT create (the references answer a fixed body).\n\n")
	s.printf("| INIT duration | n | median | min | max | create-storage ÷ this |\n|---|---:|---:|---:|---:|---:|\n")
	for _, pkg := range functions {
		x := sum[pkg]
		s.printf("| %s | %d | %s | %s | %s | %.2f× |\n", names[pkg], x.N, ms(x.Median), ms(x.Min), ms(x.Max), real.Median/x.Median)
	}
	r := real.Median / dbx.Median
	s.target("Cold start: INIT median vs the reference linking the Databricks SDK", fmt.Sprintf("%.2f× (%s vs %s; AWS-only reference %s)", r, ms(real.Median), ms(dbx.Median), ms(aws.Median)), "≤ 1.10×", r <= coldStartTarget)
	return s, nil
}
