package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/testenv"
)

// newStore returns a Store over a fresh moto table.
func newStore(t *testing.T) (*auth.Store, string) {
	t.Helper()
	table := testenv.NewTable(t)
	return &auth.Store{Client: dynamodb.NewFromConfig(testenv.AWSConfig(t)), Table: table}, table
}

// countingStore counts the lookups that reach the wrapped store.
type countingStore struct {
	auth.Lookuper
	mu sync.Mutex
	n  int
}

func (c *countingStore) Lookup(ctx context.Context, hash string) (auth.Record, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Lookuper.Lookup(ctx, hash)
}

func (c *countingStore) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// fakeStore is an in-memory Lookuper.
type fakeStore struct {
	mu      sync.Mutex
	records map[string]auth.Record
	err     error
}

func (f *fakeStore) Lookup(_ context.Context, hash string) (auth.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return auth.Record{}, f.err
	}
	r, ok := f.records[hash]
	if !ok {
		return auth.Record{}, fmt.Errorf("fake lookup: %w", auth.ErrNotFound)
	}
	return r, nil
}

func (f *fakeStore) set(plaintext string, tok auth.Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.records == nil {
		f.records = map[string]auth.Record{}
	}
	h := auth.Hash(plaintext)
	tok.TokenID = auth.IDFromHash(h)
	f.records[h] = auth.Record{Token: tok, Hash: h}
}

func (f *fakeStore) update(plaintext string, change func(*auth.Record)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.records[auth.Hash(plaintext)]
	change(&r)
	f.records[auth.Hash(plaintext)] = r
}

// attributeStrings flattens every string, number and binary value of an item.
func attributeStrings(av types.AttributeValue) []string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return []string{v.Value}
	case *types.AttributeValueMemberN:
		return []string{v.Value}
	case *types.AttributeValueMemberB:
		return []string{string(v.Value)}
	case *types.AttributeValueMemberSS:
		return v.Value
	case *types.AttributeValueMemberNS:
		return v.Value
	case *types.AttributeValueMemberBS:
		var out []string
		for _, b := range v.Value {
			out = append(out, string(b))
		}
		return out
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			out = append(out, attributeStrings(e)...)
		}
		return out
	case *types.AttributeValueMemberM:
		var out []string
		for k, e := range v.Value {
			out = append(out, k)
			out = append(out, attributeStrings(e)...)
		}
		return out
	default:
		return nil
	}
}
