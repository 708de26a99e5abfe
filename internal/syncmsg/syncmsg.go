// Package syncmsg encodes the sync and export queues' messages: a message
// names a storage, a sync job and step, or an annotation, never a
// credential. The queue handlers decode them without linking an SQS
// client.
package syncmsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lsdbx/databricks-storage/internal/core"
)

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
