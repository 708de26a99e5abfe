package localtable_test

import (
	"slices"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/dev/localtable"
	"github.com/lsdbx/databricks-storage/internal/dev/samtemplate"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
)

// The table the service's code addresses — its indexes and the time to
// live attribute named in dynamostore — is the one template.yaml declares,
// which is also the one local runs create (CreateInput reads nothing else).
func TestTemplateTableHasWhatTheStoreAddresses(t *testing.T) {
	path, err := samtemplate.Path()
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := samtemplate.LoadTable(path, localtable.LogicalID)
	if err != nil {
		t.Fatal(err)
	}
	in := localtable.CreateInput("t", tbl)
	var indexes []string
	for _, g := range in.GlobalSecondaryIndexes {
		indexes = append(indexes, *g.IndexName)
	}
	for _, want := range []string{dynamostore.ProjectIndex, dynamostore.IDIndex} {
		if !slices.Contains(indexes, want) {
			t.Errorf("template.yaml's table has no index %q (has %v)", want, indexes)
		}
	}
	if len(in.KeySchema) != 1 || *in.KeySchema[0].AttributeName != "pk" {
		t.Errorf("key schema = %+v, want the hash key pk the store writes", in.KeySchema)
	}
	if tbl.TimeToLiveSpecification == nil || tbl.TimeToLiveSpecification.AttributeName != dynamostore.TTLAttribute || !tbl.TimeToLiveSpecification.Enabled {
		t.Errorf("time to live = %+v, want %q enabled", tbl.TimeToLiveSpecification, dynamostore.TTLAttribute)
	}
	if in.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("billing mode = %q", in.BillingMode)
	}
}
