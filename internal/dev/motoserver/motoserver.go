// Package motoserver starts and stops a moto server, the local AWS emulator
// that speaks the real DynamoDB and Secrets Manager wire protocols.
package motoserver

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/localtools"
)

// serialScript runs moto's server application with requests serialised:
// see the comment at its top.
//
//go:embed serial.py
var serialScript string

// Server is a running moto server.
type Server struct {
	// URL is the endpoint to give AWS_ENDPOINT_URL.
	URL string
	cmd *exec.Cmd
}

// FindBinary locates moto_server: $MOTO_SERVER when set, else the project's
// virtualenv (.venv/bin/moto_server) in dir or one of its parents.
func FindBinary(dir string) (string, error) {
	return localtools.Find("MOTO_SERVER", dir, filepath.Join(".venv", "bin", "moto_server"), "run `make venv` (make test and make run do it for you)")
}

// Env is the environment that points the AWS SDK at the emulator at url and
// nowhere else: fixed credentials and region, no profile, no shared files,
// no instance metadata. An empty value means "unset" (exec gives it to a
// child as set-but-empty, which the AWS SDKs read as unset).
func Env(url string) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":            url,
		"AWS_ACCESS_KEY_ID":           "local",
		"AWS_SECRET_ACCESS_KEY":       "local",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  Region,
		"AWS_DEFAULT_REGION":          Region,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

// Region is the region of the emulated resources.
const Region = "us-east-1"

// Start runs moto's server, with the Python of binary's virtualenv, on a free loopback port and waits until it answers.
// Its output goes to logs (io.Discard when nil).
func Start(ctx context.Context, binary string, logs io.Writer) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if logs == nil {
		logs = io.Discard
	}
	python := filepath.Join(filepath.Dir(binary), "python")
	cmd := exec.Command(python, "-c", serialScript, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logs, logs
	// botocore refuses an AWS_PROFILE that is set but empty (as Env sets it).
	for _, kv := range os.Environ() {
		if kv != "AWS_PROFILE=" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if s.ready(ctx) {
			return s, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("moto_server exited before it was ready: %v", err)
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("moto_server not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Reset wipes all emulated resources.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp.Body.Close()
	return nil
}

// Stop ends the server and its children.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
