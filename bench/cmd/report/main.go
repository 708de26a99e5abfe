// Command report measures the create-storage Lambda against the issue
// "Measure and minimise cold start, critical path, size and memory" and
// writes BENCHMARKS.md. `make bench` runs it from the module root:
//
//	go run ./bench/cmd/report [-out BENCHMARKS.md] [flags]
//
// It measures, in one run and side by side:
//
//  1. artifact size: the linux/arm64 bootstrap and its deployment zip, next
//     to the reference Lambda of bench/reference;
//  2. cold start: the INIT duration the Lambda Runtime Interface Emulator
//     reports for the real bootstrap and the reference, alternating, over
//     fresh starts;
//  3. the critical path of a warm create, in-process through the real
//     handler, against moto behind a latency-injecting proxy and the fake
//     Databricks workspace with a fixed delay, and the effect of each design
//     choice (id blocks, token cache, idempotency key, connection reuse)
//     measured side by side;
//  4. the handler's CPU and allocation cost (go test -bench ./bench/handler);
//  5. the peak RSS and CPU per create of the bootstrap under the emulator
//     over 1,000 creates, with the deployed Go runtime setting (GOGC,
//     GOMEMLIMIT) next to the Go defaults and candidate settings.
//
// Every section that cannot be measured says so in the report, which is
// still written; the command then exits with status 1. A create that does
// not answer 201 stops its section with the status and body: no number is
// ever reported from a failed request. Nothing here is a pass/fail test; the
// PASS/FAIL column compares the measurements with the targets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
)

// options are the command-line settings.
type options struct {
	out            string
	starts         int
	creates        int
	spCreates      int
	variantCreates int
	memCreates     int
	gcCandidates   []benchkit.GoSetting
	awsLatency     time.Duration
	wsDelay        time.Duration
	benchtime      string
	benchCount     int
	apiToken       string
	timeout        time.Duration
	keepWorkDir    bool
	skipProfile    bool
	only           string
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "the report to write")
	flag.IntVar(&o.starts, "starts", 20, "fresh starts per function for the cold start (at least 10)")
	flag.IntVar(&o.creates, "creates", 200, "sequential creates measured for the critical path (pat)")
	flag.IntVar(&o.spCreates, "sp-creates", 50, "sequential creates measured per service-principal auth mode")
	flag.IntVar(&o.variantCreates, "variant-creates", 80, "sequential creates measured per design variant (Effect of each design choice; 0 skips them)")
	flag.IntVar(&o.memCreates, "memory-creates", 1000, "creates sent to each bootstrap (one per Go runtime setting) before its peak RSS is read")
	gcCandidates := flag.String("gc-candidates", defaultGCCandidates, "Go runtime settings measured in section 5 next to the Go defaults and the deployed one, separated by \";\" (e.g. \"GOGC=200; GOGC=400 GOMEMLIMIT=90MiB\"; empty for none)")
	flag.DurationVar(&o.awsLatency, "aws-latency", 20*time.Millisecond, "latency L the proxy adds to every AWS call")
	flag.DurationVar(&o.wsDelay, "workspace-delay", 30*time.Millisecond, "delay V the fake workspace adds to every request")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime of the handler benchmark")
	flag.IntVar(&o.benchCount, "bench-count", 5, "go test -count of the handler benchmark")
	flag.StringVar(&o.apiToken, "api-token", benchkit.DefaultAPIToken, "the API key every event presents (Authorization: Token <key>)")
	flag.DurationVar(&o.timeout, "timeout", 9*time.Minute, "give up on whatever is still running after this long")
	flag.BoolVar(&o.keepWorkDir, "keep", false, "keep the work directory (binaries, zips, profile)")
	flag.BoolVar(&o.skipProfile, "no-profile", false, "skip the CPU profile of the handler benchmark")
	flag.StringVar(&o.only, "only", "", "measure only these sections, e.g. 2,3 (the report then lists the others as skipped)")
	flag.Parse()
	if o.starts < 10 {
		fmt.Fprintln(os.Stderr, "report: -starts must be at least 10")
		os.Exit(2)
	}
	var err error
	if o.gcCandidates, err = parseGoSettings(*gcCandidates); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	if o.keepWorkDir {
		logf("work directory: %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	l := newLab(ctx, o, root, work)
	defer l.close()

	r := &report{began: began, opts: o}
	r.header = describeMachine(root)
	for i, s := range []struct {
		title string
		run   func(context.Context, *lab) (*section, error)
	}{
		{"1. Artifact size", measureArtifacts},
		{"2. Cold start", measureColdStart},
		{"3. Critical path of a warm create", measureCriticalPath},
		{"4. Handler cost", measureHandler},
		{"5. Memory", measureMemory},
	} {
		if o.only != "" && !slices.Contains(strings.Split(o.only, ","), strconv.Itoa(i+1)) {
			r.sections = append(r.sections, &section{title: s.title, skipped: true})
			continue
		}
		logf("%s …", s.title)
		start := time.Now()
		sec, err := s.run(ctx, l)
		if sec == nil {
			sec = &section{}
		}
		sec.title = s.title
		sec.err = err
		sec.took = time.Since(start)
		if err != nil {
			logf("%s FAILED: %v", s.title, err)
		} else {
			logf("%s done in %s", s.title, sec.took.Round(time.Second/10))
		}
		r.sections = append(r.sections, sec)
	}
	r.took = time.Since(began)
	out := r.markdown()
	path := o.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %s", path, r.took.Round(time.Second))
	fmt.Print(r.summaryText())
	var failed []string
	for _, s := range r.sections {
		if s.err != nil && !s.skipped {
			failed = append(failed, s.title)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not measure: %s (see %s)", strings.Join(failed, "; "), o.out)
	}
	return nil
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("go.mod not found: run from the module")
		}
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// command runs name with args in dir and returns its trimmed output.
func command(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
