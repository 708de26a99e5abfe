package labelstudio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// The export's reads and webhooks: Client is a core.AnnotationSource and
// core.Webhooks with the service credential. What it relies on of Label
// Studio (1.23.2, read in its source and checked against a running one by
// the integration tests):
//   - a target storage writes, for an annotation, the JSON of
//     io_storages.serializers.StorageAnnotationSerializer (ExportStorage.
//     _get_serialized_data, the feature flag of the "long" task format
//     being off): the annotation as GET /api/annotations/<id>/ answers
//     it, with completed_by expanded to {id, first_name, last_name, email}
//     and task replaced by the task's model fields (TaskSerializer, all
//     fields but annotations); GET /api/tasks/<id>/ answers those but
//     allow_skip and precomputed_agreement, and updated_by as
//     [{"user_id": id}] or []; the project export
//     (GET /api/projects/<id>/export?exportType=JSON&ids[]=<task>) answers
//     allow_skip; precomputed_agreement is an Enterprise field, null in
//     Community;
//   - the data manager's task list filters on "filter:tasks:annotations_ids"
//     with "greater" (tasks holding an annotation with a greater id) and
//     includes annotations_ids, the task's annotation ids joined by commas;
//   - webhooks (POST /api/webhooks/, DELETE /api/webhooks/<id>/) are sent
//     synchronously, within the request that saved the annotation, when
//     Label Studio runs without Redis (Community's default), once, never
//     retried; SSRF protection refuses private addresses unless
//     SSRF_PROTECTION_ENABLED=false.

// storageTaskFields are the fields of the task nested in a target
// storage's annotation file (the Task model's, annotations omitted).
var storageTaskFields = []string{
	"id", "data", "meta", "created_at", "updated_at", "is_labeled", "overlap", "file_upload", "inner_id",
	"updated_by", "total_annotations", "cancelled_annotations", "total_predictions", "comment_count",
	"unresolved_comment_count", "last_comment_updated_at", "project", "comment_authors",
	"allow_skip", "precomputed_agreement",
}

// Annotation implements core.AnnotationSource: the annotation's current
// version, its Body the JSON Label Studio's own target storages write for
// it, read in three requests: the annotation (completed_by expanded), its
// task, and the task's allow_skip from the project export. An annotation
// that is gone, or of another project, wraps core.ErrNotFound.
func (c Tasks) Annotation(ctx context.Context, project, id int64) (core.ExportedAnnotation, error) {
	gone := fmt.Errorf("annotation %d of project %d: %w", id, project, core.ErrNotFound)
	var ann map[string]json.RawMessage
	call := taskCall{method: http.MethodGet, path: "/api/annotations/" + strconv.FormatInt(id, 10) + "/",
		query: url.Values{"expand": {"completed_by"}}, ok: http.StatusOK, missing: gone}
	if err := c.serviceCall(ctx, call, &ann); err != nil {
		return core.ExportedAnnotation{}, err
	}
	var head struct {
		ID        int64     `json:"id"`
		Task      int64     `json:"task"`
		Project   int64     `json:"project"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	if err := remarshal(ann, &head); err != nil || head.ID != id || head.Task < 1 {
		return core.ExportedAnnotation{}, fmt.Errorf("%w: %s: the answer is not the annotation asked for", core.ErrTasksUnavailable, call)
	}
	if head.Project != project {
		return core.ExportedAnnotation{}, fmt.Errorf("%w: %s: %w", core.ErrTasksRefused, call, gone)
	}
	if by := ann["completed_by"]; len(by) > 0 && string(by) != "null" {
		var u struct {
			ID        json.RawMessage `json:"id"`
			FirstName json.RawMessage `json:"first_name"`
			LastName  json.RawMessage `json:"last_name"`
			Email     json.RawMessage `json:"email"`
		}
		if json.Unmarshal(by, &u) != nil || u.ID == nil {
			return core.ExportedAnnotation{}, fmt.Errorf("%w: %s: completed_by is not expanded", core.ErrTasksUnavailable, call)
		}
		ann["completed_by"], _ = json.Marshal(map[string]json.RawMessage{
			"id": u.ID, "first_name": orNull(u.FirstName), "last_name": orNull(u.LastName), "email": orNull(u.Email)})
	}
	task, err := c.storageTask(ctx, project, head.Task, gone)
	if err != nil {
		return core.ExportedAnnotation{}, err
	}
	ann["task"] = task
	body, err := json.Marshal(ann)
	if err != nil {
		return core.ExportedAnnotation{}, fmt.Errorf("%w: %w", core.ErrTasksUnavailable, err)
	}
	return core.ExportedAnnotation{ID: id, Task: head.Task, UpdatedAt: head.UpdatedAt, Body: body}, nil
}

// storageTask is the task as a target storage nests it in an annotation.
func (c *Client) storageTask(ctx context.Context, project, id int64, gone error) (json.RawMessage, error) {
	var task map[string]json.RawMessage
	call := taskCall{method: http.MethodGet, path: "/api/tasks/" + strconv.FormatInt(id, 10) + "/",
		query: url.Values{"resolve_uri": {"false"}}, ok: http.StatusOK, missing: gone}
	if err := c.serviceCall(ctx, call, &task); err != nil {
		return nil, err
	}
	// The data manager's updated_by, [{"user_id": id}] or [], is the
	// model's foreign key.
	var by []struct {
		UserID json.RawMessage `json:"user_id"`
	}
	if err := json.Unmarshal(task["updated_by"], &by); err != nil {
		return nil, fmt.Errorf("%w: %s: updated_by is not the data manager's", core.ErrTasksUnavailable, call)
	}
	task["updated_by"] = json.RawMessage("null")
	if len(by) > 0 {
		task["updated_by"] = by[0].UserID
	}
	// Enterprise's agreement; no API answers it, and Community never sets it.
	task["precomputed_agreement"] = json.RawMessage("null")
	skip, err := c.allowSkip(ctx, project, id, gone)
	if err != nil {
		return nil, err
	}
	task["allow_skip"] = skip
	out := make(map[string]json.RawMessage, len(storageTaskFields))
	for _, f := range storageTaskFields {
		v, ok := task[f]
		if !ok {
			return nil, fmt.Errorf("%w: %s: the task has no %s", core.ErrTasksUnavailable, call, f)
		}
		out[f] = v
	}
	return json.Marshal(out)
}

// allowSkip reads the task's allow_skip, which only the project export
// answers.
func (c *Client) allowSkip(ctx context.Context, project, task int64, gone error) (json.RawMessage, error) {
	var tasks []struct {
		ID        int64           `json:"id"`
		AllowSkip json.RawMessage `json:"allow_skip"`
	}
	call := taskCall{method: http.MethodGet, path: "/api/projects/" + strconv.FormatInt(project, 10) + "/export",
		query: url.Values{"exportType": {"JSON"}, "ids[]": {strconv.FormatInt(task, 10)}, "download_resources": {"false"}},
		ok:    http.StatusOK, missing: gone}
	if err := c.serviceCall(ctx, call, &tasks); err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.ID == task && t.AllowSkip != nil {
			return t.AllowSkip, nil
		}
	}
	// The task was deleted in between.
	return nil, fmt.Errorf("%w: %s: %w", core.ErrTasksRefused, call, gone)
}

// AnnotationIDs implements core.AnnotationSource: the ids of the project's
// annotations above after, in id order, at most limit. Label Studio lists
// no annotations by id across a project: the data manager's task list
// gives, page by page, the tasks holding an annotation above after with
// their annotation ids, so one call costs a request per TaskPageSize such
// tasks.
func (c Tasks) AnnotationIDs(ctx context.Context, project, after int64, limit int) ([]int64, error) {
	if limit <= 0 {
		return nil, nil
	}
	var ids []int64
	for lastTask := int64(0); ; {
		q := taskQuery{Filters: &taskFilters{Conjunction: "and", Items: []taskFilter{
			{Filter: "filter:tasks:annotations_ids", Operator: "greater", Type: "Number", Value: after},
			idFilter("greater", lastTask),
		}}, Ordering: []string{"tasks:id"}}
		page, err := c.listAnnotated(ctx, project, q)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			if t.ID <= lastTask {
				return nil, fmt.Errorf("%w: GET /api/tasks/: the answer is not the tasks asked for (id %d after %d)", core.ErrTasksUnavailable, t.ID, lastTask)
			}
			lastTask = t.ID
			for _, f := range strings.FieldsFunc(t.AnnotationIDs, func(r rune) bool { return r < '0' || r > '9' }) {
				id, err := strconv.ParseInt(f, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%w: GET /api/tasks/: annotations_ids %q", core.ErrTasksUnavailable, t.AnnotationIDs)
				}
				if id > after {
					ids = append(ids, id)
				}
			}
		}
		if len(page) < TaskPageSize {
			break
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return ids[:min(limit, len(ids))], nil
}

// annotatedTask is a task of the list with its annotation ids.
type annotatedTask struct {
	ID            int64  `json:"id"`
	AnnotationIDs string `json:"annotations_ids"`
}

// listAnnotated reads one page of the project's tasks matching q, with
// their annotation ids.
func (c *Client) listAnnotated(ctx context.Context, project int64, q taskQuery) ([]annotatedTask, error) {
	qj, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", core.ErrTasksUnavailable, err)
	}
	call := taskCall{method: http.MethodGet, path: "/api/tasks/", ok: http.StatusOK, query: url.Values{
		"project": {strconv.FormatInt(project, 10)}, "page": {"1"}, "page_size": {strconv.Itoa(TaskPageSize)},
		"include": {"id,annotations_ids"}, "resolve_uri": {"false"}, "query": {string(qj)},
	}}
	var answer struct {
		Tasks *[]annotatedTask `json:"tasks"`
	}
	if err := c.serviceCall(ctx, call, &answer); err != nil {
		return nil, err
	}
	if answer.Tasks == nil {
		return nil, fmt.Errorf("%w: %s: the answer has no tasks", core.ErrTasksUnavailable, call)
	}
	return *answer.Tasks, nil
}

// Webhooks is the client's side for export storages' webhooks
// (core.Webhooks), a type of its own so that the create function, which
// registers them, links none of Tasks.
type Webhooks struct{ *Client }

// RegisterWebhook implements core.Webhooks (Webhooks.RegisterWebhook).
func (c Tasks) RegisterWebhook(ctx context.Context, w core.Webhook) (int64, error) {
	return Webhooks(c).RegisterWebhook(ctx, w)
}

// RemoveWebhook implements core.Webhooks (Webhooks.RemoveWebhook).
func (c Tasks) RemoveWebhook(ctx context.Context, id int64) error {
	return Webhooks(c).RemoveWebhook(ctx, id)
}

// RegisterWebhook implements core.Webhooks: POST /api/webhooks/ of a
// project webhook sending its payload for w.Actions only, active.
func (c Webhooks) RegisterWebhook(ctx context.Context, w core.Webhook) (int64, error) {
	headers := w.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	actions := w.Actions
	if actions == nil {
		actions = []string{}
	}
	body, err := json.Marshal(map[string]any{
		"project": w.Project, "url": w.URL, "send_payload": true, "send_for_all_actions": false,
		"headers": headers, "actions": actions, "is_active": true,
	})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", core.ErrTasksRefused, err)
	}
	var answer struct {
		ID int64 `json:"id"`
	}
	call := taskCall{method: http.MethodPost, path: "/api/webhooks/", body: body, ok: http.StatusCreated}
	if err := c.serviceCall(ctx, call, &answer); err != nil {
		return 0, err
	}
	if answer.ID < 1 {
		return 0, fmt.Errorf("%w: %s: the answer has no webhook id", core.ErrTasksUnavailable, call)
	}
	return answer.ID, nil
}

// RemoveWebhook implements core.Webhooks: DELETE /api/webhooks/<id>/; a
// webhook that is gone (404) counts as removed.
func (c Webhooks) RemoveWebhook(ctx context.Context, id int64) error {
	call := taskCall{method: http.MethodDelete, path: "/api/webhooks/" + strconv.FormatInt(id, 10) + "/",
		ok: http.StatusNoContent, missing: core.ErrNotFound}
	err := c.serviceCall(ctx, call, nil)
	if errors.Is(err, core.ErrNotFound) {
		return nil
	}
	return err
}

// remarshal decodes the fields of a decoded object into out.
func remarshal(m map[string]json.RawMessage, out any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// orNull is v, or JSON null when absent.
func orNull(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}
