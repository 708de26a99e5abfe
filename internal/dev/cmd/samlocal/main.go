// Command samlocal runs the real SAM CLI end to end on this machine (make
// sam-local): sam build; every file of events/ through `sam local invoke`
// (the function each goes to in AWS) and a create, a validate and an error
// through `sam local start-api`, against moto and the fake workspace
// (package localenv, free loopback ports), each outcome checked against
// events/README.md. It brings up what the SAM CLI needs and no registry can
// give here: a Docker engine (started if none answers, stopped again), the
// Lambda base image built from the SAM CLI's own emulator, arm64 emulation
// (qemu-user-static through binfmt_misc) when the functions' architecture
// is not this machine's, and a Docker API proxy that runs the containers on
// the host's loopback (see dockerProxy). Everything it started it stops,
// also on Ctrl+C. The Makefile installs the packages first.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
	"github.com/lsdbx/databricks-storage/internal/dev/motoserver"
	"github.com/lsdbx/databricks-storage/internal/dev/sampleevents"
	"github.com/lsdbx/databricks-storage/internal/dev/samtemplate"
)

func main() {
	start := time.Now()
	err := run()
	fmt.Printf("sam-local: %s in %s\n", map[bool]string{true: "all checks passed", false: "FAILED"}[err == nil], time.Since(start).Round(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sam-local:", err)
		os.Exit(1)
	}
}

// cleanups run in reverse order, whatever happened.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }
func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

func run() error {
	sam := flag.String("sam", ".venv-sam/bin/sam", "the SAM CLI")
	stateDir := flag.String("state", "/var/lib/lsdbx-sam-local", "where a Docker engine started here keeps its data")
	hold := flag.Bool("hold", false, "after the checks, keep the environment up until Ctrl+C and print how to run sam local in it by hand")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var undo cleanups
	defer undo.run()

	fn, err := samtemplate.Load("template.yaml", sampleevents.Create.LogicalID)
	if err != nil {
		return err
	}
	arch := fn.Architecture

	t := time.Now()
	if err := command(ctx, os.Stdout, *sam, "build"); err != nil {
		return fmt.Errorf("sam build: %w", err)
	}
	fmt.Printf("sam build took %s.\n", time.Since(t).Round(100*time.Millisecond))

	if goArch(arch) != runtime.GOARCH {
		off, err := enableEmulation(arch)
		if err != nil {
			return err
		}
		undo.add(off)
	}
	engine, stopEngine, err := startDocker(ctx, *stateDir)
	if err != nil {
		return err
	}
	undo.add(stopEngine)

	env, err := localenv.Start(ctx, localenv.Options{Token: "local-dev-token", OwnAWS: true})
	if err != nil {
		return err
	}
	undo.add(env.Close)
	fmt.Printf("moto (local AWS) at %s, table %s; fake Databricks workspace at %s; API token %s.\n",
		env.Endpoint, env.Table, env.WorkspaceURL(), env.Token)

	image, err := buildImage(ctx, engine, *sam, fn.Runtime, arch, env.Workspace.CertPEM())
	if err != nil {
		return err
	}
	fmt.Printf("Lambda base image %s (the SAM CLI's emulator, a CA bundle that trusts the fake workspace).\n", image)

	tmp, err := os.MkdirTemp("", "sam-local-")
	if err != nil {
		return err
	}
	undo.add(func() { os.RemoveAll(tmp) })
	proxy := newDockerProxy(engine, freePort)
	proxySock := filepath.Join(tmp, "docker.sock")
	l, err := net.Listen("unix", proxySock)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	undo.add(func() {
		if ids := proxy.Created(); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"-H", "unix://" + engine, "rm", "-f"}, ids...)...).Run()
		}
		srv.Close()
	})

	rawEnv, err := os.ReadFile("events/env.local.json")
	if err != nil {
		return err
	}
	envVars, err := expandEnvFile(rawEnv, map[string]string{
		"AWS_ENDPOINT_URL": env.Endpoint, "TABLE_NAME": env.Table, "WORKSPACE_URL": env.WorkspaceURL(),
	})
	if err != nil {
		return err
	}
	envFile := filepath.Join(tmp, "env.json")
	if err := os.WriteFile(envFile, envVars, 0o600); err != nil {
		return err
	}
	samEnv := append(os.Environ(), "DOCKER_HOST=unix://"+proxySock, "SAM_CLI_TELEMETRY=0",
		// moto takes any credentials; the SAM CLI passes these to the functions.
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION="+motoserver.Region)
	common := []string{"--env-vars", envFile, "--skip-pull-image", "--docker-network", "host", "--region", motoserver.Region}

	var failures []error
	if err := invokeAll(ctx, *sam, samEnv, common, env, tmp, &failures); err != nil {
		return err
	}
	if err := startAPI(ctx, *sam, samEnv, common, env, &failures); err != nil {
		return err
	}
	if *hold {
		port, err := freePort()
		if err != nil {
			return err
		}
		fmt.Printf(`
The environment stays up until Ctrl+C. In another shell, in this folder:
  export DOCKER_HOST=unix://%s SAM_CLI_TELEMETRY=0 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  %s local invoke CreateStorageFunction -e %s %s
  %s local start-api --port %d %s
The events in %s have their workspace URLs pointed at the fake workspace; API token %s.
`, proxySock, *sam, filepath.Join(tmp, "http-create-pat.json"), strings.Join(common, " "),
			*sam, port, strings.Join(common, " "), tmp, env.Token)
		<-ctx.Done()
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d check(s) failed:\n%w", len(failures), errors.Join(failures...))
	}
	return nil
}

// invokeAll sends every event of events/ through `sam local invoke`.
func invokeAll(ctx context.Context, sam string, samEnv, common []string, env *localenv.Env, tmp string, failures *[]error) error {
	readme, err := os.ReadFile("events/README.md")
	if err != nil {
		return err
	}
	expect, err := sampleevents.ParseExpectations(readme)
	if err != nil {
		return err
	}
	files, err := sampleevents.Files("events")
	if err != nil {
		return err
	}
	payloads := map[string][]byte{}
	for _, f := range files {
		if payloads[f], err = os.ReadFile(filepath.Join("events", f)); err != nil {
			return err
		}
	}
	sm := secretsmanager.NewFromConfig(env.AWS)
	for _, f := range sampleevents.Order(files, payloads) {
		e, ok := expect[f]
		if !ok {
			*failures = append(*failures, fmt.Errorf("%s: no expected outcome in events/README.md", f))
			continue
		}
		if sampleevents.NeedsSync(payloads[f]) {
			// No sync queue or Label Studio here: internal/dev/e2e runs
			// these under the emulator.
			fmt.Printf("skip sam local invoke %-21s -e events/%-40s (a sync's event: needs a sync queue and Label Studio)\n", sampleevents.For(payloads[f]).LogicalID, f)
			continue
		}
		payload, _ := sampleevents.PointAt(payloads[f], env.WorkspaceURL())
		for _, name := range sampleevents.CredentialsSecretIDs(payload) {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: aws.String(name), SecretString: aws.String(`{"token": "` + fakeworkspace.DefaultPAT + `"}`),
			})
			var exists *smtypes.ResourceExistsException
			if err != nil && !errors.As(err, &exists) {
				return fmt.Errorf("hand over %s: %w", name, err)
			}
		}
		event := filepath.Join(tmp, f)
		if err := os.WriteFile(event, payload, 0o600); err != nil {
			return err
		}
		fn := sampleevents.For(payload)
		var stdout, stderr bytes.Buffer
		t := time.Now()
		cmd := exec.CommandContext(ctx, sam, append([]string{"local", "invoke", fn.LogicalID, "-e", event}, common...)...)
		cmd.Env, cmd.Stdout, cmd.Stderr = samEnv, &stdout, &stderr
		runErr := cmd.Run()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		response := lastLine(stdout.Bytes())
		verdict := "ok"
		if err := errors.Join(runErr, e.Verify(response)); err != nil {
			verdict = "FAIL"
			*failures = append(*failures, fmt.Errorf("sam local invoke %s -e events/%s: %w\n%s", fn.LogicalID, f, err, tail(stderr.Bytes(), 15)))
		}
		fmt.Printf("%-4s sam local invoke %-21s -e events/%-40s %5.1fs  %s\n", verdict, fn.LogicalID, f, time.Since(t).Seconds(), abbreviate(response, 90))
	}
	return nil
}

// startAPI runs `sam local start-api` on a free loopback port and sends a
// create, a validate and a request without a key through it.
func startAPI(ctx context.Context, sam string, samEnv, common []string, env *localenv.Env, failures *[]error) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	var logs syncBuffer
	cmd := exec.Command(sam, append([]string{"local", "start-api", "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, common...)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = samEnv, &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		// The SAM CLI stops its containers on SIGTERM (not on SIGINT).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	fmt.Printf("sam local start-api on %s\n", base)
	client := &http.Client{Timeout: 60 * time.Second}
	for {
		resp, err := client.Get(base + "/api/storages/databricks-openapi.yaml")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("sam local start-api exited:\n%s", tail([]byte(logs.String()), 30))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if time.Since(t) > 3*time.Minute {
			return fmt.Errorf("sam local start-api did not answer on %s:\n%s", base, tail([]byte(logs.String()), 30))
		}
	}
	fmt.Printf("     (it answered after %.1fs)\n", time.Since(t).Seconds())
	body := fmt.Sprintf(`{"project": 1, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "prefix": "images", "token": %q}`,
		env.WorkspaceURL(), fakeworkspace.DefaultPAT)
	for _, c := range []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"create", http.MethodPost, "/api/storages/databricks/", env.Token, body, http.StatusCreated},
		{"validate", http.MethodPost, "/api/storages/databricks/validate", env.Token, body, http.StatusOK},
		{"no API key", http.MethodPost, "/api/storages/databricks/", "", body, http.StatusUnauthorized},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if c.token != "" {
			req.Header.Set("Authorization", "Token "+c.token)
		}
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			*failures = append(*failures, fmt.Errorf("start-api %s: %w", c.name, err))
			continue
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		verdict := "ok"
		if resp.StatusCode != c.want || bytes.Contains(got, []byte(fakeworkspace.DefaultPAT)) {
			verdict = "FAIL"
			*failures = append(*failures, fmt.Errorf("start-api %s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, abbreviate(got, 300)))
		}
		fmt.Printf("%-4s start-api %-10s %s %-36s %d %5.1fs  %s\n", verdict, c.name, c.method, c.path, resp.StatusCode, time.Since(t).Seconds(), abbreviate(got, 70))
	}
	if strings.Contains(logs.String(), fakeworkspace.DefaultPAT) {
		*failures = append(*failures, errors.New("start-api: a token value appeared in the logs"))
	}
	return nil
}

// command runs a command with its output on w.
func command(ctx context.Context, w io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "SAM_CLI_TELEMETRY=0")
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

// goArch is GOARCH for a Lambda architecture.
func goArch(lambdaArch string) string {
	if lambdaArch == "x86_64" {
		return "amd64"
	}
	return lambdaArch
}

// freePort returns a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var placeholder = regexp.MustCompile(`\$\{([A-Z_]+)\}`)

// expandEnvFile fills the ${NAME} placeholders of an --env-vars file;
// a placeholder without a value is an error.
func expandEnvFile(raw []byte, values map[string]string) ([]byte, error) {
	var missing []string
	out := placeholder.ReplaceAllFunc(raw, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("events/env.local.json: no value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// lastLine is the last non-empty line: sam local invoke prints the response
// last.
func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func abbreviate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
