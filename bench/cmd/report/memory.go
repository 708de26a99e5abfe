package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/rie"
)

// rssTarget is the largest accepted peak RSS, in bytes (64 MiB, Lambda's
// memory unit).
const rssTarget = 64 * mib

// memRun is one bootstrap under the emulator with one Go runtime setting.
type memRun struct {
	setting  benchkit.GoSetting
	deployed bool

	f     *rie.Function
	proxy *benchkit.LatencyProxy
	pid   int

	first, last benchkit.Memory
	cpu0, cpu   time.Duration
	wall        time.Duration
	// gcs and gcCPU are the collections during the measured creates and
	// their CPU time (gctrace); gcs0 and gcCPU0 those up to the first.
	gcs0, gcs     int
	gcCPU0, gcCPU time.Duration
	ops           map[string]float64
}

// perCreate is d per create, in microseconds.
func perCreate(d time.Duration, n int) float64 {
	return float64(d) / float64(n) / float64(time.Microsecond)
}

func (r *memRun) cpuPer(n int) float64 { return perCreate(r.cpu, n) }

func (r *memRun) name() string {
	if r.deployed {
		return r.setting.String() + " (template.yaml)"
	}
	return r.setting.String()
}

// measureMemory runs the real bootstrap under the emulator against moto and
// the fake workspace, once per Go runtime setting (the Go defaults, the
// deployed one, the -gc-candidates), the instances side by side: one create
// each, then -memory-creates more each, interleaved create by create in a
// rotating order, so that whatever else the machine does weighs on every
// setting alike. It reads each bootstrap's peak RSS (VmHWM) and CPU time
// from /proc and its collections and their CPU time from
// GODEBUG=gctrace=1.
func measureMemory(ctx context.Context, l *lab) (*section, error) {
	s := &section{}
	tmplPath := filepath.Join(l.root, "template.yaml")
	tmplEnv, err := benchkit.TemplateEnv(tmplPath, "CreateStorageFunction")
	if err != nil {
		return s, fmt.Errorf("read the deployed Go setting: %w", err)
	}
	if tmpl := benchkit.GoSettingOf(tmplEnv); !tmpl.Equal(deployedGo) {
		return s, fmt.Errorf("template.yaml gives CreateStorageFunction %s but deployedGoSetting in bench/cmd/report/gosetting.go says %s: make them agree", tmpl, deployedGo)
	}
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
	evs, err := l.createEvents("http-create-pat.json")
	if err != nil {
		return s, err
	}

	// The Go defaults first, then the deployed setting, then the candidates.
	var runs []*memRun
	add := func(g benchkit.GoSetting) {
		for _, r := range runs {
			if r.setting.Equal(g) {
				return
			}
		}
		runs = append(runs, &memRun{setting: g, deployed: g.Equal(deployedGo)})
	}
	add(benchkit.GoSetting{})
	add(deployedGo)
	for _, g := range l.opts.gcCandidates {
		add(g)
	}
	defer func() {
		for _, r := range runs {
			if r.f != nil {
				r.f.Stop()
			}
			if r.proxy != nil {
				r.proxy.Close()
			}
		}
	}()

	invoke := func(r *memRun, i int) error {
		out, err := r.f.Invoke(ctx, evs.Event(i))
		if err == nil {
			err = benchkit.CheckCreated(out)
		}
		if err != nil {
			return fmt.Errorf("%s: create %d: %w", r.setting, i, err)
		}
		return nil
	}
	for i, r := range runs {
		// moto closes every connection after one answer; a proxy that keeps
		// them alive (and adds no latency) lets the function reuse its
		// connections as it does with AWS, so its CPU time is not spent
		// dialing.
		if r.proxy, err = benchkit.NewLatencyProxy(m.URL, 0); err != nil {
			return s, err
		}
		table, err := l.newTable("memory")
		if err != nil {
			return s, err
		}
		env := l.functionEnv(r.proxy.URL(), table, l.secretPrefix("memory"))
		// The setting goes to the bootstrap alone, through a wrapper script
		// that execs it; the emulator runs with the Go defaults.
		for _, k := range benchkit.GoRuntimeVars {
			delete(env, k)
		}
		wrapper := filepath.Join(l.work, fmt.Sprintf("memory-%d.sh", i))
		if err := benchkit.WriteGoSettingWrapper(wrapper, bin, r.setting); err != nil {
			return s, err
		}
		if r.f, err = rie.Start(ctx, rieBin, wrapper, env); err != nil {
			return s, err
		}
		if err := invoke(r, 0); err != nil {
			return s, fmt.Errorf("%w\nlogs:\n%s", err, benchkit.Truncate(r.f.Logs(), 4000))
		}
		if r.pid, err = benchkit.FindChild(r.f.Pid(), bin); err != nil {
			return s, err
		}
		if r.first, err = benchkit.ReadMemory(r.pid); err != nil {
			return s, err
		}
		r.proxy.Reset()
	}
	for _, r := range runs {
		r.gcs0, r.gcCPU0 = settledGCTrace(r.f)
		if r.cpu0, err = benchkit.CPUTime(r.pid); err != nil {
			return s, err
		}
	}

	n := l.opts.memCreates
	for i := 1; i <= n; i++ {
		for j := range runs {
			r := runs[(i+j)%len(runs)]
			start := time.Now()
			if err := invoke(r, i); err != nil {
				return s, err
			}
			r.wall += time.Since(start)
		}
	}
	for _, r := range runs {
		cpu1, err := benchkit.CPUTime(r.pid)
		if err != nil {
			return s, err
		}
		r.cpu = cpu1 - r.cpu0
	}
	for _, r := range runs {
		r.proxy.Quiesce(5 * time.Second)
		r.ops = map[string]float64{}
		for _, c := range r.proxy.Calls() {
			r.ops[c.Operation] += 1 / float64(n)
		}
		if r.last, err = benchkit.ReadMemory(r.pid); err != nil {
			return s, err
		}
		gcs, gcCPU := settledGCTrace(r.f)
		r.gcs, r.gcCPU = gcs-r.gcs0, gcCPU-r.gcCPU0
	}

	var base, dep *memRun
	for _, r := range runs {
		if len(r.setting) == 0 {
			base = r
		}
		if r.deployed {
			dep = r
		}
	}

	s.printf("The bootstrap built for this machine (linux/%s, Lambda flags) under the emulator, against moto (behind a keep-alive proxy without latency) and the fake workspace (no delay), PAT creates sent as HTTP API events one after another. One instance per Go runtime setting, side by side: a first create each, then %d more each, interleaved create by create in a rotating order, so that whatever else the machine does weighs on every setting alike. Memory from /proc/<bootstrap pid>/status; CPU time from /proc/<bootstrap pid>/stat (utime + stime, all threads, 10 ms resolution) over the measured creates. The setting reaches the bootstrap alone, through a wrapper script that execs it with the variables set and `GODEBUG=gctrace=1` added; the collections and their CPU time (the trace's `ms cpu`: stop-the-world phases times GOMAXPROCS, assist, background and idle marking) come from its lines. The arm64 build's figures differ a little.\n\n",
		hostArch(), n)
	s.printf("**Deployed setting:** CreateStorageFunction runs with **%s**; `deployedGoSetting` in bench/cmd/report/gosetting.go mirrors the template, and this section checks that the two agree. Its row is the headline of this section and of the summary; section 2's cold starts run with it too, while sections 3 and 4 run the handler in-process under Go's defaults.\n\n", deployedDescription())
	s.printf("| Go runtime setting | CPU per create | vs Go defaults | of which GC (gctrace) | GCs in %d creates | peak RSS (VmHWM) after %d creates | after the first create | VmRSS at the end | wall per create | GCs (GC CPU) from start to the end of the first create |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", n, n)
	for _, r := range runs {
		name := r.name()
		if r.deployed {
			name = "**" + name + "**"
		}
		s.printf("| %s | %.0f µs | %s | %.0f µs | %d | %s | %s | %s | %.1f ms | %d (%.1f ms) |\n", name, r.cpuPer(n), fmtDelta(r.cpuPer(n), base.cpuPer(n)), perCreate(r.gcCPU, n), r.gcs,
			fmtMiB(r.last.Peak), fmtMiB(r.first.Peak), fmtMiB(r.last.RSS), float64(r.wall)/float64(n)/float64(time.Millisecond), r.gcs0, float64(r.gcCPU0)/float64(time.Millisecond))
	}
	s.printf("\nCPU per create is the bootstrap's own: the handler plus the AWS SDK (signing, serialisation, HTTP), the Databricks SDK and TLS to the workspace, logging, the Lambda runtime loop, and the garbage collector. GOGC=X lets the heap grow to (1 + X/100) times what the last collection left live before the next one (default 100); GOMEMLIMIT is a soft limit on the Go runtime's memory at which it collects whatever GOGC says, a guard well below the function's 128 MB should the live heap ever grow. AWS calls per create (%s): %s. Wall time is through the emulator, per create.\n\n",
		dep.setting, fmtOps(dep.ops))
	s.printf("%s\n\n", gcVerdict(runs, base, dep, n))
	s.printf("The last column counts the collections from the process's start (INIT included) to the end of the first create, with their CPU time; a larger GOGC avoids them as well, but their marking runs mostly beside the program on the second core, and section 2 measures INIT with the deployed setting only.\n\n")

	// For scale: the reference after one invoke, in the environment the
	// deployed function gets.
	refEnv := l.functionEnv(runs[0].proxy.URL(), "unused", l.secretPrefix("memory"))
	refPeak, err := referencePeak(ctx, l, rieBin, refEnv)
	if err != nil {
		s.printf("The reference's peak RSS could not be read: %s\n\n", firstLine(err.Error()))
	} else {
		s.printf("For scale, the reference's peak RSS after one invoke: %s.\n\n", fmtMiB(refPeak))
	}

	s.target(fmt.Sprintf("Peak RSS after %d creates (linux/%s bootstrap under the emulator, %s)", n, hostArch(), deployedDescription()), fmt.Sprintf("%s (after the first create %s)", fmtMiB(dep.last.Peak), fmtMiB(dep.first.Peak)), "≤ 64 MB (64 MiB, as Lambda counts)", dep.last.Peak <= rssTarget)
	var others []string
	for _, r := range runs {
		if r != dep {
			others = append(others, fmt.Sprintf("%s %.0f µs (%s; GC %.0f µs; peak %s)", r.setting, r.cpuPer(n), fmtDelta(r.cpuPer(n), base.cpuPer(n)), perCreate(r.gcCPU, n), fmtMiB(r.last.Peak)))
		}
	}
	s.info(fmt.Sprintf("Bootstrap CPU per create, end to end (real SDKs, no latency; %s)", deployedDescription()),
		fmt.Sprintf("%.0f µs, of which GC %.0f µs (%d GCs in %d creates); side by side: %s", dep.cpuPer(n), perCreate(dep.gcCPU, n), dep.gcs, n, strings.Join(others, "; ")))
	return s, nil
}

// deployedDescription names the deployed Go setting for the report.
func deployedDescription() string {
	if len(deployedGo) == 0 {
		return "Go defaults (template.yaml sets no GOGC, GOMEMLIMIT)"
	}
	return deployedGo.String() + " (template.yaml)"
}

// gcVerdict compares the candidates with the Go defaults, with the rule the
// deployed setting was chosen by: a setting other than the defaults is worth
// deploying when it saves more than 10 % of the CPU per create and its peak
// RSS stays comfortably (a quarter) below the 64 MiB target.
func gcVerdict(runs []*memRun, base, dep *memRun, n int) string {
	const minSaving, rssRoom = 0.10, 0.75
	var b strings.Builder
	fmt.Fprintf(&b, "Rule for deploying a setting other than Go's defaults: it takes more than %.0f %% off the CPU per create and keeps the peak RSS below %s (three quarters of the 64 MiB target). In this run:", minSaving*100, fmtMiB(int64(rssRoom*rssTarget)))
	for _, r := range runs {
		if r == base {
			continue
		}
		saving := 1 - r.cpuPer(n)/base.cpuPer(n)
		ok := saving > minSaving && float64(r.last.Peak) < rssRoom*rssTarget
		verdict := "does not meet it"
		if ok {
			verdict = "meets it"
		}
		fmt.Fprintf(&b, " %s %s (%s CPU, peak %s);", r.setting, verdict, fmtDelta(r.cpuPer(n), base.cpuPer(n)), fmtMiB(r.last.Peak))
	}
	out := strings.TrimSuffix(b.String(), ";") + "."
	out += fmt.Sprintf(" At the Go defaults the collector's own CPU is %.0f µs of the %.0f µs per create (%.0f %%): that, and the sweeping and write barriers that come with it, is all a GC setting can take off, and a larger heap costs more page faults in return.",
		perCreate(base.gcCPU, n), base.cpuPer(n), 100*float64(base.gcCPU)/float64(base.cpu))
	if dep == base {
		out += " The template keeps Go's defaults."
	} else {
		out += fmt.Sprintf(" The template uses %s.", dep.setting)
	}
	return out
}

// fmtDelta is x relative to base, e.g. "−12.3 %".
func fmtDelta(x, base float64) string {
	if base == 0 {
		return "—"
	}
	d := (x/base - 1) * 100
	if d < 0 {
		return fmt.Sprintf("−%.1f %%", -d)
	}
	return fmt.Sprintf("+%.1f %%", d)
}

// settledGCTrace waits until the collections f's bootstrap reported stop
// changing for a moment (the emulator forwards its output asynchronously)
// and returns their count and CPU time (benchkit.GCTrace).
func settledGCTrace(f *rie.Function) (int, time.Duration) {
	n, cpu := benchkit.GCTrace(f.Logs())
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m, c := benchkit.GCTrace(f.Logs())
		if m == n {
			return n, cpu
		}
		n, cpu = m, c
	}
	return n, cpu
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
