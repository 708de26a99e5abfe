package main

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/dev/rie"
)

// Lambda's arm64 price in us-east-1, first tier, and its memory per vCPU.
const (
	pricePerGBSecond  = 0.0000133334
	pricePerMillion   = 0.20
	memoryPerVCPU     = 1769
	quotaStartsPerRun = 3
)

var memorySizes = []int{128, 256, 512, 1024, 1769}

// measureQuotas runs the real bootstrap under the emulator with the CPU
// share Lambda gives each memory size (a cgroup v1 CFS quota) and reports
// INIT, warm create durations and the cost of a million creates.
func measureQuotas(l *lab) (*section, error) {
	s := &section{}
	rieBin, err := rie.FindBinary(l.root)
	if err != nil {
		return s, err
	}
	real, err := l.hostBuild(fnReal)
	if err != nil {
		return s, err
	}
	ref, err := l.hostBuild(fnReference)
	if err != nil {
		return s, err
	}
	if l.envErr != nil {
		return s, l.envErr
	}
	proxy, err := benchkit.NewLatencyProxy(l.env.Endpoint)
	if err != nil {
		return s, err
	}
	defer proxy.Close()
	proxy.SetDelays(map[string]time.Duration{svcDynamoDB: l.opts.ddbLatency, svcSecrets: l.opts.smLatency})
	l.env.Workspace.SetDelay(l.opts.wsDelay)
	defer l.env.Workspace.SetDelay(0)
	env := l.functionEnv(proxy.URL())
	warm := max(l.opts.quotaCreates/quotaStartsPerRun, 1)

	s.printf("The real bootstrap (built for this machine) under the emulator, in a cgroup v1 `cpu` group whose CFS quota is the share of one CPU Lambda gives the memory size (MemorySize / %d MB; 1,769 MB is one vCPU); the emulator, moto and the proxy run outside it. A wrapper script puts the bootstrap's process into the group before it execs, so INIT runs under the quota too. Per size, %d fresh starts, each a PAT create (INIT) and %d warm creates; AWS and the workspace are as far away as in the critical path (DynamoDB %s, Secrets Manager %s, workspace %s). AWS is plain HTTP here, so the TLS handshakes a fresh instance makes with DynamoDB and Secrets Manager, which a small CPU share slows most, are not in these figures. Durations are the emulator's `REPORT … Duration`, what Lambda bills; the cost of a million warm creates is their mean duration rounded up to 1 ms × memory × $%.10f per GB-s (arm64, us-east-1, first tier) plus $%.2f per million requests.\n\n", memoryPerVCPU, quotaStartsPerRun, warm, l.opts.ddbLatency, l.opts.smLatency, l.opts.wsDelay, pricePerGBSecond, pricePerMillion)
	s.printf("| MemorySize | CPU share | INIT median | warm p50 | warm p95 | billed mean | $ per million creates | GOMAXPROCS |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, size := range memorySizes {
		share := float64(size) / memoryPerVCPU
		q, err := benchkit.NewCPUQuota(fmt.Sprintf("lsdbx-bench-%d-%d", os.Getpid(), size), share)
		if err != nil {
			return s, fmt.Errorf("unmeasurable: %w", err)
		}
		row, err := quotaRun(l, rieBin, q, real, ref, env, warm)
		if rerr := q.Remove(); err == nil && rerr != nil {
			err = fmt.Errorf("remove cgroup %s: %w", q.Dir, rerr)
		}
		if err != nil {
			return s, fmt.Errorf("%d MB: %w", size, err)
		}
		w := benchkit.Summarize(row.warm)
		billed := 0.0
		for _, d := range row.warm {
			billed += math.Ceil(d) / float64(len(row.warm))
		}
		cost := 1e6*billed/1000*float64(size)/1024*pricePerGBSecond + pricePerMillion
		s.printf("| %d MB | %.3f | %s | %s | %s | %.0f ms | $%.2f | %s |\n", size, share, ms(benchkit.Summarize(row.init).Median), ms(w.Median), ms(w.P95), billed, cost, row.maxprocs)
		logf("quota %d MB: INIT %s, warm p50 %s p95 %s, $%.2f per million", size, ms(benchkit.Summarize(row.init).Median), ms(w.Median), ms(w.P95), cost)
	}
	tmpl, _ := os.ReadFile("template.yaml")
	chosen := "not found"
	if m := regexp.MustCompile(`(?m)^\s+MemorySize: (\d+)`).FindSubmatch(tmpl); m != nil {
		chosen = string(m[1]) + " MB"
	}
	s.printf("\nGOMAXPROCS is what the reference, started in the same group, reports: nobody sets it (Lambda does not), and Go sees this machine's %d CPUs; since Go 1.25 its default follows the cgroup's CPU limit, rounded up, but never below 2. template.yaml's MemorySize: %s (README.md says why).\n", runtime.NumCPU(), chosen)
	s.info("MemorySize in template.yaml (see the CPU share table)", chosen)
	return s, nil
}

type quotaRow struct {
	init, warm []float64
	maxprocs   string
}

func quotaRun(l *lab, rieBin string, q *benchkit.CPUQuota, real, ref string, env map[string]string, warm int) (*quotaRow, error) {
	row := &quotaRow{maxprocs: "?"}
	probe, err := q.Wrap(ref)
	if err != nil {
		return nil, err
	}
	f, err := rie.Start(l.ctx, rieBin, probe, env)
	if err != nil {
		return nil, err
	}
	_, err = f.Invoke(l.ctx, []byte("{}"))
	if m := regexp.MustCompile(`GOMAXPROCS=(\d+)`).FindStringSubmatch(f.Logs()); m != nil {
		row.maxprocs = m[1]
	}
	f.Stop()
	if err != nil {
		return nil, err
	}
	script, err := q.Wrap(real)
	if err != nil {
		return nil, err
	}
	for range quotaStartsPerRun {
		f, err := rie.Start(l.ctx, rieBin, script, env)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer f.Stop()
			for i := range 1 + warm {
				l.seq++
				out, err := f.Invoke(l.ctx, l.evs[0].Event(l.seq))
				if err == nil {
					err = benchkit.CheckCreated(out)
				}
				if err != nil {
					return fmt.Errorf("invoke %d: %w\nlogs:\n%s", i, err, benchkit.Truncate(f.Logs(), 4000))
				}
			}
			init, err := benchkit.WaitForInit(f.Logs, 2*time.Second)
			if err != nil {
				return err
			}
			durs, err := benchkit.WaitForReports(f.Logs, 1+warm, 2*time.Second)
			if err != nil {
				return err
			}
			row.init, row.warm = append(row.init, init), append(row.warm, durs[1:]...)
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	return row, nil
}
