package eventsource

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/syncqueue"
)

// SyncWorker runs the sync queue's messages (a core.SyncWorker).
type SyncWorker interface {
	Handle(ctx context.Context, m core.SyncMessage, final bool) error
}

// SyncHandler is the sync worker function's handler: SQS batches of the
// sync queue, each message one step of a sync (or the removal of a deleted
// storage's links). A message that fails transiently is reported as a
// batch item failure and comes back after the queue's visibility timeout;
// on its last receive the worker fails the sync instead, so a sync never
// stays "in progress" because its message went to the dead-letter queue.
type SyncHandler struct {
	Worker SyncWorker
	// MaxReceives is the queue's maxReceiveCount (its redrive policy).
	MaxReceives int
	Logger      *slog.Logger
}

// HandleSQS handles one batch, in order.
func (h *SyncHandler) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	failures := []events.SQSBatchItemFailure{}
	for _, msg := range ev.Records {
		if !h.handle(ctx, msg) {
			failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// handle runs one message; false when it must come back.
func (h *SyncHandler) handle(ctx context.Context, msg events.SQSMessage) bool {
	start := time.Now()
	m, err := syncqueue.Decode(msg.Body)
	if err != nil {
		// Nothing can ever run it: dropped, and said so.
		h.logger().ErrorContext(ctx, "dropped a message that is not a sync step",
			slog.String("message_id", msg.MessageId), slog.String("error", err.Error()))
		return true
	}
	receives, _ := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	final := h.MaxReceives > 0 && receives >= h.MaxReceives
	err = h.Worker.Handle(ctx, m, final)
	attrs := []slog.Attr{
		slog.Int64("storage_id", m.Storage), slog.String("job", m.Job), slog.Int64("step", m.Step),
		slog.Bool("purge", m.Purge), slog.Int("receives", receives),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
		if errors.Is(err, core.ErrSyncBusy) {
			level = slog.LevelInfo
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	h.logger().LogAttrs(ctx, level, "sync message", attrs...)
	return err == nil
}

func (h *SyncHandler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
