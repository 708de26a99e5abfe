package handler

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The fakes embed the interface they implement, so that a method added to
// it later compiles (and panics if a create ever calls it, which fails the
// benchmark loudly instead of measuring something else).

// okChecker accepts every connection.
type okChecker struct{ core.ConnectionChecker }

func (okChecker) CheckConnection(context.Context, storage.Connection) error { return nil }

// memSecrets stores nothing and returns an ARN of the real shape.
type memSecrets struct {
	core.SecretStore
	n atomic.Int64
}

func (m *memSecrets) CreateSecret(_ context.Context, s core.NewSecret) (string, error) {
	m.n.Add(1)
	return fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:label-studio/databricks-storage/storage-%d-AbCdEf", s.StorageID), nil
}

func (m *memSecrets) DeleteSecret(context.Context, string) error { return nil }

// memRepo counts records instead of keeping them, so memory does not grow
// with b.N.
type memRepo struct {
	core.Repository
	n atomic.Int64
}

func (m *memRepo) PutStorage(context.Context, storage.Record) error { m.n.Add(1); return nil }

func (m *memRepo) DeleteStorage(context.Context, int64, string) error { return nil }

type memIDs struct {
	core.IDAllocator
	next atomic.Int64
}

func (m *memIDs) NextID(context.Context) (int64, error) { return m.next.Add(1), nil }

// memTokens knows one API token, the one the events present.
type memTokens struct {
	auth.Lookuper
	rec auth.Record
}

func (m *memTokens) Lookup(_ context.Context, hash string) (auth.Record, error) {
	if hash != m.rec.Hash {
		return auth.Record{}, auth.ErrNotFound
	}
	return m.rec, nil
}

// noNetwork fails every request: the AWS clients the app builds must never
// be used by the benchmark.
type noNetwork struct{}

func (noNetwork) Do(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("benchmark: unexpected network call to %s", r.URL.Host)
}

// newApp wires the service exactly as the Lambda does (app.NewWithAWS with
// the configuration read from the environment), then swaps the AWS-backed
// adapters, the token store and the Databricks checker for in-process
// fakes. The authenticator itself (hashing, cache) is the real one.
func newApp(b *testing.B, apiToken string) *app.App {
	b.Helper()
	env := map[string]string{"TABLE_NAME": "bench", "AWS_LAMBDA_LOG_LEVEL": "INFO"}
	cfg, err := app.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	cfg.Version = "bench"
	// The production logger, writing one JSON line per request to nowhere.
	logger := logging.New(io.Discard, env["AWS_LAMBDA_LOG_LEVEL"])
	a := app.NewWithAWS(aws.Config{Region: "us-east-1", HTTPClient: noNetwork{}}, cfg, logger, app.Options{Checker: okChecker{}})
	a.Service.Secrets = &memSecrets{}
	a.Service.Records = &memRepo{}
	a.Service.IDs = &memIDs{}
	hash := auth.Hash(apiToken)
	authenticator := auth.NewAuthenticator(&memTokens{rec: auth.Record{Hash: hash, Token: auth.Token{TokenID: auth.IDFromHash(hash), User: "bench", AllProjects: true}}})
	authenticator.CacheTTL = cfg.TokenCacheTTL
	a.HTTP.Auth = authenticator
	return a
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCreate sends events/http-create-pat.json (every optional field
// set) through the Lambda handler.
func BenchmarkCreate(b *testing.B) {
	evs, err := benchkit.LoadCreateEvents(filepath.Join("..", "..", "events", "http-create-pat.json"), "", benchkit.Authorization(benchkit.DefaultAPIToken))
	if err != nil {
		b.Fatal(err)
	}
	payload := evs.Event(1)
	a := newApp(b, benchkit.DefaultAPIToken)
	ctx := context.Background()
	out, err := a.Dispatcher.Invoke(ctx, payload)
	if err != nil {
		b.Fatal(err)
	}
	if err := benchkit.CheckCreated(out); err != nil {
		b.Fatal(err)
	}
	created := []byte(`"statusCode":201`)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	n := 0
	for b.Loop() {
		out, err := a.Dispatcher.Invoke(ctx, payload)
		if err != nil || !bytes.Contains(out, created) {
			b.Fatalf("create failed: %v %s", err, out)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
}
