package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
)

// zipTarget is the deployment zip size target, in bytes.
const zipTarget = 7 * mb

// measureSize builds the three functions for linux/arm64 as deployed and
// zips them twice: as sam build/deploy does (Python's zipfile) and with Go's
// archive/zip; then it counts the real function's symbols by package
// against the Databricks-linked reference's.
func measureSize(l *lab) (*section, error) {
	s := &section{}
	mbs := func(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/mb) }
	s.printf("linux/arm64, `CGO_ENABLED=0 go build %s`. The SAM zip is what `sam build`/`sam deploy` upload: samcli's `make_zip` (Python's `zipfile`, `ZIP_DEFLATED` at zlib's default level), reproduced with `python3`; the Go zip is `archive/zip` at its default level. MB = 10⁶ bytes.\n\n", strings.ReplaceAll(strings.Join(benchkit.LambdaBuildFlags, " "), "-s -w", `"-s -w"`))
	s.printf("| Function | bootstrap | SAM zip | Go zip |\n|---|---:|---:|---:|\n")
	var samZip [3]int64
	for i, pkg := range functions {
		bin, err := l.build(pkg, "arm64")
		if err != nil {
			return s, err
		}
		fi, err := os.Stat(bin)
		if err != nil {
			return s, err
		}
		goZip, err := benchkit.ZipBootstrap(bin, filepath.Join(filepath.Dir(bin), "go.zip"))
		if err != nil {
			return s, err
		}
		if samZip[i], err = benchkit.PythonZip(l.ctx, bin, filepath.Join(filepath.Dir(bin), "sam.zip")); err != nil {
			return s, err
		}
		s.printf("| %s | %s | %s | %s |\n", names[pkg], mbs(fi.Size()), mbs(samZip[i]), mbs(goZip))
	}
	s.target("Deployment zip (linux/arm64, as SAM uploads it)", fmt.Sprintf("%s (reference with the Databricks SDK %s, AWS only %s)", mbs(samZip[0]), mbs(samZip[2]), mbs(samZip[1])), "≤ 7 MB", samZip[0] <= zipTarget)

	// Where the bytes are: symbols by package, from builds that keep the
	// symbol table (-ldflags=-w).
	var sizes [2]map[string]int64
	for i, pkg := range []string{fnReal, fnReferenceDBX} {
		bin := filepath.Join(l.work, "syms", filepath.Base(pkg))
		if err := benchkit.Build(l.ctx, l.root, pkg, bin, "arm64", "-w"); err != nil {
			return s, err
		}
		var err error
		if sizes[i], err = benchkit.SymbolSizes(l.ctx, bin); err != nil {
			return s, err
		}
	}
	group := func(m map[string]int64) map[string]int64 {
		g := map[string]int64{}
		for p, n := range m {
			g[benchkit.Module(p)] += n
		}
		return g
	}
	kb := func(n int64) string { return fmt.Sprintf("%.0f kB", float64(n)/1e3) }
	real, ref := group(sizes[0]), group(sizes[1])
	s.printf("\nSymbol bytes by module (`go tool nm -size` of the same builds without `-s`; the file's runtime tables — pclntab, type links — come on top). Against the reference that links the same Databricks SDK packages, the difference is what this service adds:\n\n")
	s.printf("| module | create-storage | reference (AWS + Databricks SDK) | difference |\n|---|---:|---:|---:|\n")
	for _, m := range slices.Sorted(maps.Keys(real)) {
		s.printf("| %s | %s | %s | %+.0f kB |\n", m, kb(real[m]), kb(ref[m]), float64(real[m]-ref[m])/1e3)
	}
	type diff struct {
		pkg string
		n   int64
	}
	var diffs []diff
	for p, n := range sizes[0] {
		diffs = append(diffs, diff{p, n - sizes[1][p]})
	}
	slices.SortFunc(diffs, func(a, b diff) int { return int(b.n - a.n) })
	s.printf("\nThe packages that add most: ")
	for i, d := range diffs[:min(12, len(diffs))] {
		if i > 0 {
			s.printf(", ")
		}
		s.printf("`%s` %s", strings.TrimPrefix(d.pkg, "github.com/lsdbx/databricks-storage/"), kb(d.n))
	}
	s.printf(".\n")
	return s, nil
}
