//go:build integration

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env returns a getenv that knows only the given variables.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestRunSweeps(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.AWSConfig(t)
	table, prefix := testenv.NewTable(t), testenv.NewSecretPrefix(t)
	secrets := &secretstore.Store{Client: secretsmanager.NewFromConfig(cfg), Prefix: prefix}
	records := &dynamostore.Store{Client: dynamodb.NewFromConfig(cfg), Table: table}

	// Storage 1 has its record; storage 2 lost it (the orphan).
	for id := int64(1); id <= 2; id++ {
		arn, _, err := secrets.CreateSecret(ctx, core.NewSecret{StorageID: id, Project: 1, Values: map[string]string{"token": "dapi-cli-secret"}})
		if err != nil {
			t.Fatal(err)
		}
		if id == 1 {
			r := storage.Record{Storage: storage.Storage{ID: id, Type: "databricks", CreatedAt: time.Now(), Settings: storage.Settings{Project: 1}}, SecretARN: arn}
			if err := records.PutStorage(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The CLI cannot move the clock: age the secrets past a 1 s grace.
	time.Sleep(1100 * time.Millisecond)
	getenv := env(map[string]string{"TABLE_NAME": table, "SECRET_NAME_PREFIX": prefix})

	steps := []struct {
		name   string
		before func(t *testing.T)
		args   []string
		lines  []string // lines the output must contain
		left   []string // secrets left afterwards
	}{
		{"dry run", nil, []string{"-grace", "1s", "-dry-run"},
			[]string{"dry run: true", "examined: 2", "orphans: 1", "deleted: 0", "orphan: " + secrets.Name(2)},
			[]string{secrets.Name(1), secrets.Name(2)}},
		{"sweep", nil, []string{"-grace=1s"},
			[]string{"dry run: false", "examined: 2", "orphans: 1", "deleted: 1", "orphan: " + secrets.Name(2)},
			[]string{secrets.Name(1)}},
		{"second sweep", nil, []string{"-grace", "1s"},
			[]string{"examined: 1", "orphans: 0", "deleted: 0"},
			[]string{secrets.Name(1)}},
		{"default grace protects a fresh orphan", func(t *testing.T) {
			if _, _, err := secrets.CreateSecret(ctx, core.NewSecret{StorageID: 3, Project: 1, Values: map[string]string{"token": "dapi-cli-secret"}}); err != nil {
				t.Fatal(err)
			}
		}, nil,
			[]string{"grace: 15m0s", "examined: 2", "orphans: 0"},
			[]string{secrets.Name(1), secrets.Name(3)}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			var out bytes.Buffer
			if err := run(ctx, st.args, &out, getenv); err != nil {
				t.Fatalf("run %v: %v\n%s", st.args, err, out.String())
			}
			lines := strings.Split(out.String(), "\n")
			for _, want := range st.lines {
				if !slices.Contains(lines, want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "dapi-cli-secret") {
				t.Error("a secret value was printed")
			}
			left := testenv.SecretNames(t, prefix)
			slices.Sort(left)
			if !slices.Equal(left, st.left) {
				t.Errorf("secrets left = %v, want %v", left, st.left)
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	ok := map[string]string{"TABLE_NAME": "some-table"}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want error
		text string
	}{
		{"help", []string{"-h"}, ok, flag.ErrHelp, ""},
		{"unknown flag", []string{"-force"}, ok, errUsage, "flag provided but not defined"},
		{"bad duration", []string{"-grace", "soon"}, ok, errUsage, "invalid value"},
		{"zero grace", []string{"-grace", "0s"}, ok, errUsage, "-grace must be positive"},
		{"negative grace", []string{"-grace=-1m"}, ok, errUsage, "-grace must be positive"},
		{"extra argument", []string{"now"}, ok, errUsage, "unexpected arguments"},
		{"no table", nil, map[string]string{}, errUsage, "TABLE_NAME is required"},
		{"bad SWEEP_GRACE_MINUTES", nil, map[string]string{"TABLE_NAME": "t", "SWEEP_GRACE_MINUTES": "0"}, errUsage, "SWEEP_GRACE_MINUTES must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), c.args, &out, env(c.env))
			if !errors.Is(err, c.want) {
				t.Fatalf("error = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error()+out.String(), c.text) {
				t.Errorf("error %q / output %q lacks %q", err, out.String(), c.text)
			}
		})
	}
}
