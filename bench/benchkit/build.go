// Package benchkit holds the pieces of make bench that are worth testing on
// their own: building and zipping Lambda artifacts, the API Gateway events
// the benchmarks send, a reverse proxy that adds a latency to every AWS call
// and records it, the Lambda Runtime Interface Emulator's INIT report,
// process memory and CPU from /proc, and small statistics.
//
// Nothing here asserts a timing: bench/cmd/report measures and reports.
package benchkit

import (
	"archive/zip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LambdaBuildFlags are the go build flags of the deployed Lambda artifacts.
var LambdaBuildFlags = []string{"-tags", "lambda.norpc,grpcnotrace", "-trimpath", "-ldflags", "-s -w"}

// Build compiles the main package pkg into out for linux/goarch with
// CGO_ENABLED=0 and LambdaBuildFlags (with ldflags instead of "-s -w" when
// given); dir is the module root.
func Build(ctx context.Context, dir, pkg, out, goarch string, ldflags ...string) error {
	flags := slices.Clone(LambdaBuildFlags)
	if len(ldflags) > 0 {
		flags[len(flags)-1] = strings.Join(ldflags, " ")
	}
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %w\n%s", pkg, goarch, err, msg)
	}
	return nil
}

// ZipBootstrap writes a Lambda deployment zip to out holding bootstrap as
// its one entry "bootstrap" (deflated, mode 0755, a fixed time, so the same
// binary gives the same zip) and returns the zip's size in bytes.
func ZipBootstrap(bootstrap, out string) (int64, error) {
	in, err := os.Open(bootstrap)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	zw := zip.NewWriter(f)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err == nil {
		_, err = io.Copy(w, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", bootstrap, err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// SymbolSizes returns the bytes `go tool nm -size` gives the symbols of
// bin (built without -s) that the file holds (not those in .bss or
// .noptrbss) by package, the import path before the first dot after the
// last slash of a symbol's name ("type:" and similar prefixes dropped;
// "go:func.*", the closures' data, stays apart).
func SymbolSizes(ctx context.Context, bin string) (map[string]int64, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "nm", "-size", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool nm %s: %w", bin, err)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	inFile := func(addr uint64) bool {
		for _, sec := range ef.Sections {
			if sec.Type == elf.SHT_NOBITS && addr >= sec.Addr && addr < sec.Addr+sec.Size {
				return false
			}
		}
		return true
	}
	sizes := map[string]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] == "U" {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		addr, aerr := strconv.ParseUint(f[0], 16, 64)
		if err != nil || aerr != nil || !inFile(addr) {
			continue
		}
		sizes[SymbolPackage(strings.Join(f[3:], " "))] += size
	}
	return sizes, nil
}

// SymbolPackage is the package of a symbol name, as SymbolSizes counts it.
func SymbolPackage(name string) string {
	for _, p := range []string{"type:", "go:itab.", ".eq.", "eq.", "*"} {
		name = strings.TrimPrefix(name, p)
	}
	if strings.HasPrefix(name, "go:") {
		return name
	}
	slash := strings.LastIndexByte(name, '/')
	if dot := strings.IndexByte(name[slash+1:], '.'); dot >= 0 {
		return name[:slash+1+dot]
	}
	return name
}

// Module groups a package path into this service, the AWS SDK, the
// Databricks SDK, the Go standard library (and the runtime's own symbols)
// or the other modules.
func Module(pkg string) string {
	switch first, _, _ := strings.Cut(pkg, "/"); {
	case strings.HasPrefix(pkg, "github.com/lsdbx/"):
		return "this service"
	case strings.HasPrefix(pkg, "github.com/aws/"):
		return "AWS SDK and Lambda runtime"
	case strings.HasPrefix(pkg, "github.com/databricks/"):
		return "Databricks SDK"
	case !strings.Contains(first, ".") || strings.HasPrefix(pkg, "go:"):
		return "Go standard library and runtime"
	default:
		return "other modules (oauth2, grpc, google …)"
	}
}

// PythonZip writes bootstrap into out as `sam build` packages it, with
// Python's zipfile (ZIP_DEFLATED at zlib's default level; samcli's
// make_zip), and returns the zip's size.
func PythonZip(ctx context.Context, bootstrap, out string) (int64, error) {
	const script = `import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")`
	if msg, err := exec.CommandContext(ctx, "python3", "-c", script, bootstrap, out).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("python3 zipfile: %w\n%s", err, msg)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
