package core

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// pageRun imports one listing page's new files.
type pageRun struct {
	w      *SyncWorker
	st     *SyncState
	rec    storage.Record
	values map[string]string
	conn   storage.Connection

	// pending are tasks not imported yet; links the links to write.
	pending []NewTask
	links   map[string]Link
}

func (p *pageRun) run(ctx context.Context, files []storage.File) error {
	keys := sortedKeys(files)
	if len(keys) == 0 {
		return nil
	}
	links, err := p.w.Syncs.Links(ctx, p.st.Storage, keys)
	if err != nil {
		return fmt.Errorf("%w: read links: %w", ErrPersistence, err)
	}
	var ids []int64
	for _, l := range links {
		for _, id := range l.Tasks {
			if id != 0 {
				ids = append(ids, id)
			}
		}
	}
	exists := map[int64]bool{}
	if len(ids) > 0 {
		// A task deleted in Label Studio is imported again, as Label
		// Studio does (deleting a task deletes its link).
		if exists, err = p.w.Tasks.Existing(ctx, p.rec.Project, ids); err != nil {
			return tasksFailure(err)
		}
	}
	p.links = map[string]Link{}
	done := map[string]bool{}
	for _, f := range files {
		if done[f.Key] {
			continue
		}
		done[f.Key] = true
		l, linked := links[f.Key]
		l.Key = f.Key
		if linked && complete(l, exists) {
			p.st.Existed++
			continue
		}
		if err := p.file(ctx, l, linked, exists); err != nil {
			return err
		}
	}
	if err := p.flush(ctx); err != nil {
		return err
	}
	if len(p.links) == 0 {
		return nil
	}
	out := make([]Link, 0, len(p.links))
	for _, l := range p.links {
		out = append(out, l)
	}
	return p.w.putLinks(ctx, p.st.Storage, out)
}

// complete reports whether every task of a link still exists.
func complete(l Link, exists map[int64]bool) bool {
	if len(l.Tasks) == 0 {
		return false
	}
	for _, id := range l.Tasks {
		if id == 0 || !exists[id] {
			return false
		}
	}
	return true
}

// file queues the tasks of one file that are not in the project.
func (p *pageRun) file(ctx context.Context, l Link, linked bool, exists map[int64]bool) error {
	missing := func(row int) bool {
		return !linked || row >= len(l.Tasks) || l.Tasks[row] == 0 || !exists[l.Tasks[row]]
	}
	if p.rec.UseBlobURLs {
		u, err := fileURL(p.w.FileBase, p.values[filecap.SecretValue], p.st.Storage, l.Key)
		if err != nil {
			// A key no link can name (filecap.CheckPath): it becomes no task.
			p.problem(l.Key, "its path cannot be put in a file link")
			return nil
		}
		p.links[l.Key] = l
		return p.add(ctx, NewTask{Data: map[string]any{p.st.DataKey: u}, Origin: TaskOrigin{Storage: p.st.Storage, Key: l.Key}})
	}
	tasks, reason, err := p.readTasks(ctx, l.Key)
	if err != nil {
		return err
	}
	if reason != "" {
		p.problem(l.Key, reason)
		return nil
	}
	p.links[l.Key] = l
	for row, t := range tasks {
		if !missing(row) {
			continue
		}
		t.Origin = TaskOrigin{Storage: p.st.Storage, Key: l.Key, Row: row}
		if err := p.add(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func (p *pageRun) problem(key, reason string) {
	p.st.FailedValidation++
	if len(p.st.Problems) < MaxSyncProblems {
		p.st.Problems = append(p.st.Problems, key+": "+reason)
	}
}

func (p *pageRun) add(ctx context.Context, t NewTask) error {
	p.pending = append(p.pending, t)
	if len(p.pending) >= MaxTasksPerImport {
		return p.flush(ctx)
	}
	return nil
}

// flush imports the pending tasks in one bulk import; when Label Studio
// refuses the batch, file by file, so that one bad file fails alone.
func (p *pageRun) flush(ctx context.Context) error {
	tasks := p.pending
	p.pending = nil
	if len(tasks) == 0 {
		return nil
	}
	err := p.importTasks(ctx, tasks)
	if !errors.Is(err, ErrTasksRefused) {
		return err
	}
	for start := 0; start < len(tasks); {
		end := start + 1
		for end < len(tasks) && tasks[end].Origin.Key == tasks[start].Origin.Key {
			end++
		}
		err := p.importTasks(ctx, tasks[start:end])
		switch {
		case errors.Is(err, ErrTasksRefused):
			key := tasks[start].Origin.Key
			delete(p.links, key)
			p.problem(key, "Label Studio refused its tasks")
		case err != nil:
			return err
		}
		start = end
	}
	return nil
}

// importTasks sends one import, settled beforehand: until its links are
// written, the sync is Unsettled above the highest task id known before.
func (p *pageRun) importTasks(ctx context.Context, tasks []NewTask) error {
	if !p.st.Unsettled {
		p.st.Unsettled, p.st.SettledBelow = true, p.st.Watermark
		if err := p.w.put(ctx, p.st); err != nil {
			return err
		}
	}
	ids, err := p.w.Tasks.ImportTasks(ctx, p.rec.Project, tasks)
	if err != nil {
		return err
	}
	if len(ids) != len(tasks) {
		return fmt.Errorf("%w: Label Studio answered %d task ids for %d tasks", ErrTasksUnavailable, len(ids), len(tasks))
	}
	for i, t := range tasks {
		l := p.links[t.Origin.Key]
		for len(l.Tasks) <= t.Origin.Row {
			l.Tasks = append(l.Tasks, 0)
		}
		l.Tasks[t.Origin.Row] = ids[i]
		p.links[t.Origin.Key] = l
		p.st.Watermark = max(p.st.Watermark, ids[i])
	}
	p.st.Created += int64(len(tasks))
	return nil
}

// readTasks reads a file of JSON tasks: one object, a list of objects, or
// JSON Lines. A file that holds none gives the reason, in words.
func (p *pageRun) readTasks(ctx context.Context, key string) ([]NewTask, string, error) {
	lower := strings.ToLower(key)
	lines := strings.HasSuffix(lower, ".jsonl")
	if !lines && !strings.HasSuffix(lower, ".json") {
		return nil, "not a .json or .jsonl file (with use_blob_urls off, files must hold tasks)", nil
	}
	if p.w.Fetcher == nil {
		return nil, "", fmt.Errorf("%w: no file reader configured", ErrPersistence)
	}
	content, err := p.w.Fetcher.FetchFile(ctx, p.conn, key, FileRead{})
	if errors.Is(err, ErrNotFound) {
		return nil, "the file was removed during the sync", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer content.Body.Close()
	body, err := io.ReadAll(io.LimitReader(content.Body, MaxTaskFileBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w: read %s: %w", ErrWorkspaceFailed, "a file", err)
	}
	if len(body) > MaxTaskFileBytes {
		return nil, fmt.Sprintf("larger than %d MB", MaxTaskFileBytes>>20), nil
	}
	tasks, reason := parseTasks(body, lines)
	return tasks, reason, nil
}

// parseTasks reads tasks as Label Studio reads a storage's JSON: an item
// with a "data" object is a task with its annotations and predictions;
// any other object is the task's data.
func parseTasks(body []byte, lines bool) ([]NewTask, string) {
	var items []json.RawMessage
	if lines {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, MaxTaskFileBytes)
		for n := 1; sc.Scan(); n++ {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			if !json.Valid(line) {
				return nil, fmt.Sprintf("line %d is not valid JSON", n)
			}
			items = append(items, json.RawMessage(line))
		}
	} else {
		trimmed := bytes.TrimSpace(body)
		switch {
		case !json.Valid(trimmed):
			return nil, "not valid JSON"
		case len(trimmed) > 0 && trimmed[0] == '[':
			if err := json.Unmarshal(trimmed, &items); err != nil {
				return nil, "not valid JSON"
			}
		default:
			items = []json.RawMessage{trimmed}
		}
	}
	if len(items) == 0 {
		return nil, "holds no task"
	}
	tasks := make([]NewTask, 0, len(items))
	for i, raw := range items {
		var item map[string]any
		if err := json.Unmarshal(raw, &item); err != nil || item == nil {
			return nil, fmt.Sprintf("item %d is not a JSON object", i+1)
		}
		data, wrapped := item["data"].(map[string]any)
		if !wrapped {
			tasks = append(tasks, NewTask{Data: item})
			continue
		}
		t := NewTask{Data: data}
		var ok bool
		if v, has := item["annotations"]; has && v != nil {
			if t.Annotations, ok = v.([]any); !ok {
				return nil, fmt.Sprintf("item %d: annotations is not a list", i+1)
			}
		}
		if v, has := item["predictions"]; has && v != nil {
			if t.Predictions, ok = v.([]any); !ok {
				return nil, fmt.Sprintf("item %d: predictions is not a list", i+1)
			}
		}
		tasks = append(tasks, t)
	}
	return tasks, ""
}
