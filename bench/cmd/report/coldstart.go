package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
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
	// The starts measured: each function as deployed today, and
	// create-storage again in Label Studio mode (LABEL_STUDIO_URL and
	// LABEL_STUDIO_TOKEN_SECRET set, its first create a Label Studio
	// token's), whose credential is read on first need, so that its INIT
	// should not differ from the same function's without them.
	type variant struct {
		key, pkg string
		env      map[string]string
		evs      *benchkit.CreateEvents
	}
	var variants []variant
	for _, pkg := range functions {
		variants = append(variants, variant{pkg, pkg, env, l.evs[0]})
	}
	const lsKey = fnReal + " (Label Studio mode)"
	lsVariant, lsErr := l.labelStudioVariant(env)
	if lsErr == nil {
		variants = append(variants, variant{lsKey, fnReal, lsVariant.env, lsVariant.evs})
	}
	initMS := map[string][]float64{}
	n := 0
	start := func(v variant, keep bool) error {
		n++
		f, err := rie.Start(l.ctx, rieBin, bins[v.pkg], v.env)
		if err != nil {
			return fmt.Errorf("%s: %w", v.key, err)
		}
		defer f.Stop()
		out, err := f.Invoke(l.ctx, v.evs.Event(n))
		if err == nil {
			err = benchkit.CheckCreated(out)
		}
		if err != nil {
			return fmt.Errorf("%s, start %d: %w\nlogs:\n%s", v.key, n, err, benchkit.Truncate(f.Logs(), 4000))
		}
		init, err := benchkit.WaitForInit(f.Logs, 2*time.Second)
		if keep {
			initMS[v.key] = append(initMS[v.key], init)
		}
		return err
	}
	// The first exec of each binary reads it from disk: not counted.
	for _, v := range variants {
		if err := start(v, false); err != nil {
			return s, err
		}
	}
	for i := 0; i < l.opts.starts; i++ {
		k := i % len(variants)
		order := append(slices.Clone(variants[k:]), variants[:k]...)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, v := range order {
			if err := start(v, true); err != nil {
				return s, err
			}
		}
	}
	sum := map[string]benchkit.Summary{}
	for _, v := range variants {
		sum[v.key] = benchkit.Summarize(initMS[v.key])
	}
	real, dbx, aws := sum[fnReal], sum[fnReferenceDBX], sum[fnReference]
	s.printf("Each start is a new emulator (`aws-lambda-rie`) running the bootstrap built for this machine with the Lambda flags; its `INIT REPORT(durationMs: …)` covers exec, the Go runtime and `main` up to the first `/next` (for create-storage: configuration and `app.New`). They take turns (the order rotates and reverses each round) after one discarded start each, in the same environment; the first invoke is a PAT create (the references answer a fixed body). The last row is create-storage again with `LABEL_STUDIO_URL` and `LABEL_STUDIO_TOKEN_SECRET` set (Label Studio mode, a Label Studio OSS started for this run; its first invoke is a create with a Label Studio token): the credential is read on first need, not in INIT, so its INIT should equal create-storage's within noise.\n\n")
	s.printf("| INIT duration | n | median | min | max | create-storage ÷ this |\n|---|---:|---:|---:|---:|---:|\n")
	for _, pkg := range functions {
		x := sum[pkg]
		s.printf("| %s | %d | %s | %s | %s | %.2f× |\n", names[pkg], x.N, ms(x.Median), ms(x.Min), ms(x.Max), real.Median/x.Median)
	}
	if lsErr == nil {
		x := sum[lsKey]
		s.printf("| create-storage, Label Studio mode | %d | %s | %s | %s | %.2f× |\n", x.N, ms(x.Median), ms(x.Min), ms(x.Max), real.Median/x.Median)
	} else {
		s.printf("\nLabel Studio mode: NOT MEASURED: %v\n", lsErr)
	}
	r := real.Median / dbx.Median
	s.target("Cold start: INIT median vs the reference linking the Databricks SDK", fmt.Sprintf("%.2f× (%s vs %s; AWS-only reference %s)", r, ms(real.Median), ms(dbx.Median), ms(aws.Median)), "≤ 1.10×", r <= coldStartTarget)
	if x := sum[lsKey]; lsErr == nil {
		s.info("Cold start: INIT median in Label Studio mode vs without", fmt.Sprintf("%s vs %s (%.2f×)", ms(x.Median), ms(real.Median), x.Median/real.Median))
	} else {
		s.info("Cold start: INIT median in Label Studio mode", "**not measured**: "+firstLine(lsErr.Error()))
	}
	return s, nil
}

// lsVariant is what a start in Label Studio mode differs by.
type lsVariant struct {
	env map[string]string
	evs *benchkit.CreateEvents
}

// labelStudioVariant is env in Label Studio mode (the service credential in
// the local Secrets Manager, as the template keeps it) and creates
// presenting the Label Studio admin's token.
func (l *lab) labelStudioVariant(env map[string]string) (lsVariant, error) {
	ls, project, err := l.labelStudio()
	if err != nil {
		return lsVariant{}, err
	}
	// The event templates name project 1, the first a fresh Label Studio
	// makes.
	if project != 1 {
		return lsVariant{}, fmt.Errorf("the Label Studio project is %d; the create events name project 1", project)
	}
	arn, err := devls.PutServiceToken(l.ctx, l.env.AWS, devls.ServiceTokenSecret, ls.Token)
	if err != nil {
		return lsVariant{}, err
	}
	evs, err := benchkit.LoadCreateEvents(filepath.Join(l.root, "events", "http-create-"+authModes[0]+".json"), l.env.WorkspaceURL(), ls.Token)
	if err != nil {
		return lsVariant{}, err
	}
	v := lsVariant{env: maps.Clone(env), evs: evs}
	v.env["LABEL_STUDIO_URL"] = ls.URL
	v.env["LABEL_STUDIO_TOKEN_SECRET"] = arn
	return v, nil
}
