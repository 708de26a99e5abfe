package eventsource_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// hungHandOvers are handed-over secrets whose deletion stands for a call
// that never answers: it notes the context's deadline and fails as the call
// would when that deadline passed, instead of hanging.
type hungHandOvers struct {
	*handOvers
	hadDeadline bool
	deadline    time.Time
}

func (h *hungHandOvers) Delete(ctx context.Context, _ string) error {
	h.deadline, h.hadDeadline = ctx.Deadline()
	return context.DeadlineExceeded
}

// The deletion of a used (or refused) handed-over secret runs under the
// clean-up deadline, so a hung Secrets Manager call cannot hold the
// function until Lambda kills it.
func TestHandedOverSecretDeletionHasADeadline(t *testing.T) {
	for _, title := range []string{"ok", "permanent"} {
		t.Run(title, func(t *testing.T) {
			d, _, _, _ := newContractDispatcher(contractCase{titles: []string{title}})
			hung := &hungHandOvers{handOvers: newHandOvers(handOverID(0))}
			d.Credentials = hung
			payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{
				{MessageId: messageID(0), EventSource: "aws:sqs", Body: handedOverBody(title, handOverID(0))},
			}})
			start := time.Now()
			if _, err := d.Invoke(lambdaContext("lambda-req-cleanup"), payload); err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			switch {
			case !hung.hadDeadline:
				t.Fatal("the handed-over secret was deleted without a deadline")
			case hung.deadline.After(start.Add(core.CleanupTimeout + time.Second)):
				t.Errorf("deadline %s after the invocation began, want at most %s", hung.deadline.Sub(start), core.CleanupTimeout)
			}
		})
	}
}
