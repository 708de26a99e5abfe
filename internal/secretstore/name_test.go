package secretstore_test

import (
	"testing"

	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Each kind's secret names are its own, and ParseName reads back exactly
// the names KindName writes.
func TestSecretNamesOfEachKind(t *testing.T) {
	const prefix = "ls/dbx/"
	for _, tc := range []struct {
		name string
		kind storage.Kind
		id   int64
		ok   bool
	}{
		{"ls/dbx/storage-7", storage.KindImport, 7, true},
		{"ls/dbx/export-storage-7", storage.KindExport, 7, true},
		{"ls/dbx/export-storage-07", 0, 0, false},
		{"ls/dbx/storage-0", 0, 0, false},
		{"ls/dbx/storage--1", 0, 0, false},
		{"ls/dbx/storage-7x", 0, 0, false},
		{"ls/dbx/incoming/storage-7", 0, 0, false},
		{"ls/other/storage-7", 0, 0, false},
		{"ls/dbx/import-storage-7", 0, 0, false},
	} {
		kind, id, ok := secretstore.ParseName(prefix, tc.name)
		if ok != tc.ok || (ok && (kind != tc.kind || id != tc.id)) {
			t.Errorf("ParseName(%q) = %v %d %v, want %v %d %v", tc.name, kind, id, ok, tc.kind, tc.id, tc.ok)
		}
		if tc.ok {
			if got := secretstore.KindName(prefix, tc.kind, tc.id); got != tc.name {
				t.Errorf("KindName(%v, %d) = %q, want %q", tc.kind, tc.id, got, tc.name)
			}
		}
	}
}
