package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
)

// zipTarget is the deployment zip size target, in bytes.
const zipTarget = 7 * mb

// measureSize builds both functions for linux/arm64 as deployed and zips
// them.
func measureSize(l *lab) (*section, error) {
	s := &section{}
	var bins, zips [2]int64
	for i, pkg := range []string{fnReal, fnReference} {
		bin, err := l.build(pkg, "arm64")
		if err != nil {
			return s, err
		}
		fi, err := os.Stat(bin)
		if err != nil {
			return s, err
		}
		bins[i] = fi.Size()
		if zips[i], err = benchkit.ZipBootstrap(bin, filepath.Join(filepath.Dir(bin), "function.zip")); err != nil {
			return s, err
		}
	}
	mbs := func(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/mb) }
	s.printf("linux/arm64, `CGO_ENABLED=0 go build %s`; the zip holds `bootstrap` alone (deflate, mode 0755). MB = 10⁶ bytes.\n\n", strings.ReplaceAll(strings.Join(benchkit.LambdaBuildFlags, " "), "-s -w", `"-s -w"`))
	s.printf("| Function | bootstrap | deployment zip |\n|---|---:|---:|\n")
	s.printf("| create-storage | %s | %s |\n| reference | %s | %s |\n", mbs(bins[0]), mbs(zips[0]), mbs(bins[1]), mbs(zips[1]))
	s.printf("| ratio | %.2f× | %.2f× |\n", float64(bins[0])/float64(bins[1]), float64(zips[0])/float64(zips[1]))
	s.target("Deployment zip (linux/arm64)", fmt.Sprintf("%s (%.2f× the reference's %s)", mbs(zips[0]), float64(zips[0])/float64(zips[1]), mbs(zips[1])), "≤ 7 MB", zips[0] <= zipTarget)
	return s, nil
}
