// Command invoke does what `sam local invoke -e <event>` does, without
// Docker: it builds the function's bootstrap as the Lambda build does (linux,
// stripped, version-stamped) but for this machine's architecture, runs it
// under the Lambda Runtime Interface Emulator with the memory size, timeout
// and environment template.yaml gives it, against moto (or the emulator
// AWS_ENDPOINT_URL names) and a fake workspace, sends the event and prints
// the function's log lines and the response. `make invoke EVENT=...` runs it.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
	"github.com/lsdbx/databricks-storage/internal/dev/rie"
	"github.com/lsdbx/databricks-storage/internal/dev/sampleevents"
	"github.com/lsdbx/databricks-storage/internal/dev/samtemplate"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run() error {
	eventPath := flag.String("event", "", "the event file to send (events/<file>.json)")
	showLogs := flag.Bool("logs", true, "print the function's and the emulator's log lines to stderr")
	function := flag.String("function", "", "create-storage, manage-storage or sweep (default: the function the event goes to in AWS)")
	repeat := flag.Int("repeat", 1, "send the event this many times to the same function and environment (a second direct create replays the first)")
	version := flag.String("version", "dev", "the version stamped into the bootstrap (make invoke: git describe)")
	templatePath := flag.String("template", "template.yaml", "the SAM template whose memory size, timeout and environment the function gets")
	flag.Parse()
	if *eventPath == "" || *repeat < 1 {
		return fmt.Errorf("usage: invoke -event events/<file>.json [-repeat N]")
	}
	payload, err := os.ReadFile(*eventPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	wd, _ := os.Getwd()
	rieBin, err := rie.FindBinary(wd)
	if err != nil {
		return err
	}
	if sampleevents.NeedsSync(payload) {
		return fmt.Errorf("%s is a sync's event: it needs a sync queue and Label Studio, which make invoke does not set up; make run syncs (its worker behind a local queue), and internal/dev/e2e's TestSyncWorkerThroughTheRuntimeEmulator runs the sync worker under the emulator", *eventPath)
	}
	fn := sampleevents.For(payload)
	if *function != "" {
		fn = sampleevents.Function{}
		for _, f := range []sampleevents.Function{sampleevents.Create, sampleevents.Manage, sampleevents.Sweep} {
			if f.Dir == *function {
				fn = f
			}
		}
		if fn.Dir == "" {
			return fmt.Errorf("-function %q: want create-storage, manage-storage or sweep", *function)
		}
	}
	spec, err := samtemplate.Load(*templatePath, fn.LogicalID)
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
	// The function's environment as deployed with default parameters, then
	// the local environment's values over it (AWS, the table, the
	// workspace switches), as --env-vars does for sam local.
	vars := maps.Clone(spec.Env)
	vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(spec.MemorySize)
	vars["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(spec.Timeout)
	vars["AWS_LAMBDA_LOG_LEVEL"] = cmp.Or(os.Getenv("AWS_LAMBDA_LOG_LEVEL"), spec.LogLevel, "INFO")
	maps.Copy(vars, env.Vars())
	fmt.Fprintf(os.Stderr, "AWS at %s, table %s, API token %s (LOCAL_API_TOKEN).\n", env.Endpoint, env.Table, env.Token)
	if env.Workspace != nil {
		var n int
		payload, n = sampleevents.PointAt(payload, env.WorkspaceURL())
		if n > 0 {
			fmt.Fprintf(os.Stderr, "Pointed %d workspace URL(s) in the event at a fake Databricks workspace at %s (LOCAL_FAKE_WORKSPACE=off sends them as they are).\n", n, env.WorkspaceURL())
		}
		if err := handOver(ctx, env, payload); err != nil {
			return err
		}
	}

	dir, err := os.MkdirTemp("", "invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bootstrap, err := rie.BuildLambda(ctx, "./functions/"+fn.Dir, dir, *version)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Invoking %s: functions/%s built for linux/%s (version %s; Lambda runs %s), memory %d MB, timeout %d s, environment from %s.\n",
		fn.LogicalID, fn.Dir, runtime.GOARCH, *version, spec.Architecture, spec.MemorySize, spec.Timeout, *templatePath)
	f, err := rie.Start(ctx, rieBin, bootstrap, vars)
	if err != nil {
		return err
	}
	defer f.Stop()
	for i := 1; i <= *repeat; i++ {
		if *repeat > 1 {
			fmt.Fprintf(os.Stderr, "Invocation %d of %d.\n", i, *repeat)
		}
		out, logs, err := f.InvokeLogged(ctx, payload, 10*time.Second)
		if *showLogs {
			fmt.Fprint(os.Stderr, logs)
		}
		if err != nil {
			return err
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, out, "", "  ") != nil {
			pretty.Write(out)
		}
		fmt.Println(pretty.String())
	}
	return nil
}

// handOver makes the credentials secrets an event names, holding the fake
// workspace's token, as a sender would before queueing the event.
func handOver(ctx context.Context, env *localenv.Env, payload []byte) error {
	sm := secretsmanager.NewFromConfig(env.AWS)
	for _, name := range sampleevents.CredentialsSecretIDs(payload) {
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
