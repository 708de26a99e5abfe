package eventsource_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
)

// Event-borne bodies go through the same check as HTTP bodies: a body
// nested deeper than Label Studio's clients can read back, or one Label
// Studio's parser cannot decode (not UTF-8), is refused for good with Label
// Studio's "JSON parse error" (a failure record for SQS and EventBridge,
// an error result for a direct invocation) and never reaches the core.
func TestEventBodiesLabelStudioCannotParse(t *testing.T) {
	const (
		deepDetail = "JSON parse error - arrays and objects may be nested at most 64 levels deep: line 1 column "
		utf8Detail = "JSON parse error - 'utf-8' codec can't decode byte 0xff in position "
	)
	handedOver := handedOverBody("ok", handOverID(0))
	deep := strings.TrimSuffix(handedOver, "}") + `, "meta": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}"
	notUTF8 := strings.Replace(handedOver, `"ok"`, "\"o\xffk\"", 1)
	withoutRef := func(body string) string {
		return strings.Replace(body, `"credentials_secret_id": "`+handOverID(0)+`", `, "", 1)
	}
	bodies := []struct {
		name, body, detail string
		sqs                bool
	}{
		{"nested 100 deep", deep, deepDetail, true},
		// An SQS body is a JSON string of the event: it cannot carry bytes
		// that are not UTF-8.
		{"not UTF-8", notUTF8, utf8Detail, false},
	}
	for _, b := range bodies {
		if b.sqs {
			t.Run("sqs/"+b.name, func(t *testing.T) {
				d, sc, fl, _ := newContractDispatcher(contractCase{titles: []string{"ok"}})
				payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: messageID(0), EventSource: "aws:sqs", Body: b.body}}})
				out, err := d.Invoke(lambdaContext("r"), payload)
				if err != nil || strings.Contains(string(out), messageID(0)) {
					t.Fatalf("Invoke = %s, %v; want the message acknowledged", out, err)
				}
				checkRefusedForGood(t, sc, fl.failures, b.detail)
			})
		}
		t.Run("eventbridge/"+b.name, func(t *testing.T) {
			d, sc, fl, _ := newContractDispatcher(contractCase{titles: []string{"ok"}})
			payload, _ := json.Marshal(events.CloudWatchEvent{ID: messageID(0), Source: eventsource.EventBridgeSource,
				DetailType: eventsource.EventBridgeDetailType, Detail: json.RawMessage(b.body)})
			if out, err := d.Invoke(lambdaContext("r"), payload); err != nil || string(out) != "null" {
				t.Fatalf("Invoke = %s, %v; want the event acknowledged", out, err)
			}
			checkRefusedForGood(t, sc, fl.failures, b.detail)
		})
		t.Run("direct create/"+b.name, func(t *testing.T) {
			d, sc, _, _ := newContractDispatcher(contractCase{})
			checkDirectRefused(t, d, sc, `{"operation": "create", "storage": `+strings.Replace(withoutRef(b.body), "{", `{"token": "t", `, 1)+`}`, b.detail)
		})
		t.Run("direct update/"+b.name, func(t *testing.T) {
			d, sc, _, _ := newContractDispatcher(contractCase{})
			checkDirectRefused(t, d, sc, `{"operation": "update", "id": 7, "patch": `+withoutRef(b.body)+`}`, b.detail)
		})
	}
}

func checkRefusedForGood(t *testing.T, sc *scriptedCore, failures []core.Failure, detail string) {
	t.Helper()
	if len(sc.calls) != 0 {
		t.Errorf("the core was called for a body Label Studio cannot parse")
	}
	if len(failures) != 1 {
		t.Fatalf("failure records %+v, want one", failures)
	}
	if f := failures[0]; f.Kind != core.KindMalformed || !strings.HasPrefix(f.Detail, detail) {
		t.Errorf("failure record %+v, want a malformed-body refusal whose detail starts %q", f, detail)
	}
}

func checkDirectRefused(t *testing.T, d *eventsource.Dispatcher, sc *scriptedCore, payload, detail string) {
	t.Helper()
	out, err := d.Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var res struct {
		Outcome   string `json:"outcome"`
		ErrorKind string `json:"error_kind"`
		Error     struct {
			StatusCode int    `json:"status_code"`
			Detail     string `json:"detail"`
		} `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != "refused" || res.Error.StatusCode != 400 || !strings.HasPrefix(res.Error.Detail, detail) {
		t.Errorf("result %s, want a refusal (400) whose detail starts %q", out, detail)
	}
	if len(sc.calls) != 0 {
		t.Errorf("the core was called for a body Label Studio cannot parse")
	}
}
