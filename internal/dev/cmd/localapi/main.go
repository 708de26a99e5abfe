// Command localapi runs the service on this machine, in the local
// environment of package localenv (moto unless AWS_ENDPOINT_URL points at an
// emulator already, the fake workspace on a free port, the table, a seeded
// token), and serves the API on 127.0.0.1:$PORT (8080, or a free port when
// PORT is unset and 8080 is taken; 0 takes a free port)
// by turning each HTTP request into an API Gateway event for the Lambda's own
// handler. It prints the addresses and the token. `make run` starts it.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/localapi"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
	"github.com/lsdbx/databricks-storage/internal/dev/sqspoller"
	"github.com/lsdbx/databricks-storage/internal/exportapp"
	"github.com/lsdbx/databricks-storage/internal/filesapp"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/syncapp"
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

	env, err := localenv.Start(ctx, localenv.Options{
		Table:         os.Getenv("TABLE_NAME"),
		Token:         os.Getenv("LOCAL_API_TOKEN"),
		NoWorkspace:   os.Getenv("LOCAL_FAKE_WORKSPACE") == "off",
		WorkspaceAddr: os.Getenv("LOCAL_FAKE_WORKSPACE_ADDR"),
	})
	if err != nil {
		return err
	}
	defer env.Close()
	if env.Moto != nil {
		fmt.Printf("Started moto (local AWS) at %s; table %s\n", env.Endpoint, env.Table)
	} else {
		fmt.Printf("Using the AWS endpoint at AWS_ENDPOINT_URL=%s; table %s\n", env.Endpoint, env.Table)
	}
	exampleHost := "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"
	if env.Workspace != nil {
		exampleHost = env.WorkspaceURL()
		fmt.Printf(`Started a fake Databricks workspace at %s (LOCAL_FAKE_WORKSPACE=off to use real workspaces):
  volume main.default.landing, prefix "images"; PAT %s;
  dbx_sp client %s / %s; azure_ad_sp tenant %s, client %s / %s
`, exampleHost, fakeworkspace.DefaultPAT, fakeworkspace.DefaultSPClientID, fakeworkspace.DefaultSPClientSecret,
			fakeworkspace.DefaultAzureTenant, fakeworkspace.DefaultAzureClientID, fakeworkspace.DefaultAzureClientSecret)
	}

	env.Export()
	ls, err := startLabelStudio(ctx, env)
	if err != nil {
		return err
	}
	defer ls.stop()
	listener, err := listen(os.Getenv("PORT"))
	if err != nil {
		return err
	}
	addr := listener.Addr().String()
	// Label Studio mode syncs: a local sync queue, and the front door's
	// address in the synced tasks' file links (unless FILES_BASE_URL names
	// another address in front of it, as a test's recording proxy does).
	var syncQueue, exportQueue *sqspoller.Queue
	if ls.url != nil {
		visibility := syncVisibility
		if v := os.Getenv("LOCAL_SYNC_VISIBILITY_SECONDS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("LOCAL_SYNC_VISIBILITY_SECONDS=%q: want a positive number of seconds", v)
			}
			visibility = time.Duration(n) * time.Second
		}
		if syncQueue, err = sqspoller.Create(ctx, env.AWS, "sync-steps", visibility, core.SyncMaxReceives); err != nil {
			return err
		}
		os.Setenv("SYNC_QUEUE_URL", syncQueue.URL)
		// Export storages' writes: the queue the export writer polls.
		if exportQueue, err = sqspoller.Create(ctx, env.AWS, "export-writes", visibility, core.SyncMaxReceives); err != nil {
			return err
		}
		os.Setenv("EXPORT_QUEUE_URL", exportQueue.URL)
		if os.Getenv("FILES_BASE_URL") == "" {
			os.Setenv("FILES_BASE_URL", "http://"+addr)
		}
	}
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.Hosts.AllowPrivate {
		fmt.Println("WARNING: DATABRICKS_ALLOW_PRIVATE_HOSTS is on: loopback and private workspace hosts are accepted. For local testing only.")
	}
	opts := env.AppOptions()
	opts.Version = "local"
	service, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	if ls.url == nil {
		fmt.Printf("API token with access to all projects: %s (fix it with LOCAL_API_TOKEN)\n", env.Token)
	}

	if syncQueue != nil {
		worker, err := syncapp.New(service.AWS, cfg, logger, opts.RootCAs)
		if err != nil {
			return err
		}
		// Lambda's event source mapping: BatchSize 1, a few at once.
		go syncQueue.Poll(ctx, syncPollers, worker.HandleSQS, logger)
	}
	if exportQueue != nil {
		writer, err := exportapp.New(service.AWS, cfg, logger, opts.RootCAs)
		if err != nil {
			return err
		}
		// As the template's MaximumConcurrency bounds the export writer.
		go exportQueue.Poll(ctx, exportPollers, writer.HandleSQS, logger)
	}
	// The file route, as the files function serves it behind the front door.
	files := filesapp.NewFiles(service.AWS, cfg, logger, filesapp.FilesOptions{RootCAs: opts.RootCAs, Version: opts.Version})
	var handler http.Handler = localapi.WithFiles(localapi.Handler{Lambda: service.Dispatcher}, files)
	if ls.url != nil {
		handler = localapi.FrontDoor(handler, ls.url)
		ls.describe(addr, exampleHost)
	}
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if ls.url == nil {
		fmt.Println(localapi.Describe(addr))
		fmt.Printf(`Try:
  curl -s -X POST http://%s/api/storages/databricks/ \
    -H 'Authorization: Token %s' \
    -H 'Content-Type: application/json' \
    -d '{"project": 1, "host": "%s", "catalog": "main", "schema": "default", "volume": "landing", "prefix": "images", "token": "%s"}'
Press Ctrl+C to stop.
`, addr, env.Token, exampleHost, fakeworkspace.DefaultPAT)
	}

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

// syncVisibility is the local sync queue's visibility timeout: a failed
// step comes back after it (in AWS, 200 s; here short, so that a fault
// heals within a test). It bounds nothing but the wait: the step's lease
// is longer, so a step of a crashed process is not taken up before it.
// A step that runs longer is delivered again meanwhile, finds the lease
// taken and waits another round: make bench sets
// LOCAL_SYNC_VISIBILITY_SECONDS to the template's 200 so that its figures
// hold no such extra deliveries.
const syncVisibility = 2 * time.Second

// syncPollers is how many sync messages are run at once, as the template's
// MaximumConcurrency bounds the sync worker.
const syncPollers = 4

// exportPollers is how many export messages are run at once.
const exportPollers = 8

// listen listens on 127.0.0.1:port; PORT=0 takes a free port. Without a
// PORT it tries 8080 and, when another process has it (a shared machine),
// takes a free port: the banner says which.
func listen(port string) (net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cmp.Or(port, "8080")))
	if err != nil && port == "" {
		fmt.Printf("127.0.0.1:8080 is taken (%v); listening on a free port instead.\n", err)
		return net.Listen("tcp", "127.0.0.1:0")
	}
	return l, err
}
