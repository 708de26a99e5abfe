package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/motoserver"
	"github.com/lsdbx/databricks-storage/internal/rie"
)

// awsEnv is the AWS environment of the benchmark: this process and every
// function it starts load their AWS configuration through the standard
// chain from it, never from the machine's own profiles.
var awsEnv = map[string]string{
	"AWS_ACCESS_KEY_ID":           "bench",
	"AWS_SECRET_ACCESS_KEY":       "bench",
	"AWS_SESSION_TOKEN":           "",
	"AWS_REGION":                  "us-east-1",
	"AWS_DEFAULT_REGION":          "us-east-1",
	"AWS_PROFILE":                 "",
	"AWS_CONFIG_FILE":             "/dev/null",
	"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	"AWS_EC2_METADATA_DISABLED":   "true",
}

// Functions measured; the keys of lab builds.
const (
	fnReal      = "create-storage"
	fnReference = "reference"
)

var functionPackages = map[string]string{
	fnReal:      "./functions/create-storage",
	fnReference: "./bench/reference",
}

type built struct {
	path string
	err  error
}

// lab is what the sections share: the work directory, the builds, and the
// emulators, each started on first use and stopped by close.
type lab struct {
	ctx        context.Context
	opts       options
	root, work string
	// authorization is the Authorization header of every event sent.
	authorization string

	builds map[string]built

	motoDone bool
	moto     *motoserver.Server
	motoErr  error
	motoLog  string

	fwDone   bool
	fw       *fakeworkspace.Server
	certFile string
	fwErr    error

	seq atomic.Int64
}

func newLab(ctx context.Context, o options, root, work string) *lab {
	return &lab{
		ctx: ctx, opts: o, root: root, work: work,
		authorization: benchkit.Authorization(o.apiToken),
		builds:        map[string]built{},
	}
}

func (l *lab) close() {
	if l.fw != nil {
		l.fw.Close()
	}
	if l.moto != nil {
		l.moto.Stop()
	}
}

// build compiles function fn for linux/goarch with flags, once per
// combination, and returns the bootstrap's path. tag names the flag set.
func (l *lab) build(fn, goarch, tag string, flags []string) (string, error) {
	key := fn + "/" + goarch + "/" + tag
	if b, ok := l.builds[key]; ok {
		return b.path, b.err
	}
	out := filepath.Join(l.work, goarch+"-"+tag, fn, "bootstrap")
	logf("go build %s for linux/%s (%s)", functionPackages[fn], goarch, tag)
	err := benchkit.Build(l.ctx, l.root, functionPackages[fn], out, "linux", goarch, flags)
	l.builds[key] = built{path: out, err: err}
	return out, err
}

// lambdaBuild is the deployed shape of fn for goarch.
func (l *lab) lambdaBuild(fn, goarch string) (string, error) {
	return l.build(fn, goarch, "lambda", benchkit.LambdaBuildFlags)
}

// hostBuild is fn built like the Lambda but for this machine, to run under
// the emulator.
func (l *lab) hostBuild(fn string) (string, error) {
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("the emulator runs linux bootstraps; this is %s", runtime.GOOS)
	}
	return l.lambdaBuild(fn, runtime.GOARCH)
}

// aws starts moto once and points this process's AWS environment at the
// benchmark's credentials and region.
func (l *lab) aws() (*motoserver.Server, error) {
	if l.motoDone {
		return l.moto, l.motoErr
	}
	l.motoDone = true
	bin, err := motoserver.FindBinary(l.root)
	if err != nil {
		l.motoErr = err
		return nil, err
	}
	logf("starting moto (%s)", bin)
	logs, err := os.Create(filepath.Join(l.work, "moto.log"))
	if err != nil {
		l.motoErr = err
		return nil, err
	}
	l.motoLog = logs.Name()
	l.moto, l.motoErr = motoserver.Start(l.ctx, bin, logs)
	if l.motoErr != nil {
		l.motoErr = fmt.Errorf("moto: %w", l.motoErr)
		return nil, l.motoErr
	}
	// Only now: moto (botocore) must not see an empty AWS_PROFILE.
	for k, v := range awsEnv {
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	os.Unsetenv("AWS_ENDPOINT_URL")
	return l.moto, nil
}

// directAWS is an AWS configuration that reaches moto without the proxy,
// for setting up tables.
func (l *lab) directAWS() (aws.Config, error) {
	m, err := l.aws()
	if err != nil {
		return aws.Config{}, err
	}
	return awsconfig.LoadDefaultConfig(l.ctx, awsconfig.WithBaseEndpoint(m.URL))
}

// workspace starts the fake Databricks workspace once (fakeworkspace.Default)
// and writes its certificate to a PEM file for SSL_CERT_FILE.
func (l *lab) workspace() (*fakeworkspace.Server, error) {
	if l.fwDone {
		return l.fw, l.fwErr
	}
	l.fwDone = true
	fw := fakeworkspace.Default()
	if err := fw.Start(); err != nil {
		l.fwErr = fmt.Errorf("fake workspace: %w", err)
		return nil, l.fwErr
	}
	l.fw = fw
	l.certFile = filepath.Join(l.work, "fakeworkspace.pem")
	if err := os.WriteFile(l.certFile, fw.CertPEM(), 0o644); err != nil {
		l.fwErr = err
		return nil, err
	}
	return fw, nil
}

// rie locates the Lambda Runtime Interface Emulator.
func (l *lab) rie() (string, error) { return rie.FindBinary(l.root) }

// newTable creates a fresh storages table in moto, seeds the API token and
// returns the table's name.
func (l *lab) newTable(purpose string) (string, error) {
	cfg, err := l.directAWS()
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("bench-%s-%d-%d", purpose, time.Now().Unix(), l.seq.Add(1))
	if err := dynamostore.EnsureTable(l.ctx, dynamodb.NewFromConfig(cfg), name); err != nil {
		return "", fmt.Errorf("%w\nlast lines of moto's log:\n%s", err, l.motoTail())
	}
	if err := l.seedAPIToken(cfg, name); err != nil {
		return "", fmt.Errorf("seed the API token: %w", err)
	}
	return name, nil
}

// seedAPIToken makes the API key of -api-token valid in table: it mints
// it (all projects) with the service's own token store, as make invoke and
// the local server do. Every event the benchmarks send takes its
// Authorization header from l.authorization (benchkit.Authorization of the
// same key), so the key is set in one place.
func (l *lab) seedAPIToken(cfg aws.Config, table string) error {
	if l.opts.apiToken == "" {
		return nil
	}
	tokens := &tokenstore.Store{Client: dynamodb.NewFromConfig(cfg), Table: table}
	_, _, err := tokens.Mint(l.ctx, tokenstore.MintInput{User: "bench", AllProjects: true, Plaintext: l.opts.apiToken})
	if errors.Is(err, tokenstore.ErrTokenExists) {
		return nil
	}
	return err
}

// secretPrefix is a secret name prefix no other run of the section uses.
func (l *lab) secretPrefix(purpose string) string {
	return fmt.Sprintf("bench/%s/%d-%d/", purpose, time.Now().Unix(), l.seq.Add(1))
}

// functionEnv is the Lambda environment of a function under the emulator:
// the AWS chain pointed at endpoint, the service's configuration, the Go
// runtime setting of template.yaml (deployedGoSetting), and the fake
// workspace trusted and allowed although it listens on 127.0.0.1. The
// emulator, a Go program too, inherits the Go setting with the rest.
func (l *lab) functionEnv(endpoint, table, prefix string) map[string]string {
	env := map[string]string{
		"AWS_ENDPOINT_URL":               endpoint,
		"TABLE_NAME":                     table,
		"SECRET_NAME_PREFIX":             prefix,
		"AWS_LAMBDA_LOG_LEVEL":           "INFO",
		"DATABRICKS_ALLOW_PRIVATE_HOSTS": "true",
		"SSL_CERT_FILE":                  l.certFile,
	}
	if l.fw != nil {
		env["AZURE_AUTHORITY_HOST"] = l.fw.URL()
	}
	for k, v := range awsEnv {
		env[k] = v
	}
	for k, v := range deployedGo {
		env[k] = v
	}
	return env
}

// createEvents loads events/<template> with its body's host pointed at the
// fake workspace.
func (l *lab) createEvents(template string) (*benchkit.CreateEvents, error) {
	fw, err := l.workspace()
	if err != nil {
		return nil, err
	}
	return benchkit.LoadCreateEvents(filepath.Join(l.root, "events", template), fw.URL(), l.authorization)
}

func hostArch() string { return runtime.GOARCH }

// motoTail returns the end of moto's log, for error messages.
func (l *lab) motoTail() string {
	raw, err := os.ReadFile(l.motoLog)
	if err != nil {
		return "(no moto log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
