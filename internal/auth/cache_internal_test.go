package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// mapStore knows every token of its map and counts lookups.
type mapStore struct {
	tokens  map[string]Record
	lookups int
}

func (m *mapStore) Lookup(_ context.Context, hash string) (Record, error) {
	m.lookups++
	r, ok := m.tokens[hash]
	if !ok {
		return Record{}, ErrNotFound
	}
	return r, nil
}

func (m *mapStore) add(plaintext string) {
	h := Hash(plaintext)
	m.tokens[h] = Record{Token: Token{TokenID: IDFromHash(h), User: "u", AllProjects: true}, Hash: h}
}

func TestCacheIsBoundedAndKeyedByHash(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	store := &mapStore{tokens: map[string]Record{}}
	a := &Authenticator{Store: store, CacheTTL: time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	plain := func(i int) string { return fmt.Sprintf("lsdbx_token-%04d", i) }

	for _, tc := range []struct {
		name    string
		prefix  string
		known   bool
		cache   *fifoCache
		another *fifoCache
	}{
		{name: "known tokens", known: true, cache: &a.positive, another: &a.negative},
		{name: "unknown tokens", prefix: "x", cache: &a.negative, another: &a.positive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := tc.another.len()
			for i := range maxCacheEntries + 10 {
				p := tc.prefix + plain(i)
				if tc.known {
					store.add(p)
				}
				if _, err := a.Authenticate(ctx, "Token "+p); (err == nil) != tc.known {
					t.Fatalf("token %d: err = %v", i, err)
				}
			}
			if n := tc.cache.len(); n != maxCacheEntries {
				t.Fatalf("cache holds %d entries, want %d", n, maxCacheEntries)
			}
			if tc.another.len() != other {
				t.Errorf("filling one cache changed the other")
			}
			for h := range tc.cache.entries {
				if strings.Contains(h, "token-") || h != strings.ToLower(h) || len(h) != 64 {
					t.Fatalf("cache key %q is not a hex hash", h)
				}
			}
			// The oldest entries were evicted, the newest kept.
			before := store.lookups
			a.Authenticate(ctx, "Token "+tc.prefix+plain(maxCacheEntries+9))
			if store.lookups != before {
				t.Errorf("newest entry was not cached")
			}
			a.Authenticate(ctx, "Token "+tc.prefix+plain(0))
			if store.lookups != before+1 {
				t.Errorf("oldest entry was not evicted")
			}
		})
	}
}

func TestFIFOCacheExpiresEntries(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var c fifoCache
	c.put("a", cacheEntry{found: true, until: now.Add(time.Second)}, 2)
	if _, ok := c.get("a", now.Add(time.Second-1)); !ok {
		t.Fatal("fresh entry missing")
	}
	if _, ok := c.get("a", now.Add(time.Second)); ok {
		t.Fatal("stale entry returned")
	}
	if c.len() != 0 || c.order.Len() != 0 {
		t.Fatalf("stale entry kept: %d/%d", c.len(), c.order.Len())
	}
	c.put("a", cacheEntry{until: now.Add(time.Hour)}, 2)
	c.put("b", cacheEntry{until: now.Add(time.Hour)}, 2)
	c.put("a", cacheEntry{until: now.Add(time.Hour)}, 2) // refresh moves a to the back
	c.put("c", cacheEntry{until: now.Add(time.Hour)}, 2)
	if _, ok := c.get("b", now); ok {
		t.Error("b should have been evicted as the oldest insertion")
	}
	if _, ok := c.get("a", now); !ok {
		t.Error("refreshed a was evicted")
	}
}
