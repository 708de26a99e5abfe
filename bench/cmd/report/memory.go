package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/rie"
)

// rssTarget is the largest accepted peak RSS, in bytes (64 MiB, Lambda's
// memory unit).
const rssTarget = 64 * mib

// measureMemory runs the real bootstrap under the emulator against moto and
// the fake workspace, sends one create and then -memory-creates more, and
// reads the bootstrap's peak RSS (VmHWM) and CPU time from /proc.
func measureMemory(ctx context.Context, l *lab) (*section, error) {
	s := &section{}
	rieBin, err := l.rie()
	if err != nil {
		return s, err
	}
	bin, err := l.hostBuild(fnReal)
	if err != nil {
		return s, err
	}
	m, err := l.aws()
	if err != nil {
		return s, err
	}
	if _, err := l.workspace(); err != nil {
		return s, err
	}
	if err := m.Reset(ctx); err != nil {
		return s, err
	}
	// moto closes every connection after one answer; a proxy that keeps
	// them alive (and adds no latency) lets the function reuse its
	// connections as it does with AWS, so its CPU time is not spent dialing.
	proxy, err := benchkit.NewLatencyProxy(m.URL, 0)
	if err != nil {
		return s, err
	}
	defer proxy.Close()
	table, err := l.newTable("memory")
	if err != nil {
		return s, err
	}
	env := l.functionEnv(proxy.URL(), table, l.secretPrefix("memory"))
	evs, err := l.createEvents("http-create-pat.json")
	if err != nil {
		return s, err
	}
	f, err := rie.Start(ctx, rieBin, bin, env)
	if err != nil {
		return s, err
	}
	defer f.Stop()
	invoke := func(i int) error {
		out, err := f.Invoke(ctx, evs.Event(i))
		if err != nil {
			return fmt.Errorf("create %d: %w", i, err)
		}
		if err := benchkit.CheckCreated(out); err != nil {
			return fmt.Errorf("create %d: %w", i, err)
		}
		return nil
	}
	if err := invoke(0); err != nil {
		return s, fmt.Errorf("%w\nlogs:\n%s", err, f.Logs())
	}
	pid, err := benchkit.FindChild(f.Pid(), bin)
	if err != nil {
		return s, err
	}
	first, err := benchkit.ReadMemory(pid)
	if err != nil {
		return s, err
	}
	cpu0, err := benchkit.CPUTime(pid)
	if err != nil {
		return s, err
	}
	proxy.Reset()
	start := time.Now()
	for i := 1; i <= l.opts.memCreates; i++ {
		if err := invoke(i); err != nil {
			return s, err
		}
	}
	wall := time.Since(start)
	proxy.Quiesce(5 * time.Second)
	ops := map[string]float64{}
	for _, c := range proxy.Calls() {
		ops[c.Operation] += 1 / float64(l.opts.memCreates)
	}
	last, err := benchkit.ReadMemory(pid)
	if err != nil {
		return s, err
	}
	cpu1, err := benchkit.CPUTime(pid)
	if err != nil {
		return s, err
	}
	n := l.opts.memCreates
	cpuPer := float64(cpu1-cpu0) / float64(n) / float64(time.Microsecond)

	s.printf("The bootstrap built for this machine (linux/%s, Lambda flags) under the emulator, against moto (behind a keep-alive proxy without latency) and the fake workspace (no delay), PAT creates sent as HTTP API events one after another. Memory from /proc/<bootstrap pid>/status. The arm64 build's figures differ a little.\n\n", hostArch())
	s.printf("| | VmRSS | VmHWM (peak) |\n|---|---:|---:|\n")
	s.printf("| after the first create | %s | %s |\n", fmtMiB(first.RSS), fmtMiB(first.Peak))
	s.printf("| after %d more creates | %s | %s |\n\n", n, fmtMiB(last.RSS), fmtMiB(last.Peak))
	s.printf("The bootstrap's own CPU time (utime + stime, all threads, 10 ms resolution) over the %d creates: %s, %.0f µs per create — the handler plus the AWS SDK (signing, serialisation, HTTP), the Databricks SDK and TLS to the workspace, logging, and the Lambda runtime loop. Wall time %s, %.1f ms per create through the emulator. AWS calls per create: %s.\n\n",
		n, (cpu1 - cpu0).Round(time.Millisecond), cpuPer, wall.Round(time.Millisecond), float64(wall)/float64(n)/float64(time.Millisecond), fmtOps(ops))

	// For scale: the reference after one invoke.
	refPeak, err := referencePeak(ctx, l, rieBin, env)
	if err != nil {
		s.printf("The reference's peak RSS could not be read: %s\n\n", firstLine(err.Error()))
	} else {
		s.printf("For scale, the reference's peak RSS after one invoke: %s.\n\n", fmtMiB(refPeak))
	}

	s.target(fmt.Sprintf("Peak RSS after %d creates (linux/%s bootstrap under the emulator)", n, hostArch()), fmt.Sprintf("%s (after the first create %s)", fmtMiB(last.Peak), fmtMiB(first.Peak)), "≤ 64 MB (64 MiB, as Lambda counts)", last.Peak <= rssTarget)
	s.info("Bootstrap CPU per create, end to end (real SDKs, no latency)", fmt.Sprintf("%.0f µs", cpuPer))
	return s, nil
}

func fmtMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/mib) }

// referencePeak runs the reference bootstrap under the emulator, invokes it
// once and returns its peak RSS.
func referencePeak(ctx context.Context, l *lab, rieBin string, env map[string]string) (int64, error) {
	bin, err := l.hostBuild(fnReference)
	if err != nil {
		return 0, err
	}
	f, err := rie.Start(ctx, rieBin, bin, env)
	if err != nil {
		return 0, err
	}
	defer f.Stop()
	if _, err := f.Invoke(ctx, []byte("{}")); err != nil {
		return 0, err
	}
	pid, err := benchkit.FindChild(f.Pid(), bin)
	if err != nil {
		return 0, err
	}
	m, err := benchkit.ReadMemory(pid)
	return m.Peak, err
}
