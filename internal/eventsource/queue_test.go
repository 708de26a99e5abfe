package eventsource_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
	"github.com/lsdbx/databricks-storage/internal/syncmsg"
)

type recordingWorker struct {
	finals []bool
	err    error
}

func (w *recordingWorker) Handle(_ context.Context, _ core.SyncMessage, final bool) error {
	w.finals = append(w.finals, final)
	return w.err
}

// A failed message is a batch item failure until its last receive, when
// the worker is told it is final; a body that is no unit of work is
// dropped.
func TestQueueHandler(t *testing.T) {
	step := syncmsg.Encode(core.SyncMessage{Storage: 1, Job: "j", Step: 0})
	cases := []struct {
		name       string
		body       string
		receives   string
		err        error
		wantFailed bool
		wantFinal  []bool
	}{
		{"done", step, "1", nil, false, []bool{false}},
		{"failed, retried", step, "4", errors.New("boom"), true, []bool{false}},
		{"failed on the last receive", step, "5", errors.New("boom"), true, []bool{true}},
		{"malformed, dropped", `{"storage": "x"}`, "1", nil, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := &recordingWorker{err: c.err}
			h := eventsource.NewSyncHandler(w, core.SyncMaxReceives, slog.New(slog.DiscardHandler))
			resp, err := h.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
				{MessageId: "m1", Body: c.body, Attributes: map[string]string{"ApproximateReceiveCount": c.receives}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if failed := len(resp.BatchItemFailures) == 1; failed != c.wantFailed {
				t.Errorf("batch item failures %v, want failed %v", resp.BatchItemFailures, c.wantFailed)
			}
			if len(w.finals) != len(c.wantFinal) || (len(c.wantFinal) == 1 && w.finals[0] != c.wantFinal[0]) {
				t.Errorf("worker saw final %v, want %v", w.finals, c.wantFinal)
			}
		})
	}
}
