package eventsource

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/syncmsg"
)

// SyncWorker runs the sync queue's messages (a core.SyncWorker).
type SyncWorker interface {
	Handle(ctx context.Context, m core.SyncMessage, final bool) error
}

// ExportWorker runs the export queue's messages (a core.Exporter).
type ExportWorker interface {
	Handle(ctx context.Context, m core.ExportMessage, final bool) error
}

// QueueHandler is a queue-fed function's handler: SQS batches, each
// message a unit of work (a sync step, the removal of a deleted storage's
// links, an annotation's export). A message that fails transiently is
// reported as a batch item failure and comes back after the queue's
// visibility timeout; on its last receive the worker fails the sync
// instead, so that nothing stays "in progress" because its message went to
// the dead-letter queue.
type QueueHandler struct {
	run func(ctx context.Context, body string, final bool) ([]slog.Attr, error)
	// maxReceives is the queue's maxReceiveCount (its redrive policy).
	maxReceives int
	logger      *slog.Logger
}

// NewSyncHandler handles the sync queue.
func NewSyncHandler(w SyncWorker, maxReceives int, logger *slog.Logger) *QueueHandler {
	return &QueueHandler{maxReceives: maxReceives, logger: logger, run: func(ctx context.Context, body string, final bool) ([]slog.Attr, error) {
		m, err := syncmsg.Decode(body)
		if err != nil {
			return nil, err
		}
		attrs := []slog.Attr{slog.Int64("storage_id", m.Storage), slog.String("job", m.Job), slog.Int64("step", m.Step), slog.Bool("purge", m.Purge)}
		return attrs, w.Handle(ctx, m, final)
	}}
}

// NewExportHandler handles the export queue.
func NewExportHandler(w ExportWorker, maxReceives int, logger *slog.Logger) *QueueHandler {
	return &QueueHandler{maxReceives: maxReceives, logger: logger, run: func(ctx context.Context, body string, final bool) ([]slog.Attr, error) {
		m, err := syncmsg.DecodeExport(body)
		if err != nil {
			return nil, err
		}
		attrs := []slog.Attr{slog.Int64("export_storage_id", m.Storage), slog.Int64("annotation", m.Annotation),
			slog.Bool("deleted", m.Deleted), slog.String("job", m.Job), slog.Int64("step", m.Step)}
		return attrs, w.Handle(ctx, m, final)
	}}
}

// RunQueueFunction is a queue-fed function's main once its handler is
// built: it serves the queue's batches, or, when the handler could not be
// built (what, its error), fails every invocation the same way until the
// configuration is fixed, the messages waiting in the queue.
func RunQueueFunction(logger *slog.Logger, what string, h *QueueHandler, err error) {
	if err != nil {
		logger.Error(what+" cannot start", slog.String("error", err.Error()))
		lambda.Start(func(context.Context) error { return err })
		return
	}
	lambda.Start(h.HandleSQS)
}

// HandleSQS handles one batch, in order.
func (h *QueueHandler) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	failures := []events.SQSBatchItemFailure{}
	for _, msg := range ev.Records {
		if !h.handle(ctx, msg) {
			failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// handle runs one message; false when it must come back.
func (h *QueueHandler) handle(ctx context.Context, msg events.SQSMessage) bool {
	start := time.Now()
	receives, _ := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	final := h.maxReceives > 0 && receives >= h.maxReceives
	attrs, err := h.run(ctx, msg.Body, final)
	if errors.Is(err, syncmsg.ErrMalformed) {
		// Nothing can ever run it: dropped, and said so.
		h.log().ErrorContext(ctx, "dropped a message that is no unit of work",
			slog.String("message_id", msg.MessageId), slog.String("error", err.Error()))
		return true
	}
	attrs = append(attrs, slog.Int("receives", receives), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	level := slog.LevelInfo
	if err != nil {
		if !errors.Is(err, core.ErrSyncBusy) {
			level = slog.LevelWarn
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	h.log().LogAttrs(ctx, level, "queue message", attrs...)
	return err == nil
}

func (h *QueueHandler) log() *slog.Logger {
	if h.logger != nil {
		return h.logger
	}
	return slog.Default()
}
