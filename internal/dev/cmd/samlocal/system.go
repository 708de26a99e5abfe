package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const binfmtDir = "/proc/sys/fs/binfmt_misc"

// qemuEntry is Debian's binfmt entry (qemu-user-static) for a Lambda
// architecture.
func qemuEntry(lambdaArch string) string {
	if lambdaArch == "arm64" {
		return "qemu-aarch64"
	}
	return "qemu-x86_64"
}

// enableEmulation lets this machine run the other architecture's binaries:
// binfmt_misc mounted, Debian's qemu-user-static entry enabled (its F flag
// opens the interpreter now, so it works inside containers too). The
// returned function undoes what was done here.
func enableEmulation(lambdaArch string) (func(), error) {
	var undo []func()
	off := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if _, err := os.Stat(filepath.Join(binfmtDir, "status")); err != nil {
		if out, err := exec.Command("mount", "-t", "binfmt_misc", "binfmt_misc", binfmtDir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mount binfmt_misc: %v: %s", err, out)
		}
		fmt.Println("Mounted binfmt_misc (unmounted at the end).")
		undo = append(undo, func() { _ = exec.Command("umount", binfmtDir).Run() })
	}
	name := qemuEntry(lambdaArch)
	entry := filepath.Join(binfmtDir, name)
	state, err := os.ReadFile(entry)
	switch {
	case err != nil:
		if out, err := exec.Command("update-binfmts", "--enable", name).CombinedOutput(); err != nil {
			off()
			return nil, fmt.Errorf("update-binfmts --enable %s (is qemu-user-static installed?): %v: %s", name, err, out)
		}
		fmt.Printf("Enabled %s emulation through binfmt_misc (%s; disabled at the end).\n", lambdaArch, name)
		undo = append(undo, func() { _ = exec.Command("update-binfmts", "--disable", name).Run() })
	case strings.HasPrefix(string(state), "disabled"):
		if err := os.WriteFile(entry, []byte("1"), 0); err != nil {
			off()
			return nil, err
		}
		fmt.Printf("Enabled the %s binfmt entry (disabled again at the end).\n", name)
		undo = append(undo, func() { _ = os.WriteFile(entry, []byte("0"), 0) })
	}
	if state, err = os.ReadFile(entry); err != nil || !fixedInterpreter(string(state)) {
		off()
		return nil, fmt.Errorf("%s: the binfmt entry lacks the F flag, so containers cannot use its interpreter:\n%s", entry, state)
	}
	return off, nil
}

// fixedInterpreter reports whether a binfmt entry has the F flag.
func fixedInterpreter(entry string) bool {
	for _, line := range strings.Split(entry, "\n") {
		if flags, ok := strings.CutPrefix(line, "flags: "); ok {
			return strings.Contains(flags, "F")
		}
	}
	return false
}

// ping reports whether a Docker engine answers on a unix socket.
func ping(ctx context.Context, socket string) bool {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// startDocker returns the socket of a Docker engine: the one DOCKER_HOST or
// /var/run/docker.sock names when it answers (left running), else a dockerd
// started here with its data under stateDir, stopped by the returned
// function. It runs without a bridge network or iptables rules (the
// containers use the host's network, see dockerProxy), so it changes
// nothing of this machine's networking.
func startDocker(ctx context.Context, stateDir string) (string, func(), error) {
	for _, s := range []string{strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://"), "/var/run/docker.sock"} {
		if s != "" && !strings.Contains(s, "://") && ping(ctx, s) {
			fmt.Printf("Using the Docker engine at %s.\n", s)
			return s, func() {}, nil
		}
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return "", nil, errors.New("no Docker engine answers and dockerd is not installed (make sam-local installs Debian's docker.io)")
	}
	run := "/run/lsdbx-sam-local"
	for _, d := range []string{stateDir, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", nil, err
		}
	}
	socket := filepath.Join(run, "docker.sock")
	logPath := filepath.Join(stateDir, "dockerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(dockerd,
		"--host", "unix://"+socket,
		"--data-root", filepath.Join(stateDir, "data"),
		"--exec-root", filepath.Join(run, "exec"),
		"--pidfile", filepath.Join(run, "dockerd.pid"),
		"--userland-proxy=false", "--bridge=none", "--iptables=false", "--ip-forward=false")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		fmt.Println("Stopped the Docker engine started here.")
	}
	for deadline := time.Now().Add(60 * time.Second); !ping(ctx, socket); {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return "", nil, fmt.Errorf("dockerd exited:\n%s", tail(log, 20))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("dockerd did not answer on %s (log: %s)", socket, logPath)
		}
	}
	fmt.Printf("Started a Docker engine on %s (data %s, log %s; stopped at the end).\n", socket, stateDir, logPath)
	return socket, stop, nil
}

// rapidImage is the image the SAM CLI runs a zip function of runtime in
// (samcli/local/docker/lambda_image.py: "<repo>:<version>-rapid-<arch>"
// for provided.al2023, which has one image per architecture); with
// --skip-pull-image and this tag present it builds nothing and pulls
// nothing.
func rapidImage(runtime, lambdaArch string) (string, error) {
	name, version, ok := strings.Cut(runtime, ".")
	if name != "provided" || !ok {
		return "", fmt.Errorf("runtime %s: only provided.* runtimes get a local image here", runtime)
	}
	return "public.ecr.aws/lambda/" + name + ":" + version + "-rapid-" + lambdaArch, nil
}

// imageTar is the base image's file system: the SAM CLI's own emulator at
// /var/rapid/aws-lambda-rie, and a CA bundle where Amazon Linux 2023 keeps
// its own (Go reads it there) holding this machine's roots and extra (the
// fake workspace's certificate).
func imageTar(rie, roots, extra []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, d := range []struct {
		name string
		mode int64
	}{{"var/", 0o755}, {"var/rapid/", 0o755}, {"var/task/", 0o755}, {"opt/", 0o755}, {"tmp/", 0o1777},
		{"etc/", 0o755}, {"etc/pki/", 0o755}, {"etc/pki/tls/", 0o755}, {"etc/pki/tls/certs/", 0o755}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	bundle := append(append(bytes.TrimRight(roots, "\n"), '\n'), extra...)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"var/rapid/aws-lambda-rie", 0o755, rie}, {"etc/pki/tls/certs/ca-bundle.crt", 0o644, bundle}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildImage imports the Lambda base image into the engine (no registry,
// no build step: a file system from scratch) and removes the image the tag
// named before.
func buildImage(ctx context.Context, engine, sam, runtime, lambdaArch string, extraCA []byte) (string, error) {
	tag, err := rapidImage(runtime, lambdaArch)
	if err != nil {
		return "", err
	}
	python := filepath.Join(filepath.Dir(sam), "python")
	out, err := exec.CommandContext(ctx, python, "-c", "import os, samcli; print(os.path.dirname(samcli.__file__))").Output()
	if err != nil {
		return "", fmt.Errorf("find the SAM CLI's package with %s: %w", python, err)
	}
	rie, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "local", "rapid", "aws-lambda-rie-"+lambdaArch))
	if err != nil {
		return "", fmt.Errorf("the SAM CLI's bundled emulator: %w", err)
	}
	roots, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	fs, err := imageTar(rie, roots, extraCA)
	if err != nil {
		return "", err
	}
	docker := func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "docker", append([]string{"-H", "unix://" + engine}, args...)...)
	}
	old, _ := docker("image", "inspect", "--format", "{{.Id}}", tag).Output()
	imp := docker("import", "--platform", "linux/"+goArch(lambdaArch), "--change", `ENTRYPOINT ["/var/rapid/aws-lambda-rie"]`, "-", tag)
	imp.Stdin = bytes.NewReader(fs)
	if out, err := imp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker import %s: %v: %s", tag, err, out)
	}
	if id := strings.TrimSpace(string(old)); id != "" {
		_ = docker("rmi", id).Run() // in use or already gone: left alone
	}
	return tag, nil
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

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
