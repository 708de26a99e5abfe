// Command report measures the create-storage Lambda beside a reference
// Lambda (bench/reference) and writes BENCHMARKS.md; `make bench` runs it
// from the module root. Sections: 1. deployment zip size and what it is
// made of; 2. cold start (the emulator's INIT duration over fresh starts);
// 3. the critical path of a warm create in-process against moto behind a
// per-service latency proxy, per auth mode, beside today's design; 4. CPU
// and memory per create under the emulator beside a reference making the
// same AWS calls; 5. Lambda's CPU share per memory size (cgroup quotas):
// INIT, warm creates and cost; 6. in Label Studio mode, a cold and a warm
// verification of a caller beside one plain Label Studio round trip. AWS, the fake workspace, the table and the
// token come from package localenv.
//
// A section that cannot be measured says so in the report, which is still
// written, and the command exits with status 1; a slow figure never fails
// it. No figure comes from a create that did not answer 201.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
)

type options struct {
	out, only                      string
	starts, creates                int
	cpuCreates, quotaCreates       int
	lsSamples                      int
	syncSizes                      string
	ddbLatency, smLatency, wsDelay time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "the report to write")
	flag.StringVar(&o.only, "only", "", "measure only these sections, e.g. 3,4 (while developing)")
	flag.IntVar(&o.starts, "starts", 20, "fresh starts per function for the cold start")
	flag.IntVar(&o.creates, "creates", 100, "sequential creates measured for the critical path, per auth mode and design")
	flag.IntVar(&o.cpuCreates, "cpu-creates", 1000, "creates (and reference invokes) for CPU and memory per create")
	flag.IntVar(&o.quotaCreates, "quota-creates", 45, "warm creates per memory size under its CPU quota")
	flag.IntVar(&o.lsSamples, "ls-samples", 50, "samples per kind of Label Studio verification")
	flag.StringVar(&o.syncSizes, "sync-files", "1000,10000", "files per sync, comma-separated (section 8)")
	flag.DurationVar(&o.ddbLatency, "dynamodb-latency", 10*time.Millisecond, "latency the proxy adds to every DynamoDB call")
	flag.DurationVar(&o.smLatency, "secrets-latency", 40*time.Millisecond, "latency the proxy adds to every Secrets Manager call")
	flag.DurationVar(&o.wsDelay, "workspace-delay", 30*time.Millisecond, "delay the fake workspace adds to every request")
	flag.Parse()
	if o.starts < 1 || o.creates < 1 || o.cpuCreates < 1 || o.quotaCreates < 1 || o.lsSamples < 1 {
		fmt.Fprintln(os.Stderr, "report: -starts, -creates, -cpu-creates and -quota-creates and -ls-samples must be positive")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return errors.New("run from the module root (make bench does)")
	}
	work, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	l := &lab{ctx: ctx, opts: o, root: root, work: work, builds: map[string]string{}}
	// The local environment (its own moto, the fake workspace, the table, a
	// token), exported for the in-process service; sections 2–4 need it.
	if l.env, l.envErr = localenv.Start(ctx, localenv.Options{Table: "bench", SecretPrefix: "bench/", OwnAWS: true}); l.envErr == nil {
		defer l.env.Close()
		l.env.Export()
		for _, mode := range authModes {
			ev, err := benchkit.LoadCreateEvents(filepath.Join(root, "events", "http-create-"+mode+".json"), l.env.WorkspaceURL(), l.env.Token)
			l.evs, l.envErr = append(l.evs, ev), errors.Join(l.envErr, err)
		}
	}

	defer func() {
		if l.ls != nil {
			l.ls.Stop()
		}
		if l.s3 != nil {
			l.s3.Close()
		}
	}()

	r := &report{began: began, opts: o, header: describeMachine(ctx, root)}
	var failed []string
	for _, s := range []struct {
		title string
		run   func(*lab) (*section, error)
	}{
		{"1. Artifact size", measureSize},
		{"2. Cold start", measureColdStart},
		{"3. Critical path of a warm create", measureCriticalPath},
		{"4. CPU and memory per create", measurePerCreate},
		{"5. Lambda's CPU share by memory size", measureQuotas},
		{"6. Label Studio mode: verifying a caller", measureLabelStudio},
		{"7. File route: time to first byte and throughput", measureFileRoute},
		{"8. Sync: files per second beside Label Studio's own S3 sync and the bulk-import floor", measureSync},
		{"9. Export: annotations per second from Label Studio's save to the file in the volume", measureExport},
	} {
		if o.only != "" && !slices.Contains(strings.Split(o.only, ","), s.title[:1]) {
			continue
		}
		logf("%s …", s.title)
		sec, err := s.run(l)
		if sec == nil {
			sec = &section{}
		}
		sec.title, sec.err = s.title, err
		if err != nil {
			logf("%s NOT MEASURED: %v", s.title, err)
			failed = append(failed, s.title)
		}
		r.sections = append(r.sections, sec)
	}
	r.took = time.Since(began)
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %s", o.out, r.took.Round(time.Second))
	fmt.Print("\n" + r.summary())
	if len(failed) > 0 {
		return fmt.Errorf("could not measure: %s (see %s)", strings.Join(failed, "; "), o.out)
	}
	return nil
}

// Functions measured, by main package.
const (
	fnReal         = "./functions/create-storage"
	fnReference    = "./bench/reference"
	fnReferenceDBX = "./bench/reference/dbx"
)

var (
	functions = []string{fnReal, fnReference, fnReferenceDBX}
	names     = map[string]string{fnReal: "create-storage", fnReference: "reference (AWS clients)", fnReferenceDBX: "reference (AWS clients + Databricks SDK)"}
	// authModes name the events events/http-create-<mode>.json.
	authModes = []string{"pat", "dbx-sp", "azure-ad-sp"}
)

// lab is what the sections share: the builds (each made on first use) and
// the local environment.
type lab struct {
	ctx        context.Context
	opts       options
	root, work string
	builds     map[string]string

	env    *localenv.Env
	evs    []*benchkit.CreateEvents // creates for env, by auth mode (authModes)
	envErr error
	seq    int // the last request id sent

	// Label Studio, started on first need (labelStudio).
	ls        *devls.Server
	lsProject int64
	lsErr     error
	lsTried   bool
	// s3 is a counting proxy in front of moto's S3, Label Studio's
	// S3_ENDPOINT (section 8).
	s3 *countingProxy
}

// build compiles pkg as the Lambda is built, for linux/goarch, once.
func (l *lab) build(pkg, goarch string) (string, error) {
	key := goarch + pkg
	if out, ok := l.builds[key]; ok {
		return out, nil
	}
	out := filepath.Join(l.work, goarch, strings.ReplaceAll(strings.TrimPrefix(pkg, "./"), "/", "-"), "bootstrap")
	logf("go build %s for linux/%s", pkg, goarch)
	if err := benchkit.Build(l.ctx, l.root, pkg, out, goarch); err != nil {
		return "", err
	}
	l.builds[key] = out
	return out, nil
}

// hostBuild is pkg built like the Lambda for this machine (linux), to run
// under the emulator.
func (l *lab) hostBuild(pkg string) (string, error) { return l.build(pkg, runtime.GOARCH) }

// functionEnv is the environment of a function under the emulator, its AWS
// endpoint endpoint.
func (l *lab) functionEnv(endpoint string) map[string]string {
	vars := l.env.Vars()
	vars["AWS_ENDPOINT_URL"] = endpoint
	vars["AWS_LAMBDA_LOG_LEVEL"] = "INFO"
	return vars
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
