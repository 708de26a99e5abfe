package benchkit

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// DefaultAPIToken is the Label Studio API key the sample events carry
// (events/*.json: "Authorization: Token local-dev-token").
const DefaultAPIToken = "local-dev-token"

// Authorization returns the Authorization header value that presents token
// to the API. Every event the benchmarks send takes its header from here
// (through CreateEvents.Authorization), so that a token seeded into the
// table is used everywhere by changing one value.
func Authorization(token string) string {
	if token == "" {
		return ""
	}
	return "Token " + token
}

// CreateEvents makes API Gateway HTTP API (payload 2.0) events from a
// template such as events/http-create-pat.json.
type CreateEvents struct {
	template events.APIGatewayV2HTTPRequest
	// Authorization is the Authorization header every event carries; empty
	// sends none.
	Authorization string
	// IdempotencyKeyPrefix, when set, gives event n the header
	// "Idempotency-Key: <prefix><n>".
	IdempotencyKeyPrefix string
}

// LoadCreateEvents reads the event template at path, points its body's
// "host" at host (unchanged when host is empty) and sets the header
// authorization (see Authorization).
func LoadCreateEvents(path, host, authorization string) (*CreateEvents, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if host != "" {
		var body map[string]json.RawMessage
		if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
			return nil, fmt.Errorf("%s: body: %w", path, err)
		}
		h, _ := json.Marshal(host)
		body["host"] = h
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		ev.Body = string(b)
	}
	return &CreateEvents{template: ev, Authorization: authorization}, nil
}

// Event returns the event with request id n, JSON-encoded.
func (c *CreateEvents) Event(n int) []byte {
	ev := c.template
	ev.Headers = make(map[string]string, len(c.template.Headers)+1)
	for k, v := range c.template.Headers {
		ev.Headers[k] = v
	}
	delete(ev.Headers, "authorization")
	if c.Authorization != "" {
		ev.Headers["authorization"] = c.Authorization
	}
	if c.IdempotencyKeyPrefix != "" {
		ev.Headers["idempotency-key"] = c.IdempotencyKeyPrefix + strconv.Itoa(n)
	}
	ev.Headers["content-length"] = strconv.Itoa(len(ev.Body))
	ev.RequestContext.RequestID = "bench-" + strconv.Itoa(n)
	out, err := json.Marshal(ev)
	if err != nil {
		panic(err) // a struct of strings and maps always encodes
	}
	return out
}

// Response is the part of an HTTP API (payload 2.0) response the
// benchmarks check.
type Response struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body"`
}

// CheckCreated decodes a Lambda response payload and returns an error
// holding its status and body unless it is 201 Created.
func CheckCreated(payload []byte) error {
	var resp Response
	if err := json.Unmarshal(payload, &resp); err != nil {
		return fmt.Errorf("create: undecodable response %q: %w", Truncate(string(payload), 2000), err)
	}
	if resp.StatusCode != 201 {
		return fmt.Errorf("create failed: status %d, body %s", resp.StatusCode, Truncate(resp.Body, 2000))
	}
	return nil
}

// Truncate shortens s to n bytes, marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
