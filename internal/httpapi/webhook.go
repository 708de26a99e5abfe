package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// MaxWebhookBytes bounds a webhook delivery's body. Larger than the
// storage API's bodies (storage.MaxRequestBytes): Label Studio sends the
// annotation with its task and the project, whose sizes are its users'.
// A larger delivery is refused, and lost until the export sync.
const MaxWebhookBytes = 4 << 20

// webhookPayload is what the service reads of a delivery: the action, the
// project's id and the annotations' ids. "annotation" is one object
// (ANNOTATION_CREATED, ANNOTATION_UPDATED) or a list (ANNOTATIONS_CREATED);
// ANNOTATIONS_DELETED lists {"id"} under "annotations". The payload also
// carries the project's token and the task's data: it is never logged.
type webhookPayload struct {
	Action  string `json:"action"`
	Project struct {
		ID int64 `json:"id"`
	} `json:"project"`
	Annotation  json.RawMessage `json:"annotation"`
	Annotations []idOnly        `json:"annotations"`
}

type idOnly struct {
	ID int64 `json:"id"`
}

// annotationEvent reads a delivery; ok is false for an action the export
// does not act on.
func annotationEvent(body []byte) (ev core.AnnotationEvent, ok bool, err error) {
	var p webhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return ev, false, fmt.Errorf("%w: the webhook payload is not Label Studio's", storage.ErrMalformed)
	}
	if !slices.Contains(core.ExportActions, p.Action) {
		return ev, false, nil
	}
	ev.Project = p.Project.ID
	var ids []idOnly
	switch {
	case p.Action == "ANNOTATIONS_DELETED":
		ids, ev.Deleted = p.Annotations, true
	case strings.HasPrefix(strings.TrimSpace(string(p.Annotation)), "["):
		err = json.Unmarshal(p.Annotation, &ids)
	case len(p.Annotation) > 0:
		var one idOnly
		err = json.Unmarshal(p.Annotation, &one)
		ids = []idOnly{one}
	}
	if err != nil || ev.Project < 1 {
		return ev, false, fmt.Errorf("%w: the webhook payload is not Label Studio's", storage.ErrMalformed)
	}
	for _, a := range ids {
		if a.ID < 1 {
			return ev, false, fmt.Errorf("%w: the webhook payload names no annotation id", storage.ErrMalformed)
		}
		ev.Annotations = append(ev.Annotations, a.ID)
	}
	return ev, true, nil
}

// webhook takes a delivery for export storage id: checked against the
// storage's secret, queued, answered at once (Label Studio waits for the
// answer within the annotator's save, and never retries).
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request, id int64, out *outcome) {
	out.kind = storage.KindExport
	if r.Method != http.MethodPost {
		out.operation = "none"
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, out, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method), nil)
		return
	}
	if h.Webhooks == nil {
		if h.ExportManager == nil {
			// The create function: the template routes deliveries to the
			// manage function.
			h.failFor(w, out, &core.WrongFunctionError{Operation: out.operation})
			return
		}
		// A deployment without Label Studio or an export queue takes no
		// deliveries, now or later: Label Studio's 400, not a 5xx.
		h.failFor(w, out, fmt.Errorf("export storage %d: webhook: %w", id, core.ErrSyncUnavailable))
		return
	}
	secret := r.Header.Get(core.WebhookHeader)
	if secret == "" {
		// Refused before anything is read: nothing to compare.
		h.failFor(w, out, fmt.Errorf("export storage %d: %w", id, core.ErrWebhookRefused))
		return
	}
	body, err := readLimited(r, MaxWebhookBytes)
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	ev, act, err := annotationEvent(body)
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	if !act {
		// Still the storage's secret to check: an action the export
		// ignores answers as one it acts on would.
		ev = core.AnnotationEvent{Project: -1}
	}
	if _, err := h.Webhooks.AcceptWebhook(r.Context(), id, secret, ev); err != nil {
		h.failFor(w, out, err)
		return
	}
	out.status = http.StatusOK
	writeJSON(w, http.StatusOK, []byte("{}"))
}

// requestBase is the context key of the public base URL a request came
// to.
type requestBase struct{}

// RequestBase is the scheme and host the request in ctx came to (set for
// the export storages' creates), empty when unknown: where Label Studio
// can reach the service when no public base URL is configured (in Lambda,
// the HTTP API's own domain, which the front door forwards to as Host).
func RequestBase(ctx context.Context) string {
	s, _ := ctx.Value(requestBase{}).(string)
	return s
}

func withRequestBase(r *http.Request) *http.Request {
	if r.Host == "" {
		return r
	}
	scheme := "https"
	if r.TLS == nil && !strings.Contains(r.Host, ".") {
		scheme = "http" // a local server (localhost:port)
	}
	return r.WithContext(context.WithValue(r.Context(), requestBase{}, scheme+"://"+r.Host))
}

// readLimited reads at most limit bytes of the body (one more to tell a
// larger body).
func readLimited(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if errors.Is(err, storage.ErrMalformed) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the body could not be read", storage.ErrMalformed)
	}
	if int64(len(body)) > limit {
		return nil, storage.ErrTooLarge
	}
	return body, nil
}
