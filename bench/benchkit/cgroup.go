package benchkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUCgroupRoot is the cgroup v1 cpu controller.
const CPUCgroupRoot = "/sys/fs/cgroup/cpu"

// CPUQuota is a cgroup v1 cpu controller group whose CFS quota gives its
// processes a share of one CPU, as Lambda gives a function a share of a
// vCPU in proportion to its memory.
type CPUQuota struct{ Dir string }

// NewCPUQuota creates the group name under CPUCgroupRoot with a quota of
// share × cpu.cfs_period_us.
func NewCPUQuota(name string, share float64) (*CPUQuota, error) {
	q := &CPUQuota{Dir: filepath.Join(CPUCgroupRoot, name)}
	raw, err := os.ReadFile(filepath.Join(CPUCgroupRoot, "cpu.cfs_period_us"))
	if err != nil {
		return nil, fmt.Errorf("no cgroup v1 cpu controller: %w", err)
	}
	period, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(q.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	quota := strconv.Itoa(max(int(float64(period)*share), 1000))
	if err := os.WriteFile(filepath.Join(q.Dir, "cpu.cfs_quota_us"), []byte(quota), 0o644); err != nil {
		q.Remove()
		return nil, fmt.Errorf("write cpu.cfs_quota_us: %w", err)
	}
	return q, nil
}

// Wrap writes next to bootstrap an executable that joins the group and
// then execs bootstrap, so that only the function (not the emulator that
// starts it) runs under the quota, from its first instruction on.
func (q *CPUQuota) Wrap(bootstrap string) (string, error) {
	script := filepath.Join(filepath.Dir(bootstrap), "in-"+filepath.Base(q.Dir))
	body := fmt.Sprintf("#!/bin/sh\necho $$ > %s/cgroup.procs || exit 1\nexec %s\n", q.Dir, bootstrap)
	return script, os.WriteFile(script, []byte(body), 0o755)
}

// Remove deletes the group once its processes are gone.
func (q *CPUQuota) Remove() error {
	var err error
	for range 50 {
		if err = os.Remove(q.Dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
