//go:build integration

package main

import (
	"bytes"
	"context"
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
	getenv := env(map[string]string{"TABLE_NAME": table, "SECRET_NAME_PREFIX": prefix})
	// The secrets were just made; the grace period (at least five minutes)
	// protects them from a run at the real time. Sweeps an hour later take
	// the one without its record for an orphan.
	later := func() time.Time { return time.Now().Add(time.Hour) }

	steps := []struct {
		name   string
		before func(t *testing.T)
		args   []string
		now    func() time.Time
		lines  []string // lines the output must contain
		left   []string // secrets left afterwards
	}{
		{"grace protects the fresh orphan", nil, nil, time.Now,
			[]string{"grace: 15m0s", "examined: 2", "orphans: 0", "deleted: 0"},
			[]string{secrets.Name(1), secrets.Name(2)}},
		{"shortest grace protects it too", nil, []string{"-grace", "5m"}, time.Now,
			[]string{"grace: 5m0s", "examined: 2", "orphans: 0"},
			[]string{secrets.Name(1), secrets.Name(2)}},
		{"dry run", nil, []string{"-dry-run"}, later,
			[]string{"dry run: true", "examined: 2", "orphans: 1", "deleted: 0", "orphan: " + secrets.Name(2)},
			[]string{secrets.Name(1), secrets.Name(2)}},
		{"sweep", nil, []string{"-grace=30m"}, later,
			[]string{"grace: 30m0s", "dry run: false", "examined: 2", "orphans: 1", "deleted: 1", "orphan: " + secrets.Name(2)},
			[]string{secrets.Name(1)}},
		{"second sweep", nil, nil, later,
			[]string{"examined: 1", "orphans: 0", "deleted: 0"},
			[]string{secrets.Name(1)}},
		{"default grace protects a fresh orphan", func(t *testing.T) {
			if _, _, err := secrets.CreateSecret(ctx, core.NewSecret{StorageID: 3, Project: 1, Values: map[string]string{"token": "dapi-cli-secret"}}); err != nil {
				t.Fatal(err)
			}
		}, nil, time.Now,
			[]string{"grace: 15m0s", "examined: 2", "orphans: 0"},
			[]string{secrets.Name(1), secrets.Name(3)}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			var out bytes.Buffer
			if err := run(ctx, st.args, &out, getenv, st.now); err != nil {
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
