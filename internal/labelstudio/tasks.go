package labelstudio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// The task import: Client is a core.TaskImporter with the service
// credential. What it relies on of Label Studio (1.23.2, read in its
// source and checked against a running one):
//   - a bulk import (POST /api/projects/<id>/import) validates every task
//     before it creates any (a 400 creates nothing), keeps each task's
//     "meta", renames a "$undefined$" data key to the first key of the
//     project's data_types, and with return_task_ids=true answers the new
//     ids in the order of the tasks sent (Community edition: Enterprise
//     imports asynchronously and answers no ids);
//   - the data manager's task list (GET /api/tasks/?project=<id>) takes a
//     JSON "query" of filters on tasks:id and an ordering, and "include"
//     limits each task to the fields named (id, meta); a page past the end
//     is a 404 ("Invalid page."), so lists are paged by id, never by page
//     number;
//   - the data manager's columns (GET /api/dm/columns/?project=<id>) list
//     the project's data_types in the order Label Studio holds them, the
//     order whose first key "$undefined$" becomes (the labeling
//     configuration's order on SQLite; PostgreSQL's jsonb keeps its own).

// DefaultTaskTimeout bounds one task call (an import, a page of a task
// list) when Client.TaskTimeout is zero: an import of a couple of thousand
// tasks into a Label Studio on SQLite takes seconds.
const DefaultTaskTimeout = 60 * time.Second

// TaskPageSize is the number of tasks a task list asks for at a time.
const TaskPageSize = 1000

// maxTaskBody caps what is read of a task list or an import's answer (a
// page of TaskPageSize tasks with their meta is well under it).
const maxTaskBody = 64 << 20

// maxErrorBody caps what is read of a refusal; only a summary is kept.
const maxErrorBody = 64 << 10

// undefinedKey is the data key Label Studio renames to the project's first
// data key on import (settings.DATA_UNDEFINED_NAME).
const undefinedKey = "$undefined$"

func (c *Client) taskTimeout() time.Duration {
	if c.TaskTimeout > 0 {
		return c.TaskTimeout
	}
	return DefaultTaskTimeout
}

// taskHTTP is the HTTP client of task calls: Client.HTTP's transport with
// the task timeout instead of its own, shorter one.
func (c *Client) taskHTTP() *http.Client {
	h := *c.http()
	h.Timeout = c.taskTimeout()
	return &h
}

// taskCall is one request of the task import.
type taskCall struct {
	method, path string
	query        url.Values
	body         []byte
	// ok is the status of success.
	ok int
	// missing, when set, is the error a 404 wraps (with
	// core.ErrTasksRefused), for a call about one thing that may be gone.
	missing error
}

func (t taskCall) String() string { return t.method + " " + t.path }

// serviceCall sends call with the service credential and decodes its
// answer into out. A 401 is answered before Label Studio does anything, so
// the call is sent once more with the credential read again (it may have
// been rotated); no other failure is retried here: an import that got no
// answer may have happened.
func (c *Client) serviceCall(ctx context.Context, call taskCall, out any) error {
	if c.Service == nil {
		return fmt.Errorf("%w: no service credential is configured", core.ErrTasksUnavailable)
	}
	for attempt := 0; ; attempt++ {
		h, err := c.Service.Authorization(ctx)
		if err != nil {
			return fmt.Errorf("%w: the service credential could not be read: %w", core.ErrTasksUnavailable, err)
		}
		err = c.taskDo(ctx, call, h, out)
		if !errors.Is(err, ErrRefused) {
			return err
		}
		c.Service.Invalidate()
		if attempt > 0 {
			return fmt.Errorf("%w: Label Studio refuses the service credential: %w", core.ErrTasksRefused, err)
		}
	}
}

// taskDo sends call once. A 401 is returned as ErrRefused (for
// serviceCall); every other failure wraps core.ErrTasksUnavailable or
// core.ErrTasksRefused.
func (c *Client) taskDo(ctx context.Context, call taskCall, authorization string, out any) error {
	u := strings.TrimSuffix(c.BaseURL, "/") + call.path
	if len(call.query) > 0 {
		u += "?" + call.query.Encode()
	}
	var body io.Reader
	if call.body != nil {
		body = bytes.NewReader(call.body)
	}
	req, err := http.NewRequestWithContext(ctx, call.method, u, body)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", core.ErrTasksUnavailable, call, err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	if call.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.taskHTTP().Do(req)
	if err != nil {
		// A *url.Error repeats the URL; the cause says enough.
		return fmt.Errorf("%w: %s: %w", core.ErrTasksUnavailable, call, unwrapURL(err))
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s == call.ok && out == nil:
		return nil
	case s == call.ok:
		dec := json.NewDecoder(io.LimitReader(resp.Body, maxTaskBody))
		if err := dec.Decode(out); err != nil {
			return fmt.Errorf("%w: %s: the answer is not Label Studio's JSON: %w", core.ErrTasksUnavailable, call, err)
		}
		return nil
	case s == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w", call, ErrRefused)
	case s == http.StatusNotFound && call.missing != nil:
		return fmt.Errorf("%w: %s answered 404: %w", core.ErrTasksRefused, call, call.missing)
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return fmt.Errorf("%w: %s answered %d", core.ErrTasksUnavailable, call, s)
	case s >= 400 && s < 500:
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		why := ""
		if r := refusalReason(raw); r != "" {
			why = ": " + r
		}
		return fmt.Errorf("%w: %s answered %d%s", core.ErrTasksRefused, call, s, why)
	}
	return fmt.Errorf("%w: %s answered %d", core.ErrTasksUnavailable, call, resp.StatusCode)
}

// maxReason bounds the summary of a refusal kept in an error.
const maxReason = 300

// refusalReason summarises Label Studio's error answer: its detail and
// first validation error, each cut before the " :: " after which Label
// Studio repeats the task it refused (the task's data stays out of errors
// and logs), on one line of printable characters, at most maxReason long.
// "" when the body is not Label Studio's error JSON.
func refusalReason(raw []byte) string {
	var e struct {
		Detail           any `json:"detail"`
		ValidationErrors any `json:"validation_errors"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return ""
	}
	var parts []string
	if d, ok := e.Detail.(string); ok && d != "" {
		parts = append(parts, sanitise(d))
	}
	if m := firstMessage(e.ValidationErrors, ""); m != "" {
		parts = append(parts, m)
	}
	s := strings.Join(parts, ": ")
	if r := []rune(s); len(r) > maxReason {
		s = string(r[:maxReason]) + "…"
	}
	return s
}

// firstMessage is the first string in a validation error tree, sanitised
// and prefixed by the field it is about.
func firstMessage(v any, field string) string {
	switch v := v.(type) {
	case string:
		if field != "" && field != "non_field_errors" {
			return field + ": " + sanitise(v)
		}
		return sanitise(v)
	case []any:
		for _, x := range v {
			if m := firstMessage(x, field); m != "" {
				if len(v) > 1 {
					m += fmt.Sprintf(" (and %d more)", len(v)-1)
				}
				return m
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if m := firstMessage(v[k], k); m != "" {
				return m
			}
		}
	}
	return ""
}

// sanitise cuts a message of Label Studio's before the task it repeats and
// makes it one line of printable characters.
func sanitise(s string) string {
	if i := strings.Index(s, " :: "); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, " [assume:"); i >= 0 {
		s = s[:i]
	}
	// A long message is cut first, to bound the work (a rune cut in two
	// becomes U+FFFD); refusalReason cuts the summary to maxReason.
	if len(s) > 4*maxReason {
		s = s[:4*maxReason]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// DataKeys returns the data keys of the project's labeling configuration
// in the order Label Studio holds them: the first is the one a
// "$undefined$" key of an imported task becomes. Read from the data
// manager's columns (GET /api/dm/columns/?project=<id>), the columns of
// task data the labeling configuration defines; keys of a Repeater
// ("images[{{idx}}]") are not among them.
func (c Tasks) DataKeys(ctx context.Context, project int64) ([]string, error) {
	var answer struct {
		Columns *[]struct {
			ID                 string `json:"id"`
			Parent             string `json:"parent"`
			VisibilityDefaults struct {
				Labeling bool `json:"labeling"`
			} `json:"visibility_defaults"`
		} `json:"columns"`
	}
	call := taskCall{method: http.MethodGet, path: "/api/dm/columns/", ok: http.StatusOK,
		query: url.Values{"project": {strconv.FormatInt(project, 10)}}}
	if err := c.serviceCall(ctx, call, &answer); err != nil {
		return nil, err
	}
	if answer.Columns == nil {
		return nil, fmt.Errorf("%w: %s: the answer has no columns", core.ErrTasksUnavailable, call)
	}
	var keys []string
	for _, col := range *answer.Columns {
		// Columns of task data found only in imported tasks are not
		// shown when labeling; "$undefined$" is a key of data, not of
		// the configuration.
		if col.Parent == "data" && col.VisibilityDefaults.Labeling && col.ID != undefinedKey && !slices.Contains(keys, col.ID) {
			keys = append(keys, col.ID)
		}
	}
	return keys, nil
}

// taskQuery is the data manager's query of a task list.
type taskQuery struct {
	Filters  *taskFilters `json:"filters,omitempty"`
	Ordering []string     `json:"ordering"`
}

type taskFilters struct {
	Conjunction string       `json:"conjunction"`
	Items       []taskFilter `json:"items"`
}

type taskFilter struct {
	Filter   string `json:"filter"`
	Operator string `json:"operator"`
	Type     string `json:"type"`
	Value    int64  `json:"value"`
}

// idFilter is a condition on the task id ("greater", "less_or_equal").
func idFilter(operator string, v int64) taskFilter {
	return taskFilter{Filter: "filter:tasks:id", Operator: operator, Type: "Number", Value: v}
}

// listedTask is a task of a list: its id and, when asked for, its meta.
type listedTask struct {
	ID   int64           `json:"id"`
	Meta json.RawMessage `json:"meta"`
}

// listTasks reads one page (page 1: the filters do the paging) of the
// project's tasks matching q, with the fields of include.
func (c *Client) listTasks(ctx context.Context, project int64, q taskQuery, size int, include string) ([]listedTask, error) {
	qj, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", core.ErrTasksUnavailable, err)
	}
	call := taskCall{method: http.MethodGet, path: "/api/tasks/", ok: http.StatusOK, query: url.Values{
		"project": {strconv.FormatInt(project, 10)}, "page": {"1"}, "page_size": {strconv.Itoa(size)},
		"include": {include}, "resolve_uri": {"false"}, "query": {string(qj)},
	}}
	var answer struct {
		Tasks *[]listedTask `json:"tasks"`
	}
	if err := c.serviceCall(ctx, call, &answer); err != nil {
		return nil, err
	}
	if answer.Tasks == nil {
		return nil, fmt.Errorf("%w: %s: the answer has no tasks", core.ErrTasksUnavailable, call)
	}
	return *answer.Tasks, nil
}

// eachTask pages through the project's tasks with an id above after and
// at most upTo (no bound when 0), in id order, calling f with each page.
func (c *Client) eachTask(ctx context.Context, project, after, upTo int64, include string, f func([]listedTask)) error {
	for {
		items := []taskFilter{idFilter("greater", after)}
		if upTo > 0 {
			items = append(items, idFilter("less_or_equal", upTo))
		}
		q := taskQuery{Filters: &taskFilters{Conjunction: "and", Items: items}, Ordering: []string{"tasks:id"}}
		page, err := c.listTasks(ctx, project, q, TaskPageSize, include)
		if err != nil {
			return err
		}
		for _, t := range page {
			// Each page must move past the last: anything else would
			// loop for ever.
			if t.ID <= after || (upTo > 0 && t.ID > upTo) {
				return fmt.Errorf("%w: GET /api/tasks/: the answer is not the tasks asked for (id %d after %d)", core.ErrTasksUnavailable, t.ID, after)
			}
			after = t.ID
		}
		f(page)
		if len(page) < TaskPageSize {
			return nil
		}
	}
}

// LastTaskID returns the highest id of a task in the project (0 when it has
// none), in one request for one task ordered by id, descending.
func (c Tasks) LastTaskID(ctx context.Context, project int64) (int64, error) {
	page, err := c.listTasks(ctx, project, taskQuery{Ordering: []string{"-tasks:id"}}, 1, "id")
	if err != nil {
		return 0, err
	}
	if len(page) == 0 {
		return 0, nil
	}
	return page[0].ID, nil
}

// importedTask is a task as the import sends it.
type importedTask struct {
	Data        map[string]any `json:"data"`
	Annotations []any          `json:"annotations,omitempty"`
	Predictions []any          `json:"predictions,omitempty"`
	Meta        taskMeta       `json:"meta"`
}

// taskMeta is the origin of a task in its meta; its keys are the ones
// that mark a task's origin.
type taskMeta struct {
	Storage *int64  `json:"databricks_storage"`
	Key     *string `json:"databricks_key"`
	Row     *int    `json:"databricks_row"`
}

// ImportTasks creates tasks in one bulk import
// (POST /api/projects/<id>/import?return_task_ids=true), each with its
// origin in its meta, and returns their ids in the order of tasks. The
// import is sent once (again only after a 401, which creates nothing):
// an error wrapping core.ErrTasksUnavailable leaves it unknown whether the
// tasks exist (OriginsAfter finds them).
func (c Tasks) ImportTasks(ctx context.Context, project int64, tasks []core.NewTask) ([]int64, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	send := make([]importedTask, len(tasks))
	for i, t := range tasks {
		data := t.Data
		if data == nil {
			data = map[string]any{}
		}
		o := t.Origin
		send[i] = importedTask{Data: data, Annotations: t.Annotations, Predictions: t.Predictions,
			Meta: taskMeta{Storage: &o.Storage, Key: &o.Key, Row: &o.Row}}
	}
	body, err := json.Marshal(send)
	if err != nil {
		// Nothing was sent: the tasks' data cannot be JSON.
		return nil, fmt.Errorf("%w: a task cannot be sent as JSON: %w", core.ErrTasksRefused, err)
	}
	call := taskCall{method: http.MethodPost, path: "/api/projects/" + strconv.FormatInt(project, 10) + "/import",
		query: url.Values{"return_task_ids": {"true"}}, body: body, ok: http.StatusCreated}
	var answer struct {
		TaskCount *int    `json:"task_count"`
		TaskIDs   []int64 `json:"task_ids"`
	}
	if err := c.serviceCall(ctx, call, &answer); err != nil {
		return nil, err
	}
	if answer.TaskCount == nil || len(answer.TaskIDs) != len(tasks) {
		// The tasks may have been created all the same (an import that
		// answers no ids is asynchronous): the caller finds them by
		// their origin.
		return nil, fmt.Errorf("%w: %s answered %d task ids for %d tasks", core.ErrTasksUnavailable, call, len(answer.TaskIDs), len(tasks))
	}
	return answer.TaskIDs, nil
}

// OriginsAfter returns the tasks of the project with an id above after
// whose meta names storage as their origin, in id order; tasks of other
// origins are skipped.
func (c Tasks) OriginsAfter(ctx context.Context, project, storage, after int64) ([]core.ImportedTask, error) {
	var found []core.ImportedTask
	err := c.eachTask(ctx, project, after, 0, "id,meta", func(page []listedTask) {
		for _, t := range page {
			var m taskMeta
			// Another meta (not an object, other types) is not ours.
			if json.Unmarshal(t.Meta, &m) != nil || m.Storage == nil || *m.Storage != storage || m.Key == nil || m.Row == nil {
				continue
			}
			found = append(found, core.ImportedTask{ID: t.ID, Origin: core.TaskOrigin{Storage: storage, Key: *m.Key, Row: *m.Row}})
		}
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// Existing returns those of ids that are still tasks of the project. The
// ids are read in ranges of the project's task ids (a new range where two
// wanted ids are more than a page apart), so that the ids of an import,
// close together, take a request per TaskPageSize tasks.
func (c Tasks) Existing(ctx context.Context, project int64, ids []int64) (map[int64]bool, error) {
	// No task has an id below 1.
	want := slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id < 1 })
	slices.Sort(want)
	want = slices.Compact(want)
	found := make(map[int64]bool, len(want))
	for len(want) > 0 {
		n := 1
		for n < len(want) && want[n]-want[n-1] <= TaskPageSize {
			n++
		}
		lo, hi := want[0], want[n-1]
		err := c.eachTask(ctx, project, lo-1, hi, "id", func(page []listedTask) {
			for _, t := range page {
				if _, ok := slices.BinarySearch(want[:n], t.ID); ok {
					found[t.ID] = true
				}
			}
		})
		if err != nil {
			return nil, err
		}
		want = want[n:]
	}
	return found, nil
}

// Tasks is the client's side for syncs and exports: a project's tasks,
// annotations and webhooks, with the service credential (core's
// TaskImporter, AnnotationSource and Webhooks). A type of its own, so
// that a function that uses none of it (the create function) links none
// of it: the client itself is reachable by reflection there.
type Tasks struct{ *Client }
