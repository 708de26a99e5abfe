package benchkit

import (
	"regexp"
	"strconv"
	"strings"
)

// PackageInit is one line of GODEBUG=inittrace=1 output: the
// initialisation of one package at program start.
type PackageInit struct {
	Package string
	// AtMS is when the init started, in milliseconds since the program
	// started; ClockMS how long it took.
	AtMS, ClockMS float64
	Bytes, Allocs int64
}

var initTraceRE = regexp.MustCompile(`(?m)^init (\S+) @([0-9.]+) ms, ([0-9.]+) ms clock, (\d+) bytes, (\d+) allocs`)

// ParseInitTrace returns the package inits that GODEBUG=inittrace=1 printed
// into the emulator's logs for the function, in order. The emulator is a Go
// program too and inherits GODEBUG: its own inits come before its
// "INIT START" line, the function's after it.
func ParseInitTrace(logs string) []PackageInit {
	if i := strings.Index(logs, "INIT START"); i >= 0 {
		logs = logs[i:]
	}
	var out []PackageInit
	for _, m := range initTraceRE.FindAllStringSubmatch(logs, -1) {
		at, _ := strconv.ParseFloat(m[2], 64)
		clock, _ := strconv.ParseFloat(m[3], 64)
		bytes, _ := strconv.ParseInt(m[4], 10, 64)
		allocs, _ := strconv.ParseInt(m[5], 10, 64)
		out = append(out, PackageInit{Package: m[1], AtMS: at, ClockMS: clock, Bytes: bytes, Allocs: allocs})
	}
	return out
}
