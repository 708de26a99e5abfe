//go:build integration

package sweep_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// An import and an export storage may have the same id: the sweep looks a
// secret's record up among its own kind's records (the name says which),
// so it finds the orphans of both kinds and never keeps one because the
// other kind's storage with its id exists — nor deletes one for it.
func TestSweepTellsImportFromExportSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	exportRecords := &dynamostore.Store{Client: e.records.Client, Table: e.records.Table, Kind: storage.KindExport}
	stores := map[storage.Kind]*secretstore.Store{
		storage.KindImport: e.secrets,
		storage.KindExport: {Client: e.sm, Prefix: e.prefix, Kind: storage.KindExport},
	}
	records := map[storage.Kind]*dynamostore.Store{storage.KindImport: e.records, storage.KindExport: exportRecords}
	secret := func(kind storage.Kind, id int64) string {
		arn, _, err := stores[kind].CreateSecret(ctx, core.NewSecret{StorageID: id, Project: 1, Values: map[string]string{"token": secretValue}})
		if err != nil {
			t.Fatal(err)
		}
		return arn
	}
	record := func(kind storage.Kind, id int64, arn string) {
		r := storage.Record{SecretARN: arn, Storage: storage.Storage{ID: id, Type: storage.StorageType, CreatedAt: time.Now().UTC(),
			Settings: storage.Settings{Kind: kind, Project: 1, Host: "https://h", Catalog: "c", Schema: "s", Volume: "v", AuthType: storage.AuthPAT}}}
		if err := records[kind].PutStorage(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	name := func(kind storage.Kind, id int64) string { return stores[kind].Name(id) }

	// 1: both kinds have a storage. 2: only the import storage (the export
	// secret is an orphan). 3: only the export storage (the import secret
	// is an orphan). 4: each kind's record refers to the other kind's
	// secret (both secrets are orphans).
	record(storage.KindImport, 1, secret(storage.KindImport, 1))
	record(storage.KindExport, 1, secret(storage.KindExport, 1))
	record(storage.KindImport, 2, secret(storage.KindImport, 2))
	secret(storage.KindExport, 2)
	secret(storage.KindImport, 3)
	record(storage.KindExport, 3, secret(storage.KindExport, 3))
	imp4, exp4 := secret(storage.KindImport, 4), secret(storage.KindExport, 4)
	record(storage.KindImport, 4, exp4)
	record(storage.KindExport, 4, imp4)

	orphans := []string{name(storage.KindExport, 2), name(storage.KindImport, 3), name(storage.KindImport, 4), name(storage.KindExport, 4)}
	slices.Sort(orphans)
	var logs bytes.Buffer
	s := &sweep.Sweeper{
		Secrets: e.sm, Records: e.records, ExportRecords: exportRecords, Prefix: e.prefix, Grace: config.DefaultSweepGrace,
		Now: func() time.Time { return time.Now().Add(2 * config.DefaultSweepGrace) }, Logger: newLogger(&logs),
	}
	report, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(report.OrphanNames)
	slices.Sort(got)
	if !slices.Equal(got, orphans) || report.Skipped != 0 || report.Examined != 8 {
		t.Fatalf("report %+v, want orphans %v and nothing skipped", report, orphans)
	}
	want := []string{name(storage.KindImport, 1), name(storage.KindExport, 1), name(storage.KindImport, 2), name(storage.KindExport, 3)}
	slices.Sort(want)
	if left := remaining(t, e.prefix); !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}

	// Without the export records, export secrets are in doubt: left alone.
	secret(storage.KindExport, 5)
	s.ExportRecords = nil
	report, err = s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if report.Orphans != 0 || !slices.Contains(report.SkippedNames, name(storage.KindExport, 5)) {
		t.Errorf("without export records: %+v", report)
	}
}
