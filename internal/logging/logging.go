// Package logging builds the service's structured JSON logger. Every line
// logged with a request's context carries the request id and, in Lambda,
// the X-Ray trace id, so that a line can be found from either.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a JSON logger writing to w at the level Lambda's
// AWS_LAMBDA_LOG_LEVEL names (TRACE, DEBUG, INFO, WARN, ERROR, FATAL);
// anything else means INFO.
func New(w io.Writer, level string) *slog.Logger {
	return slog.New(contextHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: ParseLevel(level)})})
}

// ParseLevel maps a Lambda log level name to a slog level.
func ParseLevel(level string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(level)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

type requestIDKey struct{}

// WithRequestID returns a context that carries the id of the request being
// served (the Lambda request id), for log lines.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries: the one WithRequestID set,
// else the Lambda invocation's, else "".
func RequestID(ctx context.Context) string {
	if id, _ := ctx.Value(requestIDKey{}).(string); id != "" {
		return id
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// lambdaTraceKey is the context key under which aws-lambda-go puts the
// invocation's X-Ray trace header ("Root=1-…;Parent=…;Sampled=…").
const lambdaTraceKey = "x-amzn-trace-id"

// TraceID returns the X-Ray trace id (the header's Root) of the invocation
// ctx belongs to, or "".
func TraceID(ctx context.Context) string {
	header, _ := ctx.Value(lambdaTraceKey).(string)
	for _, part := range strings.Split(header, ";") {
		if root, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			return root
		}
	}
	return ""
}

// contextHandler adds the request and trace ids of a record's context.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := RequestID(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
		if trace := TraceID(ctx); trace != "" {
			r.AddAttrs(slog.String("trace_id", trace))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
