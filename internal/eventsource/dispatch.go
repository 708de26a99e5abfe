// Package eventsource receives Lambda invocations, recognises each event by
// its shape, and hands it to the matching adapter: API Gateway REST (v1) and
// HTTP API (v2) events become net/http requests for the HTTP API handler;
// SQS messages, EventBridge events and direct invocations become calls of
// the core, answered in each source's own contract.
package eventsource

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Dispatcher is the Lambda handler: it implements lambda.Handler.
type Dispatcher struct {
	// HTTP serves API Gateway requests.
	HTTP http.Handler
	// Creator serves the creates of SQS messages, EventBridge events and
	// direct invocations; nil in the manage function, which refuses them.
	Creator Creator
	// Manager serves direct get, update and delete invocations; nil in the
	// create function, which refuses them for good (never retried) with
	// where to send them.
	Manager Manager
	// Decoder validates event-borne create requests.
	Decoder storage.Decoder
	// Credentials holds the secrets SQS and EventBridge creates hand over.
	Credentials Credentials
	// Failures keeps permanent failures of SQS and EventBridge events.
	Failures core.FailureRecorder
	// Version is reported in error bodies.
	Version string
	// MetricsNamespace is the CloudWatch namespace of the metrics each
	// summary line carries; none when empty.
	MetricsNamespace string
	Logger           *slog.Logger
}

// ErrUnsupportedEvent is wrapped by the refusal of a payload of none of the
// accepted shapes.
var ErrUnsupportedEvent = errors.New("unsupported event")

// Kind names the event shapes the dispatcher recognises.
type Kind string

// The recognised event shapes.
const (
	KindUnknown     Kind = "unknown"
	KindHTTPv1      Kind = "apigateway-rest"
	KindHTTPv2      Kind = "apigateway-http"
	KindSQS         Kind = "sqs"
	KindEventBridge Kind = "eventbridge"
	KindDirect      Kind = "direct"
)

// acceptedShapes lists the payloads a function accepts, for the refusal of
// any other.
const acceptedShapes = `the payload is none of the accepted shapes: ` +
	`an API Gateway HTTP API event (payload format 2.0: version "2.0", routeKey, rawPath, requestContext.http), ` +
	`an API Gateway REST API proxy event (resource, path, httpMethod, requestContext), ` +
	`an SQS event (Records, each with eventSource "aws:sqs"), ` +
	`an EventBridge event (version, id, detail-type, source, account, time, region, resources, detail), ` +
	`or a direct invocation naming its operation: {"operation": "create", "storage": {…}, "idempotency_key": "…"}, ` +
	`{"operation": "get" or "delete", "id": N} or {"operation": "update", "id": N, "patch": {…}}`

// envelope holds the top-level members of an event, to tell its shape by
// which of them it has.
type envelope map[string]json.RawMessage

// has reports whether every name is a member that is not null.
func (e envelope) has(names ...string) bool {
	for _, n := range names {
		if v, ok := e[n]; !ok || string(v) == "null" {
			return false
		}
	}
	return true
}

// present reports whether every name is a member, null or not.
func (e envelope) present(names ...string) bool {
	for _, n := range names {
		if _, ok := e[n]; !ok {
			return false
		}
	}
	return true
}

// object decodes a member that is a JSON object; nil when it is not one.
func (e envelope) object(name string) envelope {
	var out envelope
	if json.Unmarshal(e[name], &out) != nil {
		return nil
	}
	return out
}

// isString reports whether a member is a JSON string equal to want (any
// string when want is empty).
func (e envelope) isString(name, want string) bool {
	var s string
	return json.Unmarshal(e[name], &s) == nil && (want == "" || s == want) && e.has(name)
}

// Classify tells which event shape a payload has, by its exact envelope:
// every member the source always sends must be there. A payload of no
// accepted shape is KindUnknown, never taken for a create.
func Classify(payload []byte) Kind {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return KindUnknown
	}
	var e envelope
	if err := json.Unmarshal(trimmed, &e); err != nil {
		return KindUnknown
	}
	switch {
	case e.isString("version", "2.0") && e.isString("routeKey", "") && e.isString("rawPath", "") &&
		e.object("requestContext").object("http").isString("method", ""):
		return KindHTTPv2
	case e.isString("resource", "") && e.isString("path", "") && e.isString("httpMethod", "") &&
		e.object("requestContext") != nil:
		return KindHTTPv1
	case isSQS(e):
		return KindSQS
	case e.present("version", "id", "detail-type", "source", "account", "time", "region", "resources") &&
		e.isString("id", "") && e.isString("detail-type", "") && e.isString("source", "") && e.object("detail") != nil:
		return KindEventBridge
	case e.isString("operation", ""):
		return KindDirect
	}
	return KindUnknown
}

// isSQS reports whether e is an SQS event: a non-empty Records list whose
// every record comes from SQS.
func isSQS(e envelope) bool {
	var records []envelope
	if json.Unmarshal(e["Records"], &records) != nil || len(records) == 0 {
		return false
	}
	for _, r := range records {
		if !r.isString("eventSource", "aws:sqs") || !r.isString("messageId", "") {
			return false
		}
	}
	return true
}

// Invoke handles one Lambda invocation.
func (d *Dispatcher) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	switch kind := Classify(payload); kind {
	case KindHTTPv2:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("decode %s event: %w", kind, err)
		}
		return json.Marshal(d.serveV2(ctx, ev))
	case KindHTTPv1:
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("decode %s event: %w", kind, err)
		}
		return json.Marshal(d.serveV1(ctx, ev))
	case KindSQS:
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("decode %s event: %w", kind, err)
		}
		return json.Marshal(d.serveSQS(ctx, ev))
	case KindEventBridge:
		var ev events.CloudWatchEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("decode %s event: %w", kind, err)
		}
		if err := d.serveEventBridge(ctx, ev); err != nil {
			return nil, err
		}
		return []byte("null"), nil
	case KindDirect:
		return d.serveDirect(ctx, payload)
	default:
		// Only a direct invoker can send an arbitrary payload, so it is
		// answered in the direct contract: refused for good.
		return d.refuseUnsupported(ctx)
	}
}

func (d *Dispatcher) serveV2(ctx context.Context, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	header := make(http.Header, len(ev.Headers))
	for k, v := range ev.Headers {
		header.Set(k, v)
	}
	path := ev.RawPath
	if stage := ev.RequestContext.Stage; stage != "" && stage != "$default" {
		// Strip the stage only as a whole path segment: stage "prod" must
		// not turn "/production/..." into "uction/...".
		if path == "/"+stage {
			path = "/"
		} else if strings.HasPrefix(path, "/"+stage+"/") {
			path = path[len(stage)+1:]
		}
	}
	status, headers, body := d.serveHTTP(ctx, ev.RequestContext.HTTP.Method, path, ev.RawQueryString, header,
		ev.Body, ev.IsBase64Encoded, ev.RequestContext.RequestID)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: body}
}

func (d *Dispatcher) serveV1(ctx context.Context, ev events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	header := make(http.Header, len(ev.Headers)+len(ev.MultiValueHeaders))
	for k, vs := range ev.MultiValueHeaders {
		header.Set(k, strings.Join(vs, ","))
	}
	for k, v := range ev.Headers {
		header.Set(k, v)
	}
	query := url.Values(ev.MultiValueQueryStringParameters).Encode()
	status, headers, body := d.serveHTTP(ctx, ev.HTTPMethod, ev.Path, query, header,
		ev.Body, ev.IsBase64Encoded, ev.RequestContext.RequestID)
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: body}
}

// serveHTTP builds the request API Gateway describes and serves it. The
// request is built field by field rather than parsed from a URL, so that no
// path or host an event carries can make it fail.
func (d *Dispatcher) serveHTTP(ctx context.Context, method, path, query string, header http.Header,
	body string, base64Encoded bool, apiRequestID string) (int, map[string]string, string) {
	var reader io.Reader = strings.NewReader(body)
	if base64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			// The handler answers the read error with a 400 that says so
			// (after authentication, as any other body problem).
			reader = failingReader{fmt.Errorf("%w: the body is marked base64-encoded (isBase64Encoded) but is not valid base64", storage.ErrMalformed)}
		} else {
			reader = bytes.NewReader(decoded)
		}
	}
	if path == "" {
		path = "/"
	}
	if logging.RequestID(ctx) == "" {
		ctx = logging.WithRequestID(ctx, apiRequestID)
	}
	req := (&http.Request{
		Method:     method,
		URL:        &url.URL{Path: path, RawQuery: query},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		// The API's own domain (behind the front door too, which
		// forwards every header but Host): an export storage's webhook
		// goes there when no public base URL is configured.
		Host:       header.Get("Host"),
		Body:       io.NopCloser(reader),
		RequestURI: path,
	}).WithContext(ctx)
	w := &responseWriter{header: http.Header{}}
	d.HTTP.ServeHTTP(w, req)
	headers := make(map[string]string, len(w.header))
	for k := range w.header {
		headers[k] = w.header.Get(k)
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.status, headers, w.body.String()
}

// failingReader is a body that cannot be read, for the reason err gives.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// responseWriter collects what a handler writes, for a proxy response.
type responseWriter struct {
	header http.Header
	status int
	body   strings.Builder
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
