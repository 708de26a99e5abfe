// Package eventsource receives Lambda invocations, recognises each event by
// its shape, and hands it to the matching adapter: API Gateway REST (v1) and
// HTTP API (v2) events go to the HTTP API handler.
package eventsource

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/httpapi"
)

// HTTPHandler serves HTTP-shaped requests.
type HTTPHandler interface {
	Serve(ctx context.Context, req httpapi.Request) httpapi.Response
}

// Dispatcher is the Lambda handler: it implements lambda.Handler.
type Dispatcher struct {
	HTTP HTTPHandler
	// Failures keeps permanent failures of SQS and EventBridge events.
	Failures FailureRecorder
	Logger   *slog.Logger
}

// ErrUnsupportedEvent is returned for payloads of no known event shape.
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

// shape holds just enough of any event to tell which one it is.
type shape struct {
	Version        string          `json:"version"`
	RawPath        *string         `json:"rawPath"`
	HTTPMethod     *string         `json:"httpMethod"`
	RequestContext json.RawMessage `json:"requestContext"`
	Records        []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	DetailType *string         `json:"detail-type"`
	Source     *string         `json:"source"`
	Detail     json.RawMessage `json:"detail"`
}

// Classify tells which event shape a payload has.
func Classify(payload []byte) Kind {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return KindUnknown
	}
	var s shape
	if err := json.Unmarshal(trimmed, &s); err != nil {
		return KindUnknown
	}
	switch {
	case s.RequestContext != nil && s.Version == "2.0" && s.RawPath != nil:
		return KindHTTPv2
	case s.RequestContext != nil && s.HTTPMethod != nil:
		return KindHTTPv1
	case len(s.Records) > 0 && s.Records[0].EventSource == "aws:sqs":
		return KindSQS
	case s.DetailType != nil && s.Source != nil && s.Detail != nil:
		return KindEventBridge
	}
	return KindDirect
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
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedEvent, kind)
	}
}

func (d *Dispatcher) serveV2(ctx context.Context, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	headers := make(map[string]string, len(ev.Headers))
	for k, v := range ev.Headers {
		headers[strings.ToLower(k)] = v
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
	resp := d.serve(ctx, httpapi.Request{
		Method:    ev.RequestContext.HTTP.Method,
		Path:      path,
		Headers:   headers,
		RequestID: ev.RequestContext.RequestID,
		KeyScope:  "http",
	}, ev.Body, ev.IsBase64Encoded)
	return events.APIGatewayV2HTTPResponse{StatusCode: resp.Status, Headers: resp.Headers, Body: string(resp.Body)}
}

func (d *Dispatcher) serveV1(ctx context.Context, ev events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	headers := make(map[string]string, len(ev.Headers)+len(ev.MultiValueHeaders))
	for k, vs := range ev.MultiValueHeaders {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	for k, v := range ev.Headers {
		headers[strings.ToLower(k)] = v
	}
	resp := d.serve(ctx, httpapi.Request{
		Method:    ev.HTTPMethod,
		Path:      ev.Path,
		Headers:   headers,
		RequestID: ev.RequestContext.RequestID,
		KeyScope:  "http",
	}, ev.Body, ev.IsBase64Encoded)
	return events.APIGatewayProxyResponse{StatusCode: resp.Status, Headers: resp.Headers, Body: string(resp.Body)}
}

func (d *Dispatcher) serve(ctx context.Context, req httpapi.Request, body string, base64Encoded bool) httpapi.Response {
	req.Body = []byte(body)
	if base64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			// An undecodable body is served as if empty of JSON: the handler
			// answers it with a clear 400.
			decoded = []byte("\x00")
		}
		req.Body = decoded
	}
	return d.HTTP.Serve(ctx, req)
}
