//go:build !integration

// Without the integration tag only: the child process runs the test binary
// again, whose TestMain would otherwise start an emulator of its own.

package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The command run as an operator runs it: -grace 1s exits with status 2
// and says why on stderr, before any AWS call.
func TestGraceBelowTheMinimumExitsNonZero(t *testing.T) {
	if os.Getenv("SWEEP_TEST_RUN_MAIN") == "1" {
		os.Args = []string{"sweep", "-grace", "1s"}
		main()
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGraceBelowTheMinimumExitsNonZero$")
	// An unusable endpoint: a run that got past the check would fail, not
	// reach AWS.
	cmd.Env = append(os.Environ(), "SWEEP_TEST_RUN_MAIN=1", "TABLE_NAME=t", "AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_EC2_METADATA_DISABLED=true")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2; stderr:\n%s", err, stderr.String())
	}
	if want := "sweep: usage error: -grace: grace period out of bounds: 1s is shorter than the minimum 5m0s"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr.String(), want)
	}
}
