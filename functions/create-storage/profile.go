//go:build benchprofile

// Built only with -tags benchprofile, to profile the bootstrap where it
// runs, under the Lambda emulator (internal/rie passes the environment
// on): with BENCH_CPUPROFILE=<file> it writes a CPU profile of its first
// BENCH_CPUPROFILE_SECONDS (default 20), for `go tool pprof`. This is how
// the CPU per create in BENCHMARKS.md was taken apart.
package main

import (
	"os"
	"runtime/pprof"
	"strconv"
	"time"
)

func init() {
	path := os.Getenv("BENCH_CPUPROFILE")
	if path == "" {
		return
	}
	secs, err := strconv.Atoi(os.Getenv("BENCH_CPUPROFILE_SECONDS"))
	if err != nil || secs <= 0 {
		secs = 20
	}
	f, err := os.Create(path)
	if err != nil || pprof.StartCPUProfile(f) != nil {
		return
	}
	time.AfterFunc(time.Duration(secs)*time.Second, func() { pprof.StopCPUProfile(); f.Close() })
}
