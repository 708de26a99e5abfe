// Package labelstudio runs a real Label Studio OSS for local runs and
// tests: it checks the pinned install in its own virtualenv (.venv-ls, made
// by `make labelstudio`), starts it on a free loopback port with a
// generated admin login and legacy API token, waits until it is healthy,
// stops it, and makes the users, tokens and projects tests need.
//
// The first start on a machine migrates an empty database (Django: minutes
// on a loaded machine) and keeps it in the virtualenv as a snapshot; every
// later start copies the snapshot and only creates the admin user.
package labelstudio

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is the pinned Label Studio (requirements-labelstudio.txt).
const Version = "1.23.2"

// DefaultVenv is the virtualenv `make labelstudio` installs into, relative
// to the repository root.
const DefaultVenv = ".venv-ls"

// snapshotName is the migrated empty database kept in the virtualenv.
const snapshotName = "migrated-" + Version + ".sqlite3"

//go:embed lsadmin.py
var lsadmin []byte

// Options configure Start.
type Options struct {
	// Venv is Label Studio's virtualenv (DefaultVenv when empty).
	Venv string
	// Log receives Label Studio's output; discarded when nil.
	Log io.Writer
	// Progress receives what Start is doing (the slow first migration);
	// discarded when nil.
	Progress io.Writer
	// StartTimeout bounds the wait for a healthy server (10 minutes when
	// zero: a first start migrates).
	StartTimeout time.Duration
	// Env adds variables to Label Studio's environment (make bench's
	// S3_ENDPOINT).
	Env []string
}

// Server is a running Label Studio.
type Server struct {
	// URL is its base URL, http://127.0.0.1:<port>.
	URL string
	// Email and Password are the admin's login; Token is the admin's legacy
	// API token ("Authorization: Token <Token>").
	Email, Password, Token string
	// DataDir holds its database and files; removed by Stop.
	DataDir string

	venv  string
	extra []string // Options.Env
	cmd   *exec.Cmd
	done  chan error
	owned bool // Start made it: Stop ends it and removes DataDir
}

// FromEnv is the Label Studio `withls` started for this process
// (LABEL_STUDIO_TEST_URL, LABEL_STUDIO_TEST_TOKEN, LABEL_STUDIO_TEST_DATA_DIR,
// LABEL_STUDIO_TEST_VENV); its Stop does nothing. The integration tests use it;
// a missing one is an error, not a reason to skip.
func FromEnv() (*Server, error) {
	s := &Server{
		URL: os.Getenv("LABEL_STUDIO_TEST_URL"), Token: os.Getenv("LABEL_STUDIO_TEST_TOKEN"),
		DataDir: os.Getenv("LABEL_STUDIO_TEST_DATA_DIR"), venv: os.Getenv("LABEL_STUDIO_TEST_VENV"),
	}
	if s.URL == "" || s.Token == "" {
		return nil, fmt.Errorf("no Label Studio: run the tests under withls (make test does: %s), which starts one and sets LABEL_STUDIO_TEST_URL and LABEL_STUDIO_TEST_TOKEN", "go run ./internal/dev/cmd/withls -- go test -tags integration ./...")
	}
	return s, nil
}

// Installed reports whether the virtualenv holds Label Studio.
func Installed(venv string) error {
	if _, err := os.Stat(filepath.Join(venv, "bin", "label-studio")); err != nil {
		return fmt.Errorf("label Studio %s is not installed in %s (make labelstudio installs it): %w", Version, venv, err)
	}
	return nil
}

// Start starts Label Studio and waits until it answers /health.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	venv := o.Venv
	if venv == "" {
		venv = DefaultVenv
	}
	if venv, err = filepath.Abs(venv); err != nil {
		return nil, err
	}
	if err := Installed(venv); err != nil {
		return nil, err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	snapshot := filepath.Join(venv, snapshotName)
	if _, err := os.Stat(snapshot); err != nil {
		fmt.Fprintf(progress, "Migrating an empty Label Studio database once for this machine (Django migrations: a few minutes; kept as %s)...\n", snapshot)
		began := time.Now()
		if err := migrate(ctx, venv, snapshot, logw); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "Migrated in %s.\n", time.Since(began).Round(time.Second))
	}
	s := &Server{venv: venv, extra: o.Env, owned: true, Email: "admin@example.com", Password: "pw-" + random(8), Token: "ls-" + random(20)}
	if s.DataDir, err = os.MkdirTemp("", "label-studio-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := copyFile(snapshot, filepath.Join(s.DataDir, "ls.sqlite3")); err != nil {
		return nil, err
	}
	// The port is picked before Label Studio binds it, tens of seconds
	// later (Django starts): on a shared machine another process may take
	// it meanwhile, and Label Studio exits. Then another port is tried.
	for attempt := 1; ; attempt++ {
		err := s.launch(ctx, logw, progress)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errExited) || attempt == 3 {
			return nil, err
		}
		fmt.Fprintf(progress, "Label Studio exited (%v); trying another port.\n", err)
	}
}

// errExited is wrapped when Label Studio ends before it is healthy.
var errExited = errors.New("label Studio exited before it was healthy")

// launch starts Label Studio on a free port and waits until it is healthy.
func (s *Server) launch(ctx context.Context, logw, progress io.Writer) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.cmd = exec.Command(filepath.Join(s.venv, "bin", "label-studio"), "start", "--no-browser",
		"--data-dir", s.DataDir, "-db", filepath.Join(s.DataDir, "ls.sqlite3"),
		"--internal-host", "127.0.0.1", "-p", strconv.Itoa(port),
		"--username", s.Email, "--password", s.Password, "--user-token", s.Token,
		"--enable-legacy-api-token")
	s.cmd.Env = s.env()
	s.cmd.Stdout, s.cmd.Stderr = logw, logw
	// Its own process group: Stop ends Label Studio and whatever it forks.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start Label Studio: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	fmt.Fprintf(progress, "Starting Label Studio %s at %s...\n", Version, s.URL)
	err = s.waitHealthy(ctx)
	if errors.Is(err, errExited) {
		s.cmd = nil
	}
	return err
}

// env is the environment of Label Studio's processes.
func (s *Server) env() []string {
	env := append(os.Environ(),
		"LABEL_STUDIO_BASE_DATA_DIR="+s.DataDir,
		"DATABASE_NAME="+filepath.Join(s.DataDir, "ls.sqlite3"),
		// No telemetry or update checks from tests.
		"COLLECT_ANALYTICS=false", "LATEST_VERSION_CHECK=false",
		// Webhooks to the tests' loopback servers: Label Studio refuses
		// private addresses (webhook URLs, and its requests to them)
		// unless SSRF protection is off.
		"SSRF_PROTECTION_ENABLED=false",
		// Local files storages under the data directory: the export tests
		// compare what Label Studio's own local files export storage
		// writes with what the service writes.
		"LOCAL_FILES_SERVING_ENABLED=true", "LOCAL_FILES_DOCUMENT_ROOT="+s.DataDir)
	return append(env, s.extra...)
}

// migrate makes the migrated empty database: `label-studio version` applies
// the migrations and exits without creating a user.
func migrate(ctx context.Context, venv, snapshot string, logw io.Writer) error {
	dir, err := os.MkdirTemp("", "label-studio-migrate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "ls.sqlite3")
	cmd := exec.CommandContext(ctx, filepath.Join(venv, "bin", "label-studio"), "version", "--data-dir", dir, "-db", db)
	cmd.Env = append(os.Environ(), "LABEL_STUDIO_BASE_DATA_DIR="+dir, "DATABASE_NAME="+db, "COLLECT_ANALYTICS=false", "LATEST_VERSION_CHECK=false")
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("migrate Label Studio's database: %w", err)
	}
	tmp := snapshot + ".tmp"
	if err := copyFile(db, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, snapshot)
}

func (s *Server) waitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/health", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("%w: %v", errExited, err)
		case <-ctx.Done():
			return fmt.Errorf("label Studio at %s was not healthy in time: %w", s.URL, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Stop ends Label Studio and removes its data. Safe to call more than once.
func (s *Server) Stop() {
	if !s.owned {
		return
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		s.cmd = nil
	}
	if s.DataDir != "" {
		os.RemoveAll(s.DataDir)
		s.DataDir = ""
	}
}

// Client is a Label Studio at URL used with a token (an existing one, or a
// Server's): the calls tests make.
type Client struct {
	URL string
	// Authorization is the header value sent ("Token …").
	Authorization string
}

// Admin is the client of the server's admin.
func (s *Server) Admin() Client { return Client{URL: s.URL, Authorization: "Token " + s.Token} }

// do sends a JSON request and decodes a 2xx answer into out.
func (c Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.Authorization)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Do sends a JSON request (body marshalled when not nil) with the
// client's Authorization and decodes a 2xx answer into out (when not nil);
// another status is an error naming it and the answer.
func (c Client) Do(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, method, path, body, out)
}

// CreateProject creates a project and returns its id.
func (c Client) CreateProject(ctx context.Context, title string) (int64, error) {
	var p struct {
		ID int64 `json:"id"`
	}
	err := c.do(ctx, http.MethodPost, "/api/projects", map[string]string{"title": title}, &p)
	return p.ID, err
}

// User is a Label Studio user a test made.
type User struct {
	ID       int64
	Email    string
	Password string
	// Token is their legacy API token.
	Token string
}

// SignUp makes a user of the admin's organisation the way a person does:
// the organisation's invite link, the signup form, then their token. OSS
// has no API to create a user with a token.
func (c Client) SignUp(ctx context.Context, email string) (User, error) {
	var invite struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/invite", nil, &invite); err != nil {
		return User{}, err
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	signup := c.URL + "/user/signup/?token=" + url.QueryEscape(invite.Token)
	if err := fetch(ctx, browser, http.MethodGet, signup, nil, nil); err != nil {
		return User{}, err
	}
	base, _ := url.Parse(c.URL)
	var csrf string
	for _, ck := range jar.Cookies(base) {
		if ck.Name == "csrftoken" {
			csrf = ck.Value
		}
	}
	u := User{Email: email, Password: "pw-" + random(8)}
	form := url.Values{"csrfmiddlewaretoken": {csrf}, "email": {email}, "password": {u.Password}}
	hdr := http.Header{"Referer": {signup}, "Content-Type": {"application/x-www-form-urlencoded"}}
	if err := fetch(ctx, browser, http.MethodPost, signup, strings.NewReader(form.Encode()), hdr); err != nil {
		return User{}, err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := fetchJSON(ctx, browser, c.URL+"/api/current-user/token", &tok); err != nil {
		return User{}, fmt.Errorf("signed up %s but got no token: %w", email, err)
	}
	u.Token = tok.Token
	var me struct {
		ID int64 `json:"id"`
	}
	if err := (Client{URL: c.URL, Authorization: "Token " + u.Token}).do(ctx, http.MethodGet, "/api/current-user/whoami", nil, &me); err != nil {
		return User{}, err
	}
	u.ID = me.ID
	return u, nil
}

// RemoveMember takes a user out of the organisation (what OSS calls
// removing a member; their token still authenticates, but sees no project).
func (c Client) RemoveMember(ctx context.Context, organization, user int64) error {
	return c.do(ctx, http.MethodDelete, fmt.Sprintf("/api/organizations/%d/memberships/%d/", organization, user), nil, nil)
}

// Deactivate sets a user inactive (Django's is_active): Label Studio then
// refuses their token with 401. OSS has no API for it, so this runs a
// Django script against the server's database (tens of seconds: Django
// starts).
func (s *Server) Deactivate(ctx context.Context, email string) error {
	if s.DataDir == "" || s.venv == "" {
		return errors.New("deactivate needs the server's data directory and virtualenv (LABEL_STUDIO_TEST_DATA_DIR, LABEL_STUDIO_TEST_VENV)")
	}
	script := filepath.Join(s.DataDir, "lsadmin.py")
	if err := os.WriteFile(script, lsadmin, 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.venv, "bin", "python"), script, "deactivate", email)
	cmd.Env = s.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("deactivate %s: %w: %s", email, err, tail(out))
	}
	return nil
}

func fetch(ctx context.Context, c *http.Client, method, u string, body io.Reader, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, tail(raw))
	}
	return nil
}

func fetchJSON(ctx context.Context, c *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
