package labelstudio

import (
	"container/list"
	"sync"
	"time"
)

// maxCacheEntries bounds each cache: a flood of distinct tokens or projects
// pushes out the oldest entries instead of growing memory.
const maxCacheEntries = 4096

// ttlCache maps keys (hashes, never credentials) to answers until a
// deadline each, forgetting the oldest insertion when full. Safe for
// concurrent use; the zero value is ready.
type ttlCache[V any] struct {
	mu      sync.Mutex
	entries map[string]*list.Element
	order   list.List // front is oldest
}

type ttlNode[V any] struct {
	key   string
	value V
	until time.Time
}

func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	n := el.Value.(*ttlNode[V])
	if !now.Before(n.until) {
		c.order.Remove(el)
		delete(c.entries, key)
		var zero V
		return zero, false
	}
	return n.value, true
}

func (c *ttlCache[V]) put(key string, v V, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]*list.Element)
	}
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
	}
	c.entries[key] = c.order.PushBack(&ttlNode[V]{key: key, value: v, until: until})
	for len(c.entries) > maxCacheEntries {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*ttlNode[V]).key)
	}
}

func (c *ttlCache[V]) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		delete(c.entries, key)
	}
}
