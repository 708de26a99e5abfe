// Command sweep deletes orphan storage secrets: secrets under the secret name
// prefix, managed by this service and older than the grace period, whose
// storage has no record or a record of another secret. It runs the same
// sweep as the scheduled SweepFunction, once, and prints the report.
//
//	sweep [-grace 15m] [-dry-run]
//
// TABLE_NAME (required) names the storages table, SECRET_NAME_PREFIX
// (default label-studio/databricks-storage/) the secrets' prefix and
// SWEEP_GRACE_MINUTES the default of -grace. AWS configuration comes from
// the standard chain (environment, shared files, instance role), so
// AWS_ENDPOINT_URL points it at an emulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// errUsage marks command-line mistakes; main exits with status 2 for them.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(1)
	}
}

// run sweeps once and prints the report to stdout, along with a log line
// for every secret left alone in doubt or not deleted. It reads
// TABLE_NAME, SECRET_NAME_PREFIX and SWEEP_GRACE_MINUTES with getenv and the
// AWS configuration from the standard chain.
func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cfg, cfgErr := sweep.ConfigFromEnv(getenv)
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stdout)
	grace := fs.Duration("grace", cfg.Grace, "how old a secret must be before it can be an orphan; longer than any create can take")
	dryRun := fs.Bool("dry-run", false, "report the orphans without deleting them")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	case *grace <= 0:
		return fmt.Errorf("%w: -grace must be positive, got %s", errUsage, *grace)
	case cfgErr != nil:
		return fmt.Errorf("%w: %w", errUsage, cfgErr)
	}
	cfg.Grace = *grace

	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := sweep.New(awsCfg, cfg, logger)
	s.DryRun = *dryRun
	report, err := s.Sweep(ctx)
	printReport(stdout, cfg, report)
	return err
}

func printReport(w io.Writer, cfg sweep.Config, r sweep.Report) {
	fmt.Fprintf(w, "prefix: %s\ntable: %s\ngrace: %s\ndry run: %t\n", cfg.SecretNamePrefix, cfg.TableName, cfg.Grace, r.DryRun)
	fmt.Fprintf(w, "examined: %d\norphans: %d\ndeleted: %d\nskipped: %d\n", r.Examined, r.Orphans, r.Deleted, r.Skipped)
	for _, name := range r.OrphanNames {
		fmt.Fprintf(w, "orphan: %s\n", name)
	}
	for _, name := range r.SkippedNames {
		fmt.Fprintf(w, "in doubt: %s\n", name)
	}
}
