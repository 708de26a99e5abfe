// Command sweep deletes orphan storage secrets: secrets under the secret name
// prefix, managed by this service and older than the grace period, whose
// storage has no record or a record of another secret. It runs the same
// sweep as the scheduled SweepFunction, once, and prints the report.
//
//	sweep [-grace 15m] [-dry-run]
//
// It reads the SweepFunction's variables (package config): TABLE_NAME
// (required) names the storages table, SECRET_NAME_PREFIX (default
// label-studio/databricks-storage/, ending with "/") the secrets' prefix and
// SWEEP_GRACE_MINUTES the default of -grace; -grace has the same bounds (5m
// to 168h), so no run can delete the secret of a create in flight. AWS
// configuration comes from the standard chain (environment, shared files,
// instance role), so AWS_ENDPOINT_URL points it at an emulator, with the
// functions' retries and timeouts (package awsclients).
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
	"time"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// errUsage marks command-line mistakes; main exits with status 2 for them.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv, time.Now)
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
// for every secret left alone in doubt or not deleted. It reads the
// configuration with getenv (package config, as the SweepFunction does),
// the AWS configuration from the standard chain (package awsclients), and
// the time from now.
func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string, now func() time.Time) error {
	cfg, cfgErr := config.FromEnv(getenv)
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stdout)
	grace := fs.Duration("grace", cfg.SweepGrace, fmt.Sprintf("how old a secret must be before it can be an orphan, %s to %s: longer than any create can take", config.MinSweepGrace, config.MaxSweepGrace))
	dryRun := fs.Bool("dry-run", false, "report the orphans without deleting them")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if err := config.CheckSweepGrace(*grace); err != nil {
		return fmt.Errorf("%w: -grace: %w", errUsage, err)
	}
	if cfgErr != nil {
		return fmt.Errorf("%w: %w", errUsage, cfgErr)
	}
	cfg.SweepGrace = *grace

	awsCfg, err := awsclients.Load(ctx)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := sweep.New(awsCfg, cfg, logger)
	s.DryRun = *dryRun
	s.Now = now
	report, err := s.Sweep(ctx)
	printReport(stdout, cfg, report)
	return err
}

func printReport(w io.Writer, cfg config.Config, r sweep.Report) {
	fmt.Fprintf(w, "prefix: %s\ntable: %s\ngrace: %s\ndry run: %t\n", cfg.SecretNamePrefix, cfg.TableName, cfg.SweepGrace, r.DryRun)
	fmt.Fprintf(w, "examined: %d\norphans: %d\ndeleted: %d\nskipped: %d\n", r.Examined, r.Orphans, r.Deleted, r.Skipped)
	for _, name := range r.OrphanNames {
		fmt.Fprintf(w, "orphan: %s\n", name)
	}
	for _, name := range r.SkippedNames {
		fmt.Fprintf(w, "in doubt: %s\n", name)
	}
}
