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
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"

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

	dir, err := os.MkdirTemp("", "invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bootstrap, err := rie.Build(ctx, "./functions/create-storage", dir)
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
