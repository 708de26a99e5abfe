// Package fakeclock is a clock tests move by hand, so that leases,
// expiries and staleness do not depend on how fast the parts answer.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a time that moves only when Advance is called. Safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New is a clock at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
