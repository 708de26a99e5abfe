// Command tokens mints, lists and revokes the API tokens callers present as
// "Authorization: Token <key>".
//
//	tokens create -user alice [-org acme] (-projects 1,2,3 | -all-projects) [-expires 720h]
//	tokens list
//	tokens revoke <token_id>
//
// Every command takes -table; it defaults to $TABLE_NAME. AWS configuration
// comes from the standard chain (environment, shared files, instance role),
// so AWS_ENDPOINT_URL points it at an emulator, with the functions' retries
// and timeouts (package awsclients).
//
// create prints the plaintext token once; only its hash is stored.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
)

const usage = `usage:
  tokens create -user NAME [-org ORG] (-projects 1,2,3 | -all-projects) [-expires 720h] [-table TABLE]
  tokens list [-table TABLE]
  tokens revoke TOKEN_ID [-table TABLE]

The table defaults to $TABLE_NAME.
`

// errUsage marks command-line mistakes; main exits with status 2 for them.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "tokens:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tokens:", err)
		os.Exit(1)
	}
}

// run executes one command. It reads the table name from getenv and the AWS
// configuration from the standard chain.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command", errUsage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "create":
		return runCreate(ctx, args, stdout, stderr, getenv)
	case "list":
		return runList(ctx, args, stdout, stderr, getenv)
	case "revoke":
		return runRevoke(ctx, args, stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
}

// newFlags returns a flag set for a command with the shared -table flag.
// The flag's own default is empty, so that -h names $TABLE_NAME once
// instead of also printing its value; tableName applies the fallback.
func newFlags(name string, stderr io.Writer, getenv func(string) string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("tokens "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", "", "DynamoDB table (default $TABLE_NAME)")
	return fs, table
}

// tableName is -table, else $TABLE_NAME.
func tableName(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	return strings.TrimSpace(getenv(config.EnvTableName))
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}

// openStore loads the AWS configuration and returns a store over table.
func openStore(ctx context.Context, table string) (*tokenstore.Store, error) {
	if table == "" {
		return nil, fmt.Errorf("%w: no table: pass -table or set TABLE_NAME", errUsage)
	}
	cfg, err := awsclients.Load(ctx)
	if err != nil {
		return nil, err
	}
	return &tokenstore.Store{Client: awsclients.New(cfg).DynamoDB, Table: table}, nil
}

func runCreate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, table := newFlags("create", stderr, getenv)
	user := fs.String("user", "", "user the token is issued to (required)")
	org := fs.String("org", "", "organization (optional)")
	projects := fs.String("projects", "", "comma-separated project ids the token may manage")
	all := fs.Bool("all-projects", false, "the token may manage every project")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: never expires)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *user == "" {
		return fmt.Errorf("%w: -user is required", errUsage)
	}
	in := tokenstore.MintInput{User: *user, Organization: *org, AllProjects: *all}
	if (*projects == "") == !*all {
		return fmt.Errorf("%w: give exactly one of -projects and -all-projects", errUsage)
	}
	if *projects != "" {
		ids, err := parseProjects(*projects)
		if err != nil {
			return err
		}
		in.Projects = ids
	}
	if *expires < 0 {
		return fmt.Errorf("%w: -expires must be positive", errUsage)
	}
	if *expires > 0 {
		t := time.Now().Add(*expires)
		in.ExpiresAt = &t
	}
	store, err := openStore(ctx, tableName(*table, getenv))
	if err != nil {
		return err
	}
	plaintext, tok, err := store.Mint(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token_id: %s\ntoken: %s\n", tok.TokenID, plaintext)
	fmt.Fprintln(stderr, "Store the token now: it is not shown again and cannot be recovered.")
	return nil
}

// parseProjects parses "1,2,3" into positive project ids.
func parseProjects(s string) ([]int64, error) {
	var ids []int64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%w: -projects: %q is not a positive project id", errUsage, f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func runList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, table := newFlags("list", stderr, getenv)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	store, err := openStore(ctx, tableName(*table, getenv))
	if err != nil {
		return err
	}
	tokens, err := store.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN_ID\tUSER\tORG\tPROJECTS\tCREATED\tEXPIRES\tREVOKED")
	for _, t := range tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TokenID, orDash(t.User), orDash(t.Organization),
			projectList(t), t.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(t.ExpiresAt), timeOrDash(t.RevokedAt))
	}
	return tw.Flush()
}

func projectList(t auth.Token) string {
	if t.AllProjects {
		return "all"
	}
	parts := make([]string, len(t.Projects))
	for i, p := range t.Projects {
		parts[i] = strconv.FormatInt(p, 10)
	}
	return orDash(strings.Join(parts, ","))
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runRevoke(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, table := newFlags("revoke", stderr, getenv)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: revoke takes a token id", errUsage)
	}
	id := fs.Arg(0)
	// Allow flags after the id too: "revoke ID -table T".
	if err := parse(fs, fs.Args()[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: revoke takes exactly one token id", errUsage)
	}
	store, err := openStore(ctx, tableName(*table, getenv))
	if err != nil {
		return err
	}
	if err := store.Revoke(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s\n", id)
	return nil
}
