package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
)

// zipTarget is the deployment zip size target, in decimal megabytes.
const zipTarget = 7 * mb

type artifact struct {
	bootstrap, zip int64
}

// measureArtifacts builds both functions for linux/arm64 as deployed,
// zips them, and breaks the real function's code down by module.
func measureArtifacts(ctx context.Context, l *lab) (*section, error) {
	s := &section{}
	sizes := map[string]artifact{}
	for _, fn := range []string{fnReal, fnReference} {
		bin, err := l.lambdaBuild(fn, "arm64")
		if err != nil {
			return s, err
		}
		var a artifact
		if a.bootstrap, err = benchkit.FileSize(bin); err != nil {
			return s, err
		}
		if a.zip, err = benchkit.ZipBootstrap(bin, filepath.Join(filepath.Dir(bin), "function.zip")); err != nil {
			return s, err
		}
		sizes[fn] = a
	}
	real, ref := sizes[fnReal], sizes[fnReference]
	s.printf("linux/arm64, `CGO_ENABLED=0 go build %s`; the zip holds `bootstrap` alone (archive/zip, deflate, mode 0755). MB = 10⁶ bytes.\n\n", strings.Join(quoteFlags(benchkit.LambdaBuildFlags), " "))
	s.printf("| Function | bootstrap | deployment zip |\n|---|---|---|\n")
	s.printf("| create-storage | %s | %s |\n", fmtBytes(real.bootstrap), fmtBytes(real.zip))
	s.printf("| reference | %s | %s |\n", fmtBytes(ref.bootstrap), fmtBytes(ref.zip))
	s.printf("| ratio create-storage / reference | %.2f× | %.2f× |\n\n", ratio(real.bootstrap, ref.bootstrap), ratio(real.zip, ref.zip))

	s.target("Deployment zip (linux/arm64)", fmt.Sprintf("%.2f MB (%.2f× reference's %.2f MB)", float64(real.zip)/mb, ratio(real.zip, ref.zip), float64(ref.zip)/mb), "≤ 7 MB (7,000,000 B)", real.zip <= zipTarget)
	s.info("bootstrap (linux/arm64)", fmt.Sprintf("%.2f MB (%.2f× reference)", float64(real.bootstrap)/mb, ratio(real.bootstrap, ref.bootstrap)))

	// Where the size comes from.
	if err := codeByModule(ctx, l, s); err != nil {
		s.printf("Code size by module could not be computed: %v\n\n", err)
	}
	return s, nil
}

func ratio(a, b int64) float64 { return float64(a) / float64(b) }

func quoteFlags(flags []string) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		if strings.ContainsAny(f, " ") {
			f = strconv.Quote(f)
		}
		out[i] = f
	}
	return out
}

// codeByModule attributes the machine code (text symbols) of an unstripped
// arm64 build of each function to the modules its packages come from.
func codeByModule(ctx context.Context, l *lab, s *section) error {
	flags := []string{"-tags", "lambda.norpc", "-trimpath"}
	perFn := map[string]map[string]int64{}
	pkgCount := map[string]int{}
	for _, fn := range []string{fnReal, fnReference} {
		bin, err := l.build(fn, "arm64", "symbols", flags)
		if err != nil {
			return err
		}
		modules, err := packageModules(ctx, l, functionPackages[fn])
		if err != nil {
			return err
		}
		pkgCount[fn] = len(modules)
		byModule, err := textByModule(ctx, bin, modules)
		if err != nil {
			return err
		}
		perFn[fn] = byModule
	}
	real, ref := perFn[fnReal], perFn[fnReference]
	names := make([]string, 0, len(real))
	var total, refTotal int64
	for m, n := range real {
		names = append(names, m)
		total += n
	}
	for _, n := range ref {
		refTotal += n
	}
	slices.SortFunc(names, func(a, b string) int { return int(real[b] - real[a]) })
	s.printf("Machine code (text symbols of an unstripped arm64 build, `go tool nm -size`) by module: %s in %d packages for create-storage, %s in %d packages for the reference. Function metadata (pclntab) and type data grow with it but are not attributed. The rows are the 15 largest modules of create-storage.\n\n",
		fmtKB(total), pkgCount[fnReal], fmtKB(refTotal), pkgCount[fnReference])
	s.printf("| Module | create-storage | share | reference |\n|---|---:|---:|---:|\n")
	var shown int64
	for i, m := range names {
		if i == 15 {
			break
		}
		shown += real[m]
		refCell := "—"
		if n, ok := ref[m]; ok {
			refCell = fmtKB(n)
		}
		s.printf("| %s | %s | %.1f%% | %s |\n", m, fmtKB(real[m]), 100*float64(real[m])/float64(total), refCell)
	}
	if len(names) > 15 {
		s.printf("| %d other modules | %s | %.1f%% | |\n", len(names)-15, fmtKB(total-shown), 100*float64(total-shown)/float64(total))
	}
	s.printf("\n")
	return nil
}

func fmtKB(n int64) string { return fmt.Sprintf("%.0f KB", float64(n)/1000) }

// packageModules maps each package in pkg's dependency graph (as built for
// linux/arm64 with the Lambda tags) to its module path, "std" for the
// standard library.
func packageModules(ctx context.Context, l *lab, pkg string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}\t{{if .Module}}{{.Module.Path}}{{end}}", pkg)
	cmd.Dir = l.root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
	}
	modules := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		p, m, _ := strings.Cut(line, "\t")
		if m == "" {
			m = "std"
		}
		modules[p] = m
	}
	return modules, nil
}

// textByModule sums the sizes of the text symbols of bin by module. A
// symbol belongs to the longest package path it starts with (followed by a
// dot); generic instantiations count for the package that defines them.
func textByModule(ctx context.Context, bin string, modules map[string]string) (map[string]int64, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "nm", "-size", bin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sums := map[string]int64{}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// address size type name
		if len(f) < 4 || (f[2] != "T" && f[2] != "t") {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		name := strings.Join(f[3:], " ")
		sums[moduleOf(name, modules)] += size
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("go tool nm %s: %w", bin, err)
	}
	return sums, nil
}

func moduleOf(symbol string, modules map[string]string) string {
	// Only the part before a type argument list names the package.
	if i := strings.IndexByte(symbol, '['); i >= 0 {
		symbol = symbol[:i]
	}
	best := ""
	slash := strings.LastIndexByte(symbol, '/')
	for i := max(slash, 0); i < len(symbol); i++ {
		if symbol[i] != '.' {
			continue
		}
		if _, ok := modules[symbol[:i]]; ok {
			best = symbol[:i]
			break
		}
	}
	if best == "" {
		return "(unattributed: runtime stubs, wrappers)"
	}
	return modules[best]
}
