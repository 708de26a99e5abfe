// Command invoke does what `sam local invoke -e <event>` does, without
// Docker: it builds the real bootstrap, runs it under the Lambda Runtime
// Interface Emulator against moto (or the emulator AWS_ENDPOINT_URL names),
// sends the event and prints the response. `make invoke EVENT=...` runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/motoserver"
	"github.com/lsdbx/databricks-storage/internal/rie"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run() error {
	eventPath := flag.String("event", "", "the event file to send (events/<file>.json)")
	showLogs := flag.Bool("logs", true, "print the function's log lines to stderr")
	flag.Parse()
	if *eventPath == "" {
		return fmt.Errorf("usage: invoke -event events/<file>.json")
	}
	payload, err := os.ReadFile(*eventPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	wd, _ := os.Getwd()

	env := map[string]string{
		"TABLE_NAME":           envOr("TABLE_NAME", "label-studio-databricks-storage-local"),
		"AWS_REGION":           envOr("AWS_REGION", "us-east-1"),
		"AWS_LAMBDA_LOG_LEVEL": envOr("AWS_LAMBDA_LOG_LEVEL", "INFO"),
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	// The function inherits this environment, AWS_ENDPOINT_URL included.
	_, stopAWS, err := motoserver.Ensure(ctx)
	if err != nil {
		return err
	}
	defer stopAWS()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	if err := dynamostore.EnsureTable(ctx, db, env["TABLE_NAME"]); err != nil {
		return err
	}
	// The sample events carry "Authorization: Token local-dev-token".
	apiToken := envOr("LOCAL_API_TOKEN", "local-dev-token")
	tokens := &tokenstore.Store{Client: db, Table: env["TABLE_NAME"]}
	if _, _, err := tokens.Mint(ctx, tokenstore.MintInput{User: "local", AllProjects: true, Plaintext: apiToken}); err != nil && !errors.Is(err, tokenstore.ErrTokenExists) {
		return fmt.Errorf("seed the API token: %w", err)
	}

	if os.Getenv("LOCAL_FAKE_WORKSPACE") != "off" {
		fw := fakeworkspace.Default()
		if err := fw.Start(); err != nil {
			return err
		}
		defer fw.Close()
		certFile := filepath.Join(os.TempDir(), fmt.Sprintf("fake-workspace-%d.pem", os.Getpid()))
		if err := os.WriteFile(certFile, fw.CertPEM(), 0o600); err != nil {
			return err
		}
		defer os.Remove(certFile)
		env[hostguard.EnvAllowPrivateHosts] = "true"
		env["AZURE_AUTHORITY_HOST"] = fw.URL()
		env["SSL_CERT_FILE"] = certFile
		payload = pointAt(payload, fw.URL())
		fmt.Fprintf(os.Stderr, "Workspace hosts in the event point at a fake Databricks workspace at %s (LOCAL_FAKE_WORKSPACE=off to send them as they are).\n", fw.URL())
	}

	rieBin, err := rie.FindBinary(wd)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bootstrap, err := rie.Build(ctx, "./functions/create-storage", dir)
	if err != nil {
		return err
	}
	fn, err := rie.Start(ctx, rieBin, bootstrap, env)
	if err != nil {
		return err
	}
	defer fn.Stop()
	out, err := fn.Invoke(ctx, payload)
	if *showLogs {
		fmt.Fprint(os.Stderr, fn.Logs())
	}
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Write(out)
	}
	fmt.Println(pretty.String())
	return nil
}

// pointAt rewrites every Databricks workspace URL in an event, in its JSON
// and in JSON-in-a-string bodies alike, to the fake workspace.
func pointAt(payload []byte, url string) []byte {
	return workspaceURL.ReplaceAll(payload, []byte(url))
}

var workspaceURL = regexp.MustCompile(`https://[a-z0-9.-]+\.(cloud\.databricks\.com|azuredatabricks\.net|gcp\.databricks\.com)`)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
