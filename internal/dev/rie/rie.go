// Package rie runs a Lambda bootstrap under the AWS Lambda Runtime Interface
// Emulator, as `sam local invoke` does inside its container: the function's
// own code behind the real Lambda Runtime API, built for this machine's
// architecture (BuildLambda) since the emulator runs it natively.
package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/localtools"
)

// FindBinary locates aws-lambda-rie: $AWS_LAMBDA_RIE when set, else
// .tools/bin/aws-lambda-rie in dir or one of its parents.
func FindBinary(dir string) (string, error) {
	return localtools.Find("AWS_LAMBDA_RIE", dir, filepath.Join(".tools", "bin", "aws-lambda-rie"), "run `make tools` (make test does it for you)")
}

// Build compiles a function package into dir/bootstrap for this machine's
// architecture, with the flags of the Lambda build.
func Build(ctx context.Context, pkg, dir string) (string, error) {
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", lambdaTags, "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// lambdaTags are the build tags of the Lambda build: no RPC mode in
// aws-lambda-go, no x/net/trace in grpc.
const lambdaTags = "lambda.norpc,grpcnotrace"

// LambdaFlags are the go build flags of the Makefile's build-<Function>
// targets (GOFLAGS_LAMBDA) for a version stamp.
func LambdaFlags(version string) []string {
	return []string{"-tags", lambdaTags, "-trimpath", "-ldflags", "-s -w -X main.version=" + version}
}

// BuildLambda compiles a function package into dir/bootstrap as the
// Makefile's build-<Function> targets do for Lambda — linux, CGO off,
// stripped, the same tags, stamped with version — but for this machine's
// architecture (runtime.GOARCH), since the emulator runs it natively.
func BuildLambda(ctx context.Context, pkg, dir, version string) (string, error) {
	out := filepath.Join(dir, "bootstrap")
	args := append([]string{"build"}, LambdaFlags(version)...)
	cmd := exec.CommandContext(ctx, "go", append(args, "-o", out, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// Function is a bootstrap running under the emulator.
type Function struct {
	url  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// Start runs bootstrap under the emulator with env added to this process's
// environment. Each Function gets its own emulator and runtime API ports, so
// several can run at once.
func Start(ctx context.Context, rieBinary, bootstrap string, env map[string]string) (*Function, error) {
	emulatorAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rieBinary,
		"--runtime-interface-emulator-address", emulatorAddr,
		"--runtime-api-address", runtimeAddr,
		bootstrap)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	f := &Function{url: "http://" + emulatorAddr + "/2015-03-31/functions/function/invocations", cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(f.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", emulatorAddr, time.Second)
		if err == nil {
			conn.Close()
			return f, nil
		}
		select {
		case <-f.done:
			return nil, fmt.Errorf("aws-lambda-rie exited: %s", logs.String())
		case <-ctx.Done():
			f.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.Stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on %s", emulatorAddr)
		}
	}
}

// Invoke sends one event and returns the function's response payload.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read invoke response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: emulator answered %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// reportLine starts the line the emulator prints after each invocation,
// once the function has answered and its output has been collected.
const reportLine = "REPORT RequestId: "

// InvokeLogged sends one event like Invoke and waits, up to drain, for the
// emulator's REPORT line of that invocation, so that everything the function
// and the emulator printed for it (the function's lines, END, REPORT) is in
// logs. The response is returned even when the REPORT line does not come;
// err says so then.
func (f *Function) InvokeLogged(ctx context.Context, payload []byte, drain time.Duration) (out []byte, logs string, err error) {
	start, reports := f.logs.mark()
	out, err = f.Invoke(ctx, payload)
	deadline := time.Now().Add(drain)
	for {
		text, n := f.logs.since(start)
		if n > reports {
			return out, text, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return out, text, errors.Join(err, fmt.Errorf("no REPORT line from the emulator within %s", drain))
		}
		select {
		case <-f.done:
			text, _ := f.logs.since(start)
			return out, text, errors.Join(err, errors.New("the emulator exited before its REPORT line"))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Logs returns everything the emulator and the function printed so far.
func (f *Function) Logs() string { return f.logs.String() }

// Pid is the emulator's process id.
func (f *Function) Pid() int { return f.cmd.Process.Pid }

// Stop ends the emulator and the function.
func (f *Function) Stop() {
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	<-f.done
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// mark returns the buffer's length and its complete REPORT lines.
func (b *syncBuffer) mark() (int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len(), countReports(b.buf.Bytes())
}

// since returns what was written after offset and the complete REPORT lines
// in the whole buffer.
func (b *syncBuffer) since(offset int) (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[offset:]), countReports(b.buf.Bytes())
}

// countReports counts the REPORT lines that have ended (a newline follows).
func countReports(b []byte) int {
	n := 0
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(reportLine)) && bytes.HasSuffix(line, []byte("\n")) {
			n++
		}
	}
	return n
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
