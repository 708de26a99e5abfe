package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/dev/rie"
)

// rssTarget is the largest accepted peak RSS: 64 MiB, Lambda's memory unit.
const rssTarget = 64 * mib

// cpuTarget is the largest accepted ratio of a create's CPU to that of the
// reference making the same AWS calls.
const cpuTarget = 1.2

// instance is one bootstrap under the emulator.
type instance struct {
	name, pkg, bin string
	f              *rie.Function
	pid            int
	cpu0, cpu      time.Duration
	peak           int64
}

// measurePerCreate runs the real bootstrap and the reference making a
// create's AWS calls (REFERENCE_CALLS=1) under the emulator side by side,
// one invoke each, then -cpu-creates more each, interleaved, and reads
// their CPU time and peak RSS from /proc.
func measurePerCreate(l *lab) (*section, error) {
	s := &section{}
	rieBin, err := rie.FindBinary(l.root)
	if err != nil {
		return s, err
	}
	if l.envErr != nil {
		return s, l.envErr
	}
	// moto closes each connection after one answer; the proxy (without
	// latency) keeps them alive, as AWS does, so no CPU goes to dialing.
	proxy, err := benchkit.NewLatencyProxy(l.env.Endpoint)
	if err != nil {
		return s, err
	}
	defer proxy.Close()
	env := l.functionEnv(proxy.URL())
	insts := []*instance{{name: "create-storage", pkg: fnReal}, {name: "reference", pkg: fnReference}}
	invoke := func(in *instance, i int) error {
		out, err := in.f.Invoke(l.ctx, l.evs[0].Event(i))
		if err == nil {
			err = benchkit.CheckCreated(out)
		}
		if err != nil {
			return fmt.Errorf("%s, invoke %d: %w", in.name, i, err)
		}
		return nil
	}
	for _, in := range insts {
		if in.bin, err = l.hostBuild(in.pkg); err != nil {
			return s, err
		}
		if in.pkg == fnReference {
			env["REFERENCE_CALLS"] = "1"
		}
		if in.f, err = rie.Start(l.ctx, rieBin, in.bin, env); err != nil {
			return s, err
		}
		defer in.f.Stop()
		if err := invoke(in, 0); err != nil {
			return s, fmt.Errorf("%w\nlogs:\n%s", err, benchkit.Truncate(in.f.Logs(), 4000))
		}
		if in.pid, err = benchkit.FindChild(in.f.Pid(), in.bin); err != nil {
			return s, err
		}
		if in.cpu0, _, err = benchkit.Usage(in.pid); err != nil {
			return s, err
		}
	}
	n := l.opts.cpuCreates
	for i := 1; i <= n; i++ {
		for j := range insts {
			if err := invoke(insts[(i+j)%len(insts)], i); err != nil {
				return s, err
			}
		}
	}
	for _, in := range insts {
		if in.cpu, in.peak, err = benchkit.Usage(in.pid); err != nil {
			return s, err
		}
		in.cpu -= in.cpu0
	}
	real, ref := insts[0], insts[1]
	perInvoke := func(in *instance) float64 { return float64(in.cpu) / float64(n) / float64(time.Microsecond) }
	mibs := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/mib) }

	s.printf("The bootstrap and the reference (`bench/reference` with REFERENCE_CALLS=1: the same AWS clients making a create's AWS calls — CreateSecret, PutItem, an id-block UpdateItem every ID_BLOCK_SIZE invokes — and answering a fixed body), built for this machine (linux/%s) with the Lambda flags, each under its own emulator, in the same environment: AWS is moto behind a keep-alive proxy without latency, the workspace the fake one without delay. One invoke each (a PAT create), then %d more each, interleaved, so that whatever else the machine does weighs on both alike. CPU is utime + stime of the bootstrap process (all threads, 10 ms resolution) over those %d invokes, from /proc/<pid>/stat; memory is its peak RSS (VmHWM) at the end, from /proc/<pid>/status.\n\n", runtime.GOARCH, n, n)
	s.printf("| Function | CPU per invoke | peak RSS |\n|---|---:|---:|\n")
	for _, in := range insts {
		s.printf("| %s | %.0f µs | %s |\n", in.name, perInvoke(in), mibs(in.peak))
	}
	r := perInvoke(real) / perInvoke(ref)
	s.printf("\nBeyond the AWS calls, a create decodes the event, authenticates the caller, validates the request, checks the workspace through the Databricks SDK over TLS (HTTP/2), runs the check, the secret and the id beside one another, logs and answers: %.0f µs, %.2f× the reference. Both run with Go's default GOGC.\n", perInvoke(real)-perInvoke(ref), r)
	s.target("CPU per create vs the reference making the same AWS calls", fmt.Sprintf("%.2f× (%.0f µs vs %.0f µs)", r, perInvoke(real), perInvoke(ref)), "≤ 1.2×", r <= cpuTarget)
	s.target(fmt.Sprintf("Peak RSS after %d creates (linux/%s)", n+1, runtime.GOARCH), fmt.Sprintf("%s (reference %s)", mibs(real.peak), mibs(ref.peak)), "≤ 64 MiB", real.peak <= rssTarget)
	return s, nil
}
