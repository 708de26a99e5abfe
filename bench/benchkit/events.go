package benchkit

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// CreateEvents makes API Gateway HTTP API (payload 2.0) events from a
// template such as events/http-create-pat.json.
type CreateEvents struct {
	template events.APIGatewayV2HTTPRequest
}

// LoadCreateEvents reads the event template at path, points its body's
// "host" at host and presents token (Authorization: Token <token>).
func LoadCreateEvents(path, host, token string) (*CreateEvents, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
		return nil, fmt.Errorf("%s: body: %w", path, err)
	}
	body["host"], _ = json.Marshal(host)
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ev.Body = string(b)
	ev.Headers["authorization"] = "Token " + token
	ev.Headers["content-length"] = strconv.Itoa(len(ev.Body))
	return &CreateEvents{template: ev}, nil
}

// Event returns the event with request id bench-<n>, JSON-encoded.
func (c *CreateEvents) Event(n int) []byte {
	ev := c.template
	ev.RequestContext.RequestID = "bench-" + strconv.Itoa(n)
	out, err := json.Marshal(ev)
	if err != nil {
		panic(err) // strings and maps always encode
	}
	return out
}

// CheckCreated returns an error holding the status and body of a Lambda
// response payload unless it is 201 Created.
func CheckCreated(payload []byte) error {
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
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
