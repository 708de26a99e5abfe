package auth_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/lsdbx/databricks-storage/internal/auth"
)

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
