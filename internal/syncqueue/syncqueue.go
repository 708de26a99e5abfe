// Package syncqueue carries a sync's steps on an SQS queue: it sends them
// (core.SyncQueue) and reads them back for the sync worker. A message
// names a storage, a sync job and a step, never a credential.
package syncqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// API is the part of the SQS client the queue uses.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queue sends sync messages to the queue at URL.
type Queue struct {
	Client API
	URL    string
}

// message is a sync message's body.
type message struct {
	Storage int64  `json:"storage"`
	Job     string `json:"job,omitempty"`
	Step    int64  `json:"step"`
	Purge   bool   `json:"purge,omitempty"`
}

// Encode renders a sync message as a queue message body.
func Encode(m core.SyncMessage) string {
	b, _ := json.Marshal(message(m)) // plain fields: cannot fail
	return string(b)
}

// ErrMalformed is wrapped when a body is not a sync message.
var ErrMalformed = errors.New("not a sync message")

// Decode reads a queue message body.
func Decode(body string) (core.SyncMessage, error) {
	var m message
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return core.SyncMessage{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if m.Storage < 1 || m.Step < 0 || (!m.Purge && m.Job == "") {
		return core.SyncMessage{}, fmt.Errorf("%w: storage %d, step %d, job %q", ErrMalformed, m.Storage, m.Step, m.Job)
	}
	return core.SyncMessage(m), nil
}

// SendSync implements core.SyncQueue.
func (q *Queue) SendSync(ctx context.Context, m core.SyncMessage) error {
	_, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(Encode(m))})
	if err != nil {
		return fmt.Errorf("send sync message: %w", err)
	}
	return nil
}

// exportMessage is an export message's body.
type exportMessage struct {
	Storage    int64  `json:"export_storage"`
	Annotation int64  `json:"annotation,omitempty"`
	Deleted    bool   `json:"deleted,omitempty"`
	Job        string `json:"job,omitempty"`
	Step       int64  `json:"step,omitempty"`
}

// EncodeExport renders an export message as a queue message body.
func EncodeExport(m core.ExportMessage) string {
	b, _ := json.Marshal(exportMessage(m)) // plain fields: cannot fail
	return string(b)
}

// DecodeExport reads an export queue message body.
func DecodeExport(body string) (core.ExportMessage, error) {
	var m exportMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return core.ExportMessage{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if m.Storage < 1 || m.Annotation < 0 || m.Step < 0 || (m.Annotation == 0 && m.Job == "") {
		return core.ExportMessage{}, fmt.Errorf("%w: export storage %d, annotation %d, job %q", ErrMalformed, m.Storage, m.Annotation, m.Job)
	}
	return core.ExportMessage(m), nil
}

// SendExport implements core.ExportQueue.
func (q *Queue) SendExport(ctx context.Context, m core.ExportMessage) error {
	_, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(EncodeExport(m))})
	if err != nil {
		return fmt.Errorf("send export message: %w", err)
	}
	return nil
}
