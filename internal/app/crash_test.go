//go:build integration

package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// TestCrashBetweenCallsIsCleanedUpBySweep kills the process (as far as AWS
// can tell) right after each call of a create, then runs the sweep as the
// schedule would, later. Whatever the crash left must end as one complete
// storage or nothing, and the caller's retry with the same key must succeed.
func TestCrashBetweenCallsIsCleanedUpBySweep(t *testing.T) {
	for _, op := range createCalls {
		name := strings.SplitN(op, ".", 2)[1]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, "", "")
			if status, _ := f.post(t, "/api/storages/databricks/validate", f.patBody(40)); status != http.StatusOK {
				t.Fatalf("warm-up: %d", status)
			}
			f.faults.Add(faultinject.Rule{Operation: op, Fault: faultinject.Crash, Times: 1})
			key := map[string]string{"idempotency-key": "crash-" + name}
			done := make(chan struct{})
			go func() {
				defer close(done)
				f.send(t, "/api/storages/databricks/", f.patBody(40), key) // the caller never hears back
			}()
			select {
			case <-f.faults.Hung():
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the create neither finished nor made another call")
			}

			// An hour later the scheduled sweep runs (its own process, healthy AWS).
			awsCfg := testenv.AWSConfig(t)
			sweeper := sweep.New(awsCfg, config.Config{TableName: f.table, SecretNamePrefix: f.prefix, SweepGrace: 15 * time.Minute}, slog.New(slog.DiscardHandler))
			sweeper.Now = func() time.Time { return time.Now().Add(time.Hour) }
			report, err := sweeper.Sweep(context.Background())
			if err != nil {
				t.Fatalf("sweep: %v", err)
			}
			wantOrphans := 0
			if op == "secretsmanager.CreateSecret" {
				wantOrphans = 1 // the secret exists, the record never came
			}
			if report.Deleted != wantOrphans || report.Orphans != wantOrphans {
				t.Errorf("sweep found %d orphans and deleted %d, want %d: %+v", report.Orphans, report.Deleted, wantOrphans, report)
			}
			secrets, items := testenv.SecretNames(t, f.prefix), storageItems(t, f.table)
			complete := len(secrets) == 1 && len(items) == 2
			nothing := len(secrets) == 0 && len(items) == 0
			if !complete && !nothing {
				t.Errorf("after the sweep: secrets %v, items %v; want a complete storage or nothing", secrets, items)
			}

			f.faults.Release()
			<-done
			// The caller retries on a fresh instance.
			g := newFixture(t, f.table, f.prefix)
			g.token = f.token
			status, headers, body := g.send(t, "/api/storages/databricks/", strings.Replace(g.patBody(40), g.fw.URL(), f.fw.URL(), 1), key)
			if status != http.StatusCreated {
				t.Fatalf("retry: status %d: %v", status, body)
			}
			if complete && headers["Idempotent-Replayed"] != "true" {
				t.Errorf("the crash left a complete storage, but the retry was not its replay")
			}
			g.consistency(t, status, body)
		})
	}
}
