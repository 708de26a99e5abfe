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
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// LambdaBuildFlags are the go build flags of the deployed Lambda artifacts.
var LambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// Build compiles the main package pkg into out for linux/goarch with
// CGO_ENABLED=0 and LambdaBuildFlags; dir is the module root.
func Build(ctx context.Context, dir, pkg, out, goarch string) error {
	args := append(append([]string{"build"}, LambdaBuildFlags...), "-o", out, pkg)
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
