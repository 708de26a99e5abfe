// Command withls runs a command beside a real Label Studio OSS: it starts
// one from .venv-ls (package dev/labelstudio), exports its address and admin
// token to the command (LABEL_STUDIO_TEST_URL, LABEL_STUDIO_TEST_TOKEN, and
// LABEL_STUDIO_TEST_DATA_DIR and LABEL_STUDIO_TEST_VENV for what OSS offers
// no API for; not the service's LABEL_STUDIO_URL, which would switch every
// service the tests start into Label Studio mode), runs it, stops Label
// Studio and exits with the command's status.
// `make test` runs the integration tests under it, so one Label Studio
// serves the whole run:
//
//	withls -- go test -tags integration ./...
//
// With LABEL_STUDIO_TEST_URL already set it starts nothing and runs the
// command.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withls -- command [args...]")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("LABEL_STUDIO_TEST_URL") == "" {
		venv := cmp.Or(os.Getenv("LABEL_STUDIO_VENV"), devls.DefaultVenv)
		logPath := filepath.Join("build", "local", "label-studio-test.log")
		_ = os.MkdirAll(filepath.Dir(logPath), 0o755)
		logFile, err := os.Create(logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "withls:", err)
			return 1
		}
		defer logFile.Close()
		began := time.Now()
		ls, err := devls.Start(ctx, devls.Options{Venv: venv, Log: logFile, Progress: os.Stderr})
		if err != nil {
			fmt.Fprintf(os.Stderr, "withls: %v (Label Studio's output: %s)\n", err, logPath)
			return 1
		}
		defer ls.Stop()
		fmt.Fprintf(os.Stderr, "withls: Label Studio %s healthy at %s in %s (output: %s)\n", devls.Version, ls.URL, time.Since(began).Round(100*time.Millisecond), logPath)
		abs, _ := filepath.Abs(venv)
		os.Setenv("LABEL_STUDIO_TEST_URL", ls.URL)
		os.Setenv("LABEL_STUDIO_TEST_TOKEN", ls.Token)
		os.Setenv("LABEL_STUDIO_TEST_DATA_DIR", ls.DataDir)
		os.Setenv("LABEL_STUDIO_TEST_VENV", abs)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "withls:", err)
		return 1
	}
	return 0
}
