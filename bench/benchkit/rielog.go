package benchkit

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// WaitForInit returns the INIT duration, in milliseconds, from the
// emulator's "INIT REPORT(durationMs: …)" line, polling logs
// (rie.Function.Logs) for up to timeout: the emulator writes it a moment
// after the invoke's answer. (Its REPORT line's "Init Duration" is
// meaningless.)
func WaitForInit(logs func() string, timeout time.Duration) (float64, error) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(5 * time.Millisecond) {
		if m := initReportRE.FindStringSubmatch(logs()); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no INIT REPORT in the emulator's logs:\n%s", Truncate(logs(), 4000))
		}
	}
}

var reportRE = regexp.MustCompile(`(?m)^REPORT RequestId: .*\tDuration: ([0-9.]+) ms`)

// WaitForReports returns the Duration, in milliseconds, of the emulator's
// first n "REPORT RequestId: …" lines (one per invoke), polling logs for up
// to timeout.
func WaitForReports(logs func() string, n int, timeout time.Duration) ([]float64, error) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(5 * time.Millisecond) {
		if m := reportRE.FindAllStringSubmatch(logs(), -1); len(m) >= n {
			ds := make([]float64, n)
			for i := range ds {
				ds[i], _ = strconv.ParseFloat(m[i][1], 64)
			}
			return ds, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("fewer than %d REPORT lines in the emulator's logs:\n%s", n, Truncate(logs(), 4000))
		}
	}
}
