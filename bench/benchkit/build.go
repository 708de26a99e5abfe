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

// Build compiles the main package pkg (e.g. ./functions/create-storage) into
// out for goos/goarch with CGO_ENABLED=0 and flags (LambdaBuildFlags for the
// deployed shape). dir is the directory go runs in, the module root.
func Build(ctx context.Context, dir, pkg, out, goos, goarch string, flags []string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s/%s: %w\n%s", pkg, goos, goarch, err, msg)
	}
	return nil
}

// zipTime is the modification time written into deployment zips, so that
// the same binary always gives the same zip.
var zipTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// ZipBootstrap writes a Lambda deployment zip to out holding bootstrap as
// the single entry "bootstrap", deflated, with file mode 0755, and returns
// the zip's size in bytes.
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
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
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
	return FileSize(out)
}

// FileSize returns the size of the file at path.
func FileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
