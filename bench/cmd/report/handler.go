package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
)

// cpuTarget is the largest accepted CPU time per create, in microseconds.
const cpuTarget = 300

var benchLineRE = regexp.MustCompile(`^BenchmarkCreate(?:-\d+)?\s+\d+\s+(.*)$`)

// measureHandler runs BenchmarkCreate of bench/handler and, unless
// -no-profile, a CPU profile of it.
func measureHandler(ctx context.Context, l *lab) (*section, error) {
	s := &section{}
	// The Lambda build's -trimpath and tags, so that the benchmark shares
	// compiled dependencies with the bootstraps.
	args := []string{"test", "-trimpath", "-tags", "lambda.norpc", "-run", "^$", "-bench", "^BenchmarkCreate$", "-benchmem",
		"-benchtime", l.opts.benchtime, "-count", strconv.Itoa(l.opts.benchCount), "./bench/handler"}
	out, err := command(ctx, l.root, "go", args...)
	if err != nil {
		return s, err
	}
	metrics := map[string][]float64{}
	for _, line := range strings.Split(out, "\n") {
		m := benchLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := strings.Fields(m[1])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return s, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			metrics[f[i+1]] = append(metrics[f[i+1]], v)
		}
	}
	for _, unit := range []string{"ns/op", "cpu-ns/op", "B/op", "allocs/op"} {
		if len(metrics[unit]) == 0 {
			return s, fmt.Errorf("go %s printed no %s:\n%s", strings.Join(args, " "), unit, out)
		}
	}
	med := func(unit string) float64 { return benchkit.Summarize(metrics[unit]).Median }
	cpuUS := med("cpu-ns/op") / 1000
	s.printf("`go %s`: one create (events/http-create-pat.json, every optional field set) through the Lambda dispatcher, HTTP handler, decoder and storage service as `app.NewWithAWS` wires them, with in-process fakes for the secret store, repository, id allocator and connection checker, and the production JSON logger writing to io.Discard. Medians of %d runs; cpu-ns/op is the process's user + system CPU per create (GC on other cores included), the figure the target is about.\n\n",
		strings.Join(args, " "), len(metrics["ns/op"]))
	s.printf("| ns/op | cpu-ns/op | B/op | allocs/op |\n|---:|---:|---:|---:|\n| %.0f | %.0f | %.0f | %.0f |\n\n", med("ns/op"), med("cpu-ns/op"), med("B/op"), med("allocs/op"))
	s.printf("```\n%s\n```\n\n", out)
	s.target("Handler CPU per create (in-process fakes)", fmt.Sprintf("%.0f µs (wall %.0f µs/op, %.0f B/op, %.0f allocs/op)", cpuUS, med("ns/op")/1000, med("B/op"), med("allocs/op")), "≤ 300 µs", cpuUS <= cpuTarget)

	if l.opts.skipProfile {
		return s, nil
	}
	prof := filepath.Join(l.work, "handler-cpu.out")
	testBin := filepath.Join(l.work, "handler.test")
	if _, err := command(ctx, l.root, "go", "test", "-trimpath", "-tags", "lambda.norpc", "-run", "^$", "-bench", "^BenchmarkCreate$", "-benchtime", "2s", "-count", "1",
		"-cpuprofile", prof, "-o", testBin, "./bench/handler"); err != nil {
		s.printf("CPU profile not taken: %s\n\n", firstLine(err.Error()))
		return s, nil
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=30", testBin, prof).Output()
	if err != nil {
		s.printf("CPU profile not read: %v\n\n", err)
		return s, nil
	}
	s.printf("CPU profile of the benchmark (`-cpuprofile`, `go tool pprof -top -cum`, 30 nodes):\n\n```\n%s\n```\n\n", trimPprof(string(top)))
	return s, nil
}

// trimPprof drops pprof's File/Build ID/Time preamble lines.
func trimPprof(s string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Time:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
