package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/emfcheck"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

type checkFunc func(context.Context, storage.Connection) error

func (f checkFunc) CheckConnection(ctx context.Context, c storage.Connection) error { return f(ctx, c) }

// find returns the value of a metric, and whether it is there.
func find(ms []emfcheck.Metric, name string) (emfcheck.Metric, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	return emfcheck.Metric{}, false
}

func TestRequestLinesAreEmbeddedMetrics(t *testing.T) {
	refused := &storage.ConnectionError{Reason: "credentials_refused", Message: "refused"}
	cases := []struct {
		name      string
		status    int
		checkErr  error
		checked   bool
		replayed  bool
		want      map[string]float64
		wantDims  map[string]string
		wantCheck bool
	}{
		{name: "created", status: 201, checked: true, want: map[string]float64{"Requests": 1, "ClientErrors": 0, "ServerErrors": 0, "ConnectionCheckFailures": 0}, wantDims: map[string]string{"Outcome": "success", "Reason": "none", "AuthType": "dbx_sp"}, wantCheck: true},
		{name: "refused check", status: 400, checked: true, checkErr: refused, want: map[string]float64{"ClientErrors": 1, "ConnectionCheckFailures": 1}, wantDims: map[string]string{"Outcome": "client_error", "Reason": "credentials_refused"}, wantCheck: true},
		// A check its caller stopped waiting for says nothing of the
		// workspace: no failure, no duration.
		{name: "cancelled check", status: 201, checked: true, checkErr: fmt.Errorf("databricks: check abandoned: %w", context.Canceled), want: map[string]float64{"Requests": 1}, wantDims: map[string]string{"Outcome": "success"}},
		{name: "replay", status: 201, replayed: true, want: map[string]float64{"Replays": 1}, wantDims: map[string]string{"Outcome": "success"}},
		{name: "server error", status: 500, want: map[string]float64{"ServerErrors": 1}, wantDims: map[string]string{"Outcome": "server_error"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			log := logging.New(&out, "INFO")
			ctx, _ := metrics.Start(context.Background())
			if c.checked {
				checker := metrics.Checker{Inner: checkFunc(func(context.Context, storage.Connection) error {
					time.Sleep(time.Millisecond)
					return c.checkErr
				})}
				if err := checker.CheckConnection(ctx, storage.Connection{AuthType: storage.AuthDatabricksSP}); !errors.Is(err, c.checkErr) {
					t.Fatalf("the checker changed the error: %v", err)
				}
			}
			if c.replayed {
				metrics.Replayed(ctx)
			}
			log.LogAttrs(ctx, 0, "request", metrics.RequestAttrs(ctx, "Test/NS", "create", c.status, 12*time.Millisecond)...)
			ms, err := emfcheck.Line(out.Bytes())
			if err != nil {
				t.Fatalf("not an EMF record: %v\n%s", err, out.String())
			}
			for name, want := range c.want {
				m, ok := find(ms, name)
				if !ok || m.Value != want || m.Namespace != "Test/NS" {
					t.Errorf("%s = %+v, want %v in Test/NS", name, m, want)
				}
			}
			for _, name := range []string{"ConnectionCheckDuration", "ConnectionCheckFailures"} {
				if _, ok := find(ms, name); ok != c.wantCheck {
					t.Errorf("%s present %v, want %v", name, ok, c.wantCheck)
				}
			}
			if d, _ := find(ms, "Duration"); d.Value != 12 || d.Unit != "Milliseconds" {
				t.Errorf("Duration = %+v", d)
			}
			for _, m := range ms {
				for _, set := range m.Dimensions {
					for k, v := range set {
						if want, ok := c.wantDims[k]; ok && v != want {
							t.Errorf("dimension %s = %q, want %q", k, v, want)
						}
					}
				}
			}
		})
	}
	if attrs := metrics.RequestAttrs(context.Background(), "", "create", 201, time.Second); attrs != nil {
		t.Errorf("no namespace, yet attributes: %v", attrs)
	}
}

func TestSweepLineIsAnEmbeddedMetric(t *testing.T) {
	var out bytes.Buffer
	log := logging.New(&out, "INFO")
	attrs := []any{}
	for _, a := range metrics.SweepAttrs("Test/NS", 7, 2, 1) {
		attrs = append(attrs, a)
	}
	log.Info("sweep finished", attrs...)
	ms, err := emfcheck.Line(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"SecretsExamined": 7, "SecretsDeleted": 2, "SecretsSkipped": 1} {
		if m, ok := find(ms, name); !ok || m.Value != want || m.Dimensions[0]["Operation"] != "sweep" {
			t.Errorf("%s = %+v, want %v", name, m, want)
		}
	}
}

// The checker spots rule breaks, so that a passing line means something.
func TestCheckerRefusesBrokenLines(t *testing.T) {
	for name, line := range map[string]string{
		"no timestamp":         `{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"seconds timestamp":    `{"_aws":{"Timestamp":1700000000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"no namespace":         `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Dimensions":[],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"missing value":        `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A"}]}]}}`,
		"string value":         `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A"}]}]},"A":"1"}`,
		"missing dimension":    `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["D"]],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"bad unit":             `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A","Unit":"Apples"}]}]},"A":1}`,
		"no metrics directive": `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[]}}`,
	} {
		if _, err := emfcheck.Line([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: empty error", name)
		}
	}
}
