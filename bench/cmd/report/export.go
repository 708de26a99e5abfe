package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localservice"
)

// exportAnnotations is how many annotations section 9 saves.
const exportAnnotations = 200

const exportConfig = `<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>`

// measureExport saves annotations one after another through Label
// Studio's API on a project with a Databricks export storage and times
// them end to end: from the first save to the last file in the volume
// (Label Studio's webhook → the service's intake → the export queue →
// the export writer → the Files API). Beside it, the same saves on a
// project without an export storage: what Label Studio takes by itself.
func measureExport(l *lab) (*section, error) {
	s := &section{}
	if l.envErr != nil {
		return s, fmt.Errorf("the local environment: %w", l.envErr)
	}
	ls, _, err := l.labelStudio()
	if err != nil {
		return s, err
	}
	hc := &http.Client{Timeout: 5 * time.Minute}
	user, err := ls.Admin().SignUp(l.ctx, fmt.Sprintf("bench-export-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		return s, err
	}
	caller := "Token " + user.Token
	ws := fakeworkspace.New()
	ws.AddPAT(fakeworkspace.DefaultPAT)
	ws.AddDirectory(syncVolume + "/exports")
	if err := ws.Start(); err != nil {
		return s, err
	}
	defer ws.Close()
	svc, err := localservice.Launch(l.ctx, localservice.Options{
		LabelStudioURL: ls.URL, LabelStudioToken: ls.Token, Workspace: ws, Table: "bench-export", SecretPrefix: "bench-export/",
		// The sync section's visibility timeout: the local queues are made
		// once per moto, with these attributes.
		Env: []string{"AWS_LAMBDA_LOG_LEVEL=INFO", "AWS_ENDPOINT_URL=" + l.env.Endpoint, "LOCAL_SYNC_VISIBILITY_SECONDS=200"},
	})
	if err != nil {
		return s, err
	}
	defer func() {
		_ = os.WriteFile(filepath.Join(l.root, "build", "local", "export-bench-service.log"), []byte(svc.Logs.String()), 0o644)
		svc.Stop()
	}()

	// saves makes a project of n tasks (with an export storage when
	// export) and saves one annotation per task, one after another.
	saves := func(export bool) (ids []int64, began time.Time, took []time.Duration, err error) {
		var p struct {
			ID int64 `json:"id"`
		}
		if _, err := jsonCall(l.ctx, hc, http.MethodPost, ls.URL+"/api/projects", caller, map[string]any{"title": "bench export", "label_config": exportConfig}, &p); err != nil {
			return nil, began, nil, err
		}
		data := make([]map[string]any, exportAnnotations)
		for i := range data {
			data[i] = map[string]any{"text": "text " + strconv.Itoa(i)}
		}
		if _, err := jsonCall(l.ctx, hc, http.MethodPost, fmt.Sprintf("%s/api/projects/%d/import", ls.URL, p.ID), caller, data, nil); err != nil {
			return nil, began, nil, err
		}
		var tasks struct {
			Tasks []struct {
				ID int64 `json:"id"`
			} `json:"tasks"`
		}
		if _, err := jsonCall(l.ctx, hc, http.MethodGet, fmt.Sprintf("%s/api/tasks?project=%d&page_size=%d", ls.URL, p.ID, exportAnnotations), caller, nil, &tasks); err != nil {
			return nil, began, nil, err
		}
		if export {
			if _, err := jsonCall(l.ctx, hc, http.MethodPost, svc.URL+"/api/storages/export/databricks/", caller, map[string]any{
				"project": p.ID, "host": ws.URL(), "catalog": "main", "schema": "default", "volume": "landing",
				"token": fakeworkspace.DefaultPAT, "prefix": "exports",
			}, nil); err != nil {
				return nil, began, nil, err
			}
		}
		began = time.Now()
		for _, t := range tasks.Tasks {
			var a struct {
				ID int64 `json:"id"`
			}
			start := time.Now()
			if _, err := jsonCall(l.ctx, hc, http.MethodPost, fmt.Sprintf("%s/api/tasks/%d/annotations/", ls.URL, t.ID), caller, map[string]any{"result": []map[string]any{
				{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": map[string]any{"choices": []string{"Positive"}}},
			}}, &a); err != nil {
				return nil, began, nil, err
			}
			took = append(took, time.Since(start))
			ids = append(ids, a.ID)
		}
		return ids, began, took, nil
	}

	logf("export: %d annotations saved without an export storage", exportAnnotations)
	_, plainBegan, plainSaves, err := saves(false)
	if err != nil {
		return s, err
	}
	plain := time.Since(plainBegan)
	logf("export: %d annotations saved with an export storage", exportAnnotations)
	ids, began, exportSaves, err := saves(true)
	if err != nil {
		return s, err
	}
	savedAll := time.Since(began)
	deadline := time.Now().Add(3 * time.Minute)
	for _, id := range ids {
		for {
			if _, ok := ws.File(fmt.Sprintf("%s/exports/%d", syncVolume, id)); ok {
				break
			}
			if time.Now().After(deadline) {
				return s, fmt.Errorf("annotation %d never reached the volume", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	all := time.Since(began)
	median := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return d[len(d)/2]
	}
	s.printf("Label Studio OSS %s (SQLite, no Redis: it delivers webhooks inside the request that saves the annotation), make run's server (the webhook intake in front of a local SQS queue in moto, the export writer polling it), the fake workspace. %d annotations (one per task, `POST /api/tasks/<id>/annotations/`) saved one after another by one client, on a project with a Databricks export storage and, for comparison, on one without: every file is then awaited in the volume (`<prefix>/<annotation id>`).\n\n", devls.Version, exportAnnotations)
	s.printf("| | saves (wall) | save median (Label Studio's answer) | until the last file is in the volume | annotations per second, end to end |\n|---|---:|---:|---:|---:|\n")
	s.printf("| without an export storage | %.1f s | %.1f ms | — | — |\n", plain.Seconds(), float64(median(plainSaves).Microseconds())/1000)
	s.printf("| with a Databricks export storage | %.1f s | %.1f ms | %.1f s | %.0f |\n\n", savedAll.Seconds(), float64(median(exportSaves).Microseconds())/1000, all.Seconds(), float64(exportAnnotations)/all.Seconds())
	s.printf("A save's extra time with the export storage is the webhook's delivery to the intake (which checks the secret and queues, and writes nothing itself); the writes follow from the queue.\n")
	s.info("export: annotations per second, Label Studio's save to the file in the volume", fmt.Sprintf("%.0f (%d annotations in %.1f s; a save %.1f ms with the webhook, %.1f ms without)",
		float64(exportAnnotations)/all.Seconds(), exportAnnotations, all.Seconds(), float64(median(exportSaves).Microseconds())/1000, float64(median(plainSaves).Microseconds())/1000))
	return s, nil
}
