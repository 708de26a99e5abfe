// Package localapi serves the Lambda handler over plain HTTP for local runs:
// each request becomes an API Gateway HTTP API (v2) event, is passed to the
// same handler the Lambda runs, and its response is written back.
package localapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/lsdbx/databricks-storage/internal/filecap"
)

// Invoker is a Lambda handler (lambda.Handler has this method).
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// maxLocalBody caps what the local server reads; API Gateway's own cap is
// far above the handler's, so the handler's 413 is what callers see.
const maxLocalBody = 10 << 20

// Handler turns HTTP requests into API Gateway v2 events.
type Handler struct {
	Lambda Invoker
}

// ServeHTTP implements http.Handler.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLocalBody))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	payload, err := json.Marshal(Event(r, body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out, err := h.Lambda.Invoke(r.Context(), payload)
	if err != nil {
		http.Error(w, "lambda error: "+err.Error(), http.StatusBadGateway)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		http.Error(w, "bad lambda response: "+err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			http.Error(w, "bad lambda response body: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// Event builds the HTTP API (v2) event API Gateway would send for r.
func Event(r *http.Request, body []byte) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        r.URL.Path,
		RawQueryString: r.URL.RawQuery,
		Headers:        headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:  "000000000000",
			APIID:      "local",
			DomainName: r.Host,
			RequestID:  uuid.NewString(),
			Stage:      "$default",
			RouteKey:   "$default",
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return ev
}

// Describe returns the banner the local server prints.
func Describe(addr string) string {
	return fmt.Sprintf("Label Studio Databricks storage API listening on http://%s/api/storages/databricks/", addr)
}

// WithFiles serves the file route (filecap.RoutePrefix) with files and
// everything else with api, as the front door does in AWS. It matches the
// path as sent, without ServeMux's cleaning and redirects, so the file
// route judges a path with dot segments itself.
func WithFiles(api, files http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.EscapedPath(), filecap.RoutePrefix) {
			files.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
