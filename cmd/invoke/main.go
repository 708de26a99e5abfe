// Command invoke does what `sam local invoke -e <event>` does, without
// Docker: it builds the real bootstrap, runs it under the Lambda Runtime
// Interface Emulator against moto (or the emulator AWS_ENDPOINT_URL names),
// sends the event and prints the response. `make invoke EVENT=...` runs it.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lsdbx/databricks-storage/internal/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/localenv"
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
	function := flag.String("function", "", "create-storage or manage-storage (default: the function the event's route or operation goes to)")
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
	rieBin, err := rie.FindBinary(wd)
	if err != nil {
		return err
	}

	env, err := localenv.Start(ctx, localenv.Options{
		Table: os.Getenv("TABLE_NAME"),
		// The sample events carry "Authorization: Token local-dev-token".
		Token:         cmp.Or(os.Getenv("LOCAL_API_TOKEN"), "local-dev-token"),
		NoWorkspace:   os.Getenv("LOCAL_FAKE_WORKSPACE") == "off",
		WorkspaceAddr: os.Getenv("LOCAL_FAKE_WORKSPACE_ADDR"),
	})
	if err != nil {
		return err
	}
	defer env.Close()
	vars := env.Vars()
	vars["AWS_LAMBDA_LOG_LEVEL"] = cmp.Or(os.Getenv("AWS_LAMBDA_LOG_LEVEL"), "INFO")
	fmt.Fprintf(os.Stderr, "AWS at %s, table %s, API token %s (LOCAL_API_TOKEN).\n", env.Endpoint, env.Table, env.Token)
	if env.Workspace != nil {
		payload = pointAt(payload, env.WorkspaceURL())
		fmt.Fprintf(os.Stderr, "Workspace hosts in the event point at a fake Databricks workspace at %s (LOCAL_FAKE_WORKSPACE=off to send them as they are).\n", env.WorkspaceURL())
	}

	if env.Workspace != nil {
		if err := handOver(ctx, env, payload); err != nil {
			return err
		}
	}
	if *function == "" {
		*function = functionFor(payload)
	}
	fmt.Fprintf(os.Stderr, "Invoking %s.\n", *function)

	dir, err := os.MkdirTemp("", "invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bootstrap, err := rie.Build(ctx, "./functions/"+*function, dir)
	if err != nil {
		return err
	}
	fn, err := rie.Start(ctx, rieBin, bootstrap, vars)
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

// functionFor tells which function an event goes to in AWS: the manage
// function serves every route but POST /api/storages/databricks/ and the
// direct get, update and delete; the create function everything else.
func functionFor(payload []byte) string {
	var ev struct {
		Operation  string `json:"operation"`
		HTTPMethod string `json:"httpMethod"`
		Path       string `json:"path"`
		RawPath    string `json:"rawPath"`
		Context    struct {
			HTTP struct {
				Method string `json:"method"`
			} `json:"http"`
		} `json:"requestContext"`
	}
	_ = json.Unmarshal(payload, &ev)
	method, path := cmp.Or(ev.Context.HTTP.Method, ev.HTTPMethod), cmp.Or(ev.RawPath, ev.Path)
	switch {
	case ev.Operation != "" && ev.Operation != "create":
		return "manage-storage"
	case method != "" && strings.HasPrefix(path, "/api/storages/databricks") &&
		!(method == "POST" && strings.TrimSuffix(path, "/") == "/api/storages/databricks"):
		return "manage-storage"
	}
	return "create-storage"
}

// handedOverID finds the credentials secrets an event names, in its JSON
// and in JSON-in-a-string bodies alike.
var handedOverID = regexp.MustCompile(`credentials_secret_id\\?"\s*:\s*\\?"([^"\\]+)`)

// handOver makes the credentials secrets an event names, holding the fake
// workspace's token, as a sender would before queueing the event.
func handOver(ctx context.Context, env *localenv.Env, payload []byte) error {
	sm := secretsmanager.NewFromConfig(env.AWS)
	for _, m := range handedOverID.FindAllSubmatch(payload, -1) {
		name := string(m[1])
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         aws.String(name),
			SecretString: aws.String(`{"token": "` + fakeworkspace.DefaultPAT + `"}`),
		})
		var exists *smtypes.ResourceExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("hand over the credentials in %s: %w", name, err)
		}
		fmt.Fprintf(os.Stderr, "Made the credentials secret %s the event names (the fake workspace's token).\n", name)
	}
	return nil
}
