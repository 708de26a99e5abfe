package benchkit

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var (
	initReportRE   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	initDurationRE = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)
	invokeDoneRE   = regexp.MustCompile(`INVOKE RTDONE\(status: ([a-z]+),[^)]*duration: ([0-9.]+)ms\)`)
)

// InitDuration returns the INIT duration, in milliseconds, the Lambda
// Runtime Interface Emulator reports in logs after the first invoke: its
// "INIT REPORT(durationMs: ...)" line or, failing that, the "Init Duration"
// of the REPORT line. (This emulator's REPORT line prints a meaningless Init
// Duration next to a correct INIT REPORT, so INIT REPORT comes first.)
func InitDuration(logs string) (float64, error) {
	for _, re := range []*regexp.Regexp{initReportRE, initDurationRE} {
		if m := re.FindStringSubmatch(logs); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
	}
	return 0, fmt.Errorf("no INIT REPORT or Init Duration in the emulator's logs:\n%s", Truncate(logs, 4000))
}

// FirstInvokeDuration returns the duration, in milliseconds, of the first
// invocation after INIT, from the emulator's "INVOKE RTDONE" line.
func FirstInvokeDuration(logs string) (float64, error) {
	m := invokeDoneRE.FindStringSubmatch(logs)
	if m == nil {
		return 0, fmt.Errorf("no INVOKE RTDONE in the emulator's logs:\n%s", Truncate(logs, 4000))
	}
	if m[1] != "success" {
		return 0, fmt.Errorf("first invoke ended with status %s", m[1])
	}
	return strconv.ParseFloat(m[2], 64)
}

// WaitForLogs polls logs (e.g. rie.Function.Logs) until parse succeeds or
// timeout passes, and returns parse's last result: the emulator writes its
// report lines a moment after the invoke's answer.
func WaitForLogs(logs func() string, parse func(string) (float64, error), timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := parse(logs())
		if err == nil || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
