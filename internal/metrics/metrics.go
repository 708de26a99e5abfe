// Package metrics records a request's figures and renders them in
// CloudWatch's Embedded Metric Format (EMF) on the request's one summary
// log line, so that CloudWatch extracts metrics from the logs: no
// PutMetricData call, no latency, no IAM permission.
//
// The format is small (an "_aws" object naming the namespace, dimension
// sets and metrics, whose values are top-level fields of the same JSON
// object), so it is written here rather than taken from a library.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// DefaultNamespace is the CloudWatch namespace when none is configured.
const DefaultNamespace = "LabelStudio/DatabricksStorage"

// Units this package uses, as EMF names them.
const (
	UnitCount        = "Count"
	UnitMilliseconds = "Milliseconds"
)

// Recorder gathers what one request did beyond its status: whether it was
// an idempotent replay, and how its connection check went.
type Recorder struct {
	mu       sync.Mutex
	checked  bool
	check    time.Duration
	reason   string
	authType string
	replayed bool
}

type recorderKey struct{}

// Start returns a context that carries a fresh Recorder for one request.
func Start(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{}
	return context.WithValue(ctx, recorderKey{}, r), r
}

func from(ctx context.Context) *Recorder {
	r, _ := ctx.Value(recorderKey{}).(*Recorder)
	return r
}

// Replayed marks the request of ctx as an idempotent replay.
func Replayed(ctx context.Context) {
	if r := from(ctx); r != nil {
		r.mu.Lock()
		r.replayed = true
		r.mu.Unlock()
	}
}

// ObserveCheck records a connection check of the request of ctx. A check
// that was cancelled (its caller stopped waiting for it) is not recorded: it
// says nothing of the workspace, and counting it as a failure would fire the
// check-failure alarm without cause.
func ObserveCheck(ctx context.Context, authType storage.AuthType, took time.Duration, err error) {
	r := from(ctx)
	var ce *storage.ConnectionError
	if r == nil || (errors.Is(err, context.Canceled) && !errors.As(err, &ce)) {
		return
	}
	reason := "none"
	switch {
	case errors.As(err, &ce):
		reason = ce.Reason
	case err != nil:
		reason = "other"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked, r.check, r.reason, r.authType = true, took, reason, string(authType)
}

// Checker times the connection checks of a ConnectionChecker.
type Checker struct {
	Inner interface {
		CheckConnection(ctx context.Context, c storage.Connection) error
	}
}

// CheckConnection runs the inner check and records it.
func (c Checker) CheckConnection(ctx context.Context, conn storage.Connection) error {
	start := time.Now()
	err := c.Inner.CheckConnection(ctx, conn)
	ObserveCheck(ctx, conn.AuthType, time.Since(start), err)
	return err
}

// directive is one entry of _aws.CloudWatchMetrics.
type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// envelope is the "_aws" object.
type envelope struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Outcome classes, a dimension of every request metric.
const (
	OutcomeSuccess     = "success"
	OutcomeClientError = "client_error"
	OutcomeServerError = "server_error"
)

func outcome(status int) string {
	switch {
	case status >= 500:
		return OutcomeServerError
	case status >= 400:
		return OutcomeClientError
	}
	return OutcomeSuccess
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RequestAttrs renders a request's metrics as log attributes: the "_aws"
// envelope, the dimension values and the metric values. An empty namespace
// renders nothing.
func RequestAttrs(ctx context.Context, namespace, operation string, status int, took time.Duration) []slog.Attr {
	return OutcomeAttrs(ctx, namespace, operation, outcome(status), took)
}

// OutcomeAttrs is RequestAttrs for a request whose outcome class
// (OutcomeSuccess, OutcomeClientError, OutcomeServerError) is known without
// an HTTP status: an event-borne one.
func OutcomeAttrs(ctx context.Context, namespace, operation, class string, took time.Duration) []slog.Attr {
	if namespace == "" {
		return nil
	}
	env := envelope{Timestamp: time.Now().UnixMilli(), CloudWatchMetrics: []directive{{
		Namespace:  namespace,
		Dimensions: [][]string{{"Operation", "Outcome"}, {"Operation"}},
		Metrics: []metric{
			{"Requests", UnitCount}, {"Duration", UnitMilliseconds},
			{"ClientErrors", UnitCount}, {"ServerErrors", UnitCount}, {"Replays", UnitCount},
		},
	}}}
	r := from(ctx)
	if r == nil {
		r = &Recorder{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	attrs := []slog.Attr{
		slog.String("Operation", operation),
		slog.String("Outcome", class),
		slog.Int("Requests", 1),
		slog.Float64("Duration", milliseconds(took)),
		slog.Int("ClientErrors", count(class == OutcomeClientError)),
		slog.Int("ServerErrors", count(class == OutcomeServerError)),
		slog.Int("Replays", count(r.replayed)),
	}
	if r.checked {
		env.CloudWatchMetrics = append(env.CloudWatchMetrics, directive{
			Namespace:  namespace,
			Dimensions: [][]string{{"AuthType"}, {"Reason"}, {}},
			Metrics:    []metric{{"ConnectionCheckDuration", UnitMilliseconds}, {"ConnectionCheckFailures", UnitCount}},
		})
		attrs = append(attrs,
			slog.String("AuthType", r.authType),
			slog.String("Reason", r.reason),
			slog.Float64("ConnectionCheckDuration", milliseconds(r.check)),
			slog.Int("ConnectionCheckFailures", count(r.reason != "none")),
		)
	}
	return append([]slog.Attr{slog.Any("_aws", env)}, attrs...)
}

// SweepAttrs renders a sweep's figures as EMF log attributes.
func SweepAttrs(namespace string, examined, deleted, skipped int) []slog.Attr {
	if namespace == "" {
		return nil
	}
	env := envelope{Timestamp: time.Now().UnixMilli(), CloudWatchMetrics: []directive{{
		Namespace:  namespace,
		Dimensions: [][]string{{"Operation"}},
		Metrics:    []metric{{"SecretsExamined", UnitCount}, {"SecretsDeleted", UnitCount}, {"SecretsSkipped", UnitCount}},
	}}}
	return []slog.Attr{
		slog.Any("_aws", env),
		slog.String("Operation", "sweep"),
		slog.Int("SecretsExamined", examined),
		slog.Int("SecretsDeleted", deleted),
		slog.Int("SecretsSkipped", skipped),
	}
}

func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
