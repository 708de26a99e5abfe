// Package localservice runs make run's server (internal/dev/cmd/localapi)
// for a test: built from source, in Label Studio mode against a given Label
// Studio, on a free port, with its own table and secret prefix in the
// test's moto, and its output kept for the test to read.
package localservice

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// Table and SecretPrefix are the server's (Start sets fresh ones in
	// the test's moto; Launch leaves an empty Table to the server's
	// default).
	Table, SecretPrefix string
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

	cmd  *exec.Cmd
	dir  string
	stop sync.Once
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

// Start builds and starts the server with a fresh table and secret prefix
// in the test's moto; the test's cleanup stops it.
func Start(t testing.TB, o Options) *Service {
	t.Helper()
	o.Table, o.SecretPrefix = testenv.NewTable(t), testenv.NewSecretPrefix(t)
	s, err := Launch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch builds and starts the server outside a test (make bench), in the
// AWS the environment names (AWS_ENDPOINT_URL), from any directory inside
// the module; Stop stops it.
func Launch(ctx context.Context, o Options) (_ *Service, err error) {
	dir, err := os.MkdirTemp("", "localservice-")
	if err != nil {
		return nil, err
	}
	s := &Service{Table: o.Table, SecretPrefix: o.SecretPrefix, Logs: &Buffer{}, dir: dir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	bin := filepath.Join(dir, "localapi")
	// By import path: resolved from the caller's directory, which works
	// in a test's package directory and at the module root alike.
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/lsdbx/databricks-storage/internal/dev/cmd/localapi").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build localapi: %w\n%s", err, out)
	}
	env := append(os.Environ(), "PORT=0", "LABEL_STUDIO_URL="+o.LabelStudioURL, "LABEL_STUDIO_TOKEN="+o.LabelStudioToken, "AWS_LAMBDA_LOG_LEVEL=DEBUG")
	if o.Table != "" {
		env = append(env, "TABLE_NAME="+o.Table)
	}
	if o.SecretPrefix != "" {
		env = append(env, "SECRET_NAME_PREFIX="+o.SecretPrefix)
	}
	if o.Workspace != nil {
		cert := filepath.Join(dir, "workspace.pem")
		if err := os.WriteFile(cert, o.Workspace.CertPEM(), 0o600); err != nil {
			return nil, err
		}
		// The test's workspace, trusted and reachable on loopback.
		env = append(env, "LOCAL_FAKE_WORKSPACE=off", "SSL_CERT_FILE="+cert, "DATABRICKS_ALLOW_PRIVATE_HOSTS=true")
		s.Workspace = o.Workspace.URL()
	}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(env, o.Env...)
	stdout, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = s.Logs
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return nil, err
	}
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
		return nil, fmt.Errorf("localapi did not print its address:\n%s", s.Logs.String())
	}
	go func() {
		for lines.Scan() {
			s.Logs.Write([]byte(lines.Text() + "\n"))
		}
	}()
	return s, nil
}

// Stop ends the server and removes its build. Safe to call more than once.
func (s *Service) Stop() {
	s.stop.Do(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
		_ = os.RemoveAll(s.dir)
	})
}
