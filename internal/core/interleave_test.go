package core_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// gateChecker holds the first check of a connection that hold selects
// until release is closed, telling entered when it got there; every other
// check passes at once. It records what it checked.
type gateChecker struct {
	hold    func(storage.Connection) bool
	once    sync.Once
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	conns   []storage.Connection
}

func (g *gateChecker) CheckConnection(ctx context.Context, c storage.Connection) error {
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
	if !g.hold(c) {
		return nil
	}
	held := false
	g.once.Do(func() { held = true })
	if held {
		close(g.entered)
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (g *gateChecker) last() storage.Connection {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[len(g.conns)-1]
}

// failingRecords fails every record write once fail is set: a DynamoDB
// outage after the other request has finished.
type failingRecords struct {
	*fakeRepo
	fail atomic.Bool
}

func (r *failingRecords) ReplaceStorage(ctx context.Context, rec storage.Record) error {
	if r.fail.Load() {
		return errors.New("ProvisionedThroughputExceededException")
	}
	return r.fakeRepo.ReplaceStorage(ctx, rec)
}

const (
	tokenB   = "dapi-B-rotated-token"
	secretA  = "A-client-secret-of-the-switch"
	switchSP = `{"auth_type": "dbx_sp", "client_id": "sp-client", "client_secret": "` + secretA + `"}`
	rotate   = `{"token": "` + tokenB + `"}`
)

// Updates and deletes interleaved in every order the connection check
// allows: the outer request's check is held while the inner request runs
// to its end. Whatever the outcome of each, afterwards the record and the
// secret it goes with agree, and a failed request changed nothing: the
// storage is checked (ValidateExisting, with the stored credentials) with
// the credentials of the last request that succeeded.
func TestInterleavedUpdates(t *testing.T) {
	isRotation := func(c storage.Connection) bool { return c.Secrets.Token == tokenB }
	isSwitch := func(c storage.Connection) bool { return c.Secrets.ClientSecret == secretA }
	cases := []struct {
		name string
		// outer is held in its check while inner runs.
		outer     string
		held      func(storage.Connection) bool
		inner     string // a patch, or "delete"
		outerFail bool   // the outer request's record writes fail after inner ended
		wantOuter error  // nil: success
		wantAuth  storage.AuthType
		want      storage.Secrets // the credentials the storage is checked with afterwards
	}{
		{name: "A inside B's check, B retries over A", outer: rotate, held: isRotation, inner: switchSP,
			wantAuth: storage.AuthDatabricksSP, want: storage.Secrets{ClientSecret: secretA}},
		{name: "A inside B's check, B's write fails", outer: rotate, held: isRotation, inner: switchSP, outerFail: true,
			wantOuter: core.ErrPersistence, wantAuth: storage.AuthDatabricksSP, want: storage.Secrets{ClientSecret: secretA}},
		{name: "B inside A's check, A retries over B", outer: switchSP, held: isSwitch, inner: rotate,
			wantAuth: storage.AuthDatabricksSP, want: storage.Secrets{ClientSecret: secretA}},
		{name: "B inside A's check, A's write fails", outer: switchSP, held: isSwitch, inner: rotate, outerFail: true,
			wantOuter: core.ErrPersistence, wantAuth: storage.AuthPAT, want: storage.Secrets{Token: tokenB}},
		{name: "delete inside an update's check", outer: rotate, held: isRotation, inner: "delete",
			wantOuter: core.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLifecycle(t)
			gate := &gateChecker{hold: c.held, entered: make(chan struct{}), release: make(chan struct{})}
			records := &failingRecords{fakeRepo: l.repo}
			l.mgr.Checker, l.mgr.Records = gate, records
			ctx := context.Background()

			outerDone := make(chan error, 1)
			go func() {
				_, err := l.mgr.Update(ctx, owner, 42, patch(t, c.outer))
				outerDone <- err
			}()
			<-gate.entered
			var innerErr error
			if c.inner == "delete" {
				innerErr = l.mgr.Delete(ctx, owner, 42)
			} else {
				_, innerErr = l.mgr.Update(ctx, owner, 42, patch(t, c.inner))
			}
			if innerErr != nil {
				t.Fatalf("inner request: %v", innerErr)
			}
			records.fail.Store(c.outerFail)
			close(gate.release)
			outerErr := <-outerDone
			records.fail.Store(false)

			switch {
			case c.wantOuter == nil && outerErr != nil:
				t.Fatalf("outer request: %v", outerErr)
			case c.wantOuter != nil && !errors.Is(outerErr, c.wantOuter):
				t.Fatalf("outer request = %v, want %v", outerErr, c.wantOuter)
			}
			if c.inner == "delete" {
				if _, err := l.mgr.Get(ctx, owner, 42); !errors.Is(err, core.ErrNotFound) {
					t.Errorf("the deleted storage is back: %v", err)
				}
				return
			}
			if err := l.mgr.ValidateExisting(ctx, owner, 42, patch(t, `{}`)); err != nil {
				t.Fatalf("the stored storage no longer validates: %v", err)
			}
			got := gate.last()
			if got.AuthType != c.wantAuth || got.Secrets != c.want {
				t.Errorf("the storage is checked as %s with token %q, client secret %q; want %s with %q, %q",
					got.AuthType, got.Secrets.Token, got.Secrets.ClientSecret, c.wantAuth, c.want.Token, c.want.ClientSecret)
			}
		})
	}
}
