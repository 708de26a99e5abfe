package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/localenv"
	"github.com/lsdbx/databricks-storage/internal/rie"
)

func main() {
	n := flag.Int("n", 1000, "")
	bins := flag.String("bins", "/tmp/bs", "comma-separated; name ending in ref gets REFERENCE_CALLS")
	ev := flag.String("ev", "http-create-pat.json", "")
	flag.Parse()
	ctx := context.Background()
	env, err := localenv.Start(ctx, localenv.Options{Table: "bench", SecretPrefix: "bench/", OwnAWS: true})
	if err != nil {
		panic(err)
	}
	defer env.Close()
	root, _ := os.Getwd()
	evs, _ := benchkit.LoadCreateEvents(filepath.Join(root, "events", *ev), env.WorkspaceURL(), env.Token)
	proxy, _ := benchkit.NewLatencyProxy(env.Endpoint)
	rb, _ := rie.FindBinary(root)
	type inst struct {
		bin string
		f   *rie.Function
		pid int
		c0  time.Duration
	}
	var insts []*inst
	for i, bin := range strings.Split(*bins, ",") {
		vars := env.Vars()
		vars["AWS_ENDPOINT_URL"] = proxy.URL()
		vars["AWS_LAMBDA_LOG_LEVEL"] = "INFO"
		if p := os.Getenv("PROF"); p != "" {
			vars["BENCH_CPUPROFILE"] = fmt.Sprintf("%s.%d", p, i)
			vars["BENCH_CPUPROFILE_SECONDS"] = "12"
		}
		if strings.HasSuffix(bin, "ref") {
			vars["REFERENCE_CALLS"] = "1"
		}
		f, err := rie.Start(ctx, rb, bin, vars)
		if err != nil {
			panic(err)
		}
		defer f.Stop()
		f.Invoke(ctx, evs.Event(0))
		pid, _ := benchkit.FindChild(f.Pid(), bin)
		c0, _, _ := benchkit.Usage(pid)
		insts = append(insts, &inst{bin, f, pid, c0})
	}
	for i := 1; i <= *n; i++ {
		for _, in := range insts {
			out, err := in.f.Invoke(ctx, evs.Event(i))
			if err == nil {
				err = benchkit.CheckCreated(out)
			}
			if err != nil {
				panic(err)
			}
		}
	}
	for _, in := range insts {
		c1, _, _ := benchkit.Usage(in.pid)
		fmt.Println(in.bin, "cpu per invoke", (c1-in.c0)/time.Duration(*n))
	}
}
