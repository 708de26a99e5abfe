package auth

import (
	"container/list"
	"time"
)

// cacheEntry is one remembered lookup result.
type cacheEntry struct {
	rec   Record
	found bool
	until time.Time
}

// fifoCache maps token hashes to lookup results and forgets the oldest
// insertion when full. Its zero value is empty and ready; it is not safe for
// concurrent use on its own.
type fifoCache struct {
	entries map[string]*list.Element // values are *fifoNode
	order   list.List                // front is oldest
}

type fifoNode struct {
	hash  string
	entry cacheEntry
}

// get returns the entry for hash if it is fresh at now, dropping it if stale.
func (c *fifoCache) get(hash string, now time.Time) (cacheEntry, bool) {
	el, ok := c.entries[hash]
	if !ok {
		return cacheEntry{}, false
	}
	n := el.Value.(*fifoNode)
	if !now.Before(n.entry.until) {
		c.remove(hash)
		return cacheEntry{}, false
	}
	return n.entry, true
}

// put stores e under hash as the newest entry, evicting the oldest ones
// while more than limit are held.
func (c *fifoCache) put(hash string, e cacheEntry, limit int) {
	if c.entries == nil {
		c.entries = make(map[string]*list.Element)
	}
	c.remove(hash)
	c.entries[hash] = c.order.PushBack(&fifoNode{hash: hash, entry: e})
	for len(c.entries) > limit {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*fifoNode).hash)
	}
}

// remove forgets hash.
func (c *fifoCache) remove(hash string) {
	if el, ok := c.entries[hash]; ok {
		c.order.Remove(el)
		delete(c.entries, hash)
	}
}

// len returns the number of entries held.
func (c *fifoCache) len() int { return len(c.entries) }
