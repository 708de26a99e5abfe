// Command localapi runs the service on this machine: it starts moto (unless
// AWS_ENDPOINT_URL points at an emulator already), creates the table, and
// serves the API on 127.0.0.1:$PORT by turning each HTTP request into an API
// Gateway event for the Lambda's own handler. `make run` starts it.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/localapi"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/motoserver"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localapi:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := logging.New(os.Stderr, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))

	setDefault("TABLE_NAME", "label-studio-databricks-storage-local")
	setDefault("AWS_REGION", "us-east-1")
	started := os.Getenv("AWS_ENDPOINT_URL") == ""
	endpoint, stopAWS, err := motoserver.Ensure(ctx)
	if err != nil {
		return err
	}
	defer stopAWS()
	if started {
		fmt.Printf("Started moto (local AWS) at %s\n", endpoint)
	} else {
		fmt.Printf("Using the AWS endpoint at AWS_ENDPOINT_URL=%s\n", endpoint)
	}

	exampleHost := "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"
	var opts app.Options
	if envOr("LOCAL_FAKE_WORKSPACE", "on") != "off" {
		fw := fakeworkspace.Default(fakeworkspace.WithAddr(envOr("LOCAL_FAKE_WORKSPACE_ADDR", fakeworkspace.DefaultAddr)))
		if err := fw.Start(); err != nil {
			return fmt.Errorf("start the fake Databricks workspace (LOCAL_FAKE_WORKSPACE=off to go without): %w", err)
		}
		defer fw.Close()
		setDefault(hostguard.EnvAllowPrivateHosts, "true")
		setDefault("AZURE_AUTHORITY_HOST", fw.URL())
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		roots.AddCert(fw.Certificate())
		opts.RootCAs = roots
		exampleHost = fw.URL()
		fmt.Printf(`Started a fake Databricks workspace at %s (LOCAL_FAKE_WORKSPACE=off to use real workspaces):
  volume main.default.landing, prefix "images"; PAT %s;
  dbx_sp client %s / %s; azure_ad_sp tenant %s, client %s / %s
`, fw.URL(), fakeworkspace.DefaultPAT, fakeworkspace.DefaultSPClientID, fakeworkspace.DefaultSPClientSecret,
			fakeworkspace.DefaultAzureTenant, fakeworkspace.DefaultAzureClientID, fakeworkspace.DefaultAzureClientSecret)
	}

	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	cfg.Version = "local"
	if cfg.Hosts.AllowPrivate {
		fmt.Println("WARNING: DATABRICKS_ALLOW_PRIVATE_HOSTS is on: loopback and private workspace hosts are accepted. For local testing only.")
	}
	service, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	if err := dynamostore.EnsureTable(ctx, dynamodb.NewFromConfig(service.AWS), cfg.TableName); err != nil {
		return err
	}
	apiToken, err := seedToken(ctx, service.Tokens, os.Getenv("LOCAL_API_TOKEN"))
	if err != nil {
		return err
	}
	fmt.Printf("API token with access to all projects: %s (fix it with LOCAL_API_TOKEN)\n", apiToken)

	addr := net.JoinHostPort("127.0.0.1", envOr("PORT", "8080"))
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: localapi.Handler{Lambda: service.Dispatcher}, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println(localapi.Describe(addr))
	fmt.Printf(`Try:
  curl -s -X POST http://%s/api/storages/databricks/ \
    -H 'Authorization: Token %s' \
    -H 'Content-Type: application/json' \
    -d '{"project": 1, "host": "%s", "catalog": "main", "schema": "default", "volume": "landing", "prefix": "images", "token": "%s"}'
Press Ctrl+C to stop.
`, addr, apiToken, exampleHost, fakeworkspace.DefaultPAT)

	errc := make(chan error, 1)
	go func() { errc <- server.Serve(listener) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	logger.Info("shutting down")
	return server.Shutdown(shutdownCtx)
}

// seedToken makes sure a local token with access to all projects exists:
// the fixed one when given, else a freshly minted one.
func seedToken(ctx context.Context, tokens *tokenstore.Store, fixed string) (string, error) {
	token, _, err := tokens.Mint(ctx, tokenstore.MintInput{User: "local", AllProjects: true, Plaintext: fixed})
	if errors.Is(err, tokenstore.ErrTokenExists) {
		return fixed, nil
	}
	if err != nil {
		return "", fmt.Errorf("seed the local API token: %w", err)
	}
	return token, nil
}

func setDefault(name, value string) {
	if os.Getenv(name) == "" {
		os.Setenv(name, value)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
