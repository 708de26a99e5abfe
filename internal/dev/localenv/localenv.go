// Package localenv is the service's local environment, in one place for
// everything that runs the service away from AWS (make run, make invoke,
// make load, the end-to-end tests and make bench): AWS on moto (or on the
// emulator AWS_ENDPOINT_URL names), the fake Databricks workspace on a free
// loopback port, the configuration that lets the service reach and trust it,
// the table, and a seeded API token with access to all projects.
//
// An Env is used two ways: Vars is the environment of a child process (a
// bootstrap under the Lambda Runtime Interface Emulator, internal/dev/cmd/localapi), and
// AWS, AppOptions, Token and WorkspaceURL are the same values for code that
// builds the service in this process (with Export, app.New loads the AWS
// configuration from the environment exactly as in a Lambda).
package localenv

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/localtable"
	"github.com/lsdbx/databricks-storage/internal/dev/motoserver"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/syncqueue"
	"github.com/lsdbx/databricks-storage/openapi"
)

// DefaultTable is the table when Options.Table is empty.
const DefaultTable = "label-studio-databricks-storage-local"

// Options choose the parts of an environment. The zero value is make run's:
// moto unless AWS_ENDPOINT_URL is set, the fake workspace on a free port,
// DefaultTable, a freshly minted token.
type Options struct {
	// Table is TABLE_NAME; empty means DefaultTable. It is created when
	// missing.
	Table string
	// SecretPrefix is SECRET_NAME_PREFIX; empty leaves the variable alone
	// (the service's default, or what the environment says).
	SecretPrefix string
	// Token is the API token to seed; empty mints a random one. A token
	// that is already stored is reused.
	Token string
	// NoWorkspace leaves the fake workspace out (real workspaces only).
	NoWorkspace bool
	// WorkspaceAddr is where the fake workspace listens; empty means a
	// free loopback port.
	WorkspaceAddr string
	// OwnAWS starts a fresh moto even when AWS_ENDPOINT_URL is set, for
	// runs whose counts must be theirs alone.
	OwnAWS bool
}

// Env is a running local environment. Close stops what Start started.
type Env struct {
	// Endpoint is the AWS endpoint: moto's URL, or AWS_ENDPOINT_URL.
	Endpoint string
	// Moto is the moto server Start started; nil when AWS_ENDPOINT_URL was
	// used.
	Moto *motoserver.Server
	// Workspace is the fake Databricks workspace; nil with NoWorkspace.
	Workspace *fakeworkspace.Server
	// Table is the service's table (TABLE_NAME).
	Table string
	// Token is the seeded API token (all projects).
	Token string
	// AWS is an AWS configuration for Endpoint, for direct calls (set-up,
	// counting, assertions); the service itself loads its own (app.New).
	AWS aws.Config

	vars    map[string]string
	roots   *x509.CertPool
	certDir string
}

// Start brings the environment up: AWS, the fake workspace, the table and
// the token. On error, whatever it started is stopped again.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	e := &Env{Table: o.Table, vars: map[string]string{}}
	if e.Table == "" {
		e.Table = DefaultTable
	}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if err := e.startAWS(ctx, o); err != nil {
		return nil, err
	}
	e.vars["TABLE_NAME"] = e.Table
	if o.SecretPrefix != "" {
		e.vars["SECRET_NAME_PREFIX"] = o.SecretPrefix
	}
	if !o.NoWorkspace {
		if err := e.startWorkspace(o.WorkspaceAddr); err != nil {
			return nil, err
		}
	}
	if err := localtable.Ensure(ctx, dynamodb.NewFromConfig(e.AWS), e.Table); err != nil {
		return nil, err
	}
	if e.Token, err = seedToken(ctx, e.AWS, e.Table, o.Token); err != nil {
		return nil, err
	}
	return e, nil
}

// startAWS starts moto, or takes the emulator of AWS_ENDPOINT_URL with the
// caller's credentials (made-up ones when there are none) and region
// (AWS_DEFAULT_REGION or motoserver.Region when AWS_REGION is unset).
func (e *Env) startAWS(ctx context.Context, o Options) error {
	if url := os.Getenv("AWS_ENDPOINT_URL"); url != "" && !o.OwnAWS {
		e.Endpoint = url
		e.vars["AWS_ENDPOINT_URL"] = url
		var opts []func(*awsconfig.LoadOptions) error
		if os.Getenv("AWS_REGION") == "" {
			region := cmp.Or(os.Getenv("AWS_DEFAULT_REGION"), motoserver.Region)
			e.vars["AWS_REGION"] = region
			opts = append(opts, awsconfig.WithRegion(region))
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			e.vars["AWS_ACCESS_KEY_ID"], e.vars["AWS_SECRET_ACCESS_KEY"] = "local", "local"
			opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return fmt.Errorf("load the AWS configuration for %s: %w", url, err)
		}
		e.AWS = cfg
		return nil
	}
	wd, _ := os.Getwd()
	bin, err := motoserver.FindBinary(wd)
	if err != nil {
		return err
	}
	if e.Moto, err = motoserver.Start(ctx, bin, nil); err != nil {
		return err
	}
	e.Endpoint = e.Moto.URL
	maps.Copy(e.vars, motoserver.Env(e.Moto.URL))
	e.AWS = aws.Config{
		Region:       motoserver.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(e.Moto.URL),
	}
	return nil
}

// startWorkspace starts the fake workspace, lets the service reach it
// (loopback) and use it as the Azure authority, and trusts its certificate:
// in this process through AppOptions, in children through SSL_CERT_FILE.
func (e *Env) startWorkspace(addr string) error {
	var opts []fakeworkspace.Option
	if addr != "" {
		opts = append(opts, fakeworkspace.WithAddr(addr))
	}
	fw := fakeworkspace.Default(opts...)
	if err := fw.Start(); err != nil {
		return fmt.Errorf("start the fake Databricks workspace: %w", err)
	}
	e.Workspace = fw
	// The system's roots too, so that real workspaces stay reachable.
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	roots.AddCert(fw.Certificate())
	e.roots = roots
	if e.certDir, err = os.MkdirTemp("", "localenv-"); err != nil {
		return err
	}
	certFile := filepath.Join(e.certDir, "fake-workspace.pem")
	if err := os.WriteFile(certFile, fw.CertPEM(), 0o600); err != nil {
		return err
	}
	e.vars[hostguard.EnvAllowPrivateHosts] = "true"
	e.vars["AZURE_AUTHORITY_HOST"] = fw.URL()
	e.vars["SSL_CERT_FILE"] = certFile
	return nil
}

// seedToken stores token, or a freshly minted one when it is empty, as an
// API token with access to all projects, and returns it. It is the local
// environment's one use of the token store.
func seedToken(ctx context.Context, cfg aws.Config, table, token string) (string, error) {
	tokens := &tokenstore.Store{Client: dynamodb.NewFromConfig(cfg), Table: table}
	minted, _, err := tokens.Mint(ctx, tokenstore.MintInput{User: "local", AllProjects: true, Plaintext: token})
	if errors.Is(err, tokenstore.ErrTokenExists) {
		return token, nil
	}
	if err != nil {
		return "", fmt.Errorf("seed the local API token: %w", err)
	}
	return minted, nil
}

// Vars is the environment a child process needs, to be added to this
// process's own (as rie.Start does): the AWS variables, TABLE_NAME,
// SECRET_NAME_PREFIX when chosen, and for the fake workspace
// DATABRICKS_ALLOW_PRIVATE_HOSTS, AZURE_AUTHORITY_HOST and SSL_CERT_FILE.
// An empty value stands for an unset variable. The map is the caller's.
func (e *Env) Vars() map[string]string { return maps.Clone(e.vars) }

// Export puts Vars into this process's environment, so that the service
// built in this process (app.New) finds AWS, the table and the workspace
// settings there as a Lambda does. SSL_CERT_FILE is left out: it would
// replace this process's system roots; the workspace is trusted here
// through AppOptions.
func (e *Env) Export() {
	for k, v := range e.vars {
		switch {
		case k == "SSL_CERT_FILE":
		case v == "":
			os.Unsetenv(k)
		default:
			os.Setenv(k, v)
		}
	}
}

// AppOptions are the app.Options of a service built in this process: the
// fake workspace's certificate trusted besides the system's roots.
func (e *Env) AppOptions() app.Options {
	return app.Options{RootCAs: e.roots, OpenAPI: openapi.Document, Sync: syncqueue.Parts, Export: syncqueue.ExportParts}
}

// WorkspaceURL is the fake workspace's base URL, https://127.0.0.1:<port>;
// empty without one.
func (e *Env) WorkspaceURL() string {
	if e.Workspace == nil {
		return ""
	}
	return e.Workspace.URL()
}

// Close stops the workspace and moto (when Start started it) and removes
// the certificate file. It may be called more than once.
func (e *Env) Close() {
	if e.Workspace != nil {
		e.Workspace.Close()
	}
	if e.Moto != nil {
		e.Moto.Stop()
	}
	if e.certDir != "" {
		os.RemoveAll(e.certDir)
	}
}
