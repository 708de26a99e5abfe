package benchkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FindChild returns the pid of a child of ppid whose executable is exe.
func FindChild(ppid int, exe string) (int, error) {
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		want = exe
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if fields, err := statFields(pid); err != nil || fields[1] != strconv.Itoa(ppid) {
			continue
		}
		if got, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && got == want {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child of pid %d runs %s", ppid, exe)
}

// Usage returns the user plus system CPU time pid has used (all threads, at
// a resolution of 10 ms: USER_HZ is 100 wherever Go runs) and its peak
// resident set size (VmHWM) in bytes.
func Usage(pid int) (cpu time.Duration, peakRSS int64, err error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, 0, err
	}
	for _, f := range fields[11:13] { // utime, stime
		ticks, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		cpu += time.Duration(ticks) * time.Second / 100
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	m := regexp.MustCompile(`(?m)^VmHWM:\s*(\d+) kB$`).FindSubmatch(status)
	if m == nil {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
	}
	kb, err := strconv.ParseInt(string(m[1]), 10, 64)
	return cpu, kb << 10, err
}

// statFields returns the fields of /proc/<pid>/stat after the command name:
// [0] is the state (field 3), [1] the ppid, [11] utime, [12] stime.
func statFields(pid int) ([]string, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(raw, ')')
	fields := strings.Fields(string(raw[i+1:]))
	if i < 0 || len(fields) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return fields, nil
}
