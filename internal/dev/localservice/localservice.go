// Package localservice runs make run's server (internal/dev/cmd/localapi)
// for a test: built from source, in Label Studio mode against a given Label
// Studio, on a free port, with its own table and secret prefix in the
// test's moto, and its output kept for the test to read.
package localservice

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
)

// Options choose what the server talks to.
type Options struct {
	// LabelStudioURL and LabelStudioToken: the Label Studio and the
	// service credential.
	LabelStudioURL, LabelStudioToken string
	// Workspace, when set, replaces the server's own fake workspace (whose
	// files the test cannot add to).
	Workspace *fakeworkspace.Server
	// Env adds variables.
	Env []string
}

// Service is a running server.
type Service struct {
	// URL is the front door's address.
	URL string
	// Workspace is the fake workspace's URL (the test's, or the server's).
	Workspace string
	// Table and SecretPrefix are the server's, in the test's moto.
	Table, SecretPrefix string
	// Logs holds what the server printed.
	Logs *Buffer
}

// Buffer is a log safe for concurrent writes.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	addressLine   = regexp.MustCompile(`one address: (http://\S+)`)
	workspaceLine = regexp.MustCompile(`fake Databricks workspace at (https://\S+)`)
)

// Start builds and starts the server; the test's cleanup stops it.
func Start(t testing.TB, o Options) *Service {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), "localapi")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(filepath.Dir(here), "..", "cmd", "localapi")).CombinedOutput(); err != nil {
		t.Fatalf("build localapi: %v\n%s", err, out)
	}
	s := &Service{Table: testenv.NewTable(t), SecretPrefix: testenv.NewSecretPrefix(t), Logs: &Buffer{}}
	env := append(os.Environ(), "PORT=0", "TABLE_NAME="+s.Table, "SECRET_NAME_PREFIX="+s.SecretPrefix,
		"LABEL_STUDIO_URL="+o.LabelStudioURL, "LABEL_STUDIO_TOKEN="+o.LabelStudioToken, "AWS_LAMBDA_LOG_LEVEL=DEBUG")
	if o.Workspace != nil {
		cert := filepath.Join(t.TempDir(), "workspace.pem")
		if err := os.WriteFile(cert, o.Workspace.CertPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		// The test's workspace, trusted and reachable on loopback.
		env = append(env, "LOCAL_FAKE_WORKSPACE=off", "SSL_CERT_FILE="+cert, "DATABRICKS_ALLOW_PRIVATE_HOSTS=true")
		s.Workspace = o.Workspace.URL()
	}
	cmd := exec.Command(bin)
	cmd.Env = append(env, o.Env...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = s.Logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	deadline := time.Now().Add(3 * time.Minute)
	for s.URL == "" && time.Now().Before(deadline) && lines.Scan() {
		line := lines.Text()
		s.Logs.Write([]byte(line + "\n"))
		if m := workspaceLine.FindStringSubmatch(line); m != nil && s.Workspace == "" {
			s.Workspace = m[1]
		}
		if m := addressLine.FindStringSubmatch(line); m != nil {
			s.URL = m[1]
		}
	}
	if s.URL == "" || s.Workspace == "" {
		t.Fatalf("localapi did not print its address:\n%s", s.Logs.String())
	}
	go func() {
		for lines.Scan() {
			s.Logs.Write([]byte(lines.Text() + "\n"))
		}
	}()
	return s
}
