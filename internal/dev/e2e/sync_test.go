//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/rie"
	"github.com/lsdbx/databricks-storage/internal/dev/sqspoller"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/syncmsg"
)

// syncQueue is a sync queue in moto that the test drains by hand: it
// stands where Lambda's event source mapping would take its messages to
// the sync worker.
type syncQueue struct {
	*sqspoller.Queue
	client *sqs.Client
}

func newSyncQueue(t *testing.T) *syncQueue {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	q, err := sqspoller.Create(context.Background(), cfg, fmt.Sprintf("e2e-sync-%d", time.Now().UnixNano()), 30*time.Second, core.SyncMaxReceives)
	if err != nil {
		t.Fatal(err)
	}
	return &syncQueue{Queue: q, client: sqs.NewFromConfig(cfg)}
}

// receive takes the next message as Lambda's SQS event of one record (the
// template's BatchSize 1); ok is false when the queue is empty.
func (q *syncQueue) receive(t *testing.T) (ev events.SQSEvent, receipt string, ok bool) {
	t.Helper()
	out, err := q.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) == 0 {
		return events.SQSEvent{}, "", false
	}
	m := out.Messages[0]
	return events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
		Attributes: m.Attributes, Md5OfBody: aws.ToString(m.MD5OfBody),
		EventSource: "aws:sqs", EventSourceARN: q.ARN, AWSRegion: "us-east-1",
	}}}, aws.ToString(m.ReceiptHandle), true
}

// remove deletes a message the function handled, as the event source
// mapping does with those not in batchItemFailures.
func (q *syncQueue) remove(t *testing.T, receipt string) {
	t.Helper()
	if _, err := q.client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(receipt)}); err != nil {
		t.Fatal(err)
	}
}

// withSync adds to env what a sync needs: the sync queue, and for the sync
// worker Label Studio (its URL and the secret holding the service token)
// and the file links' base URL.
func withSync(env map[string]string, queue, labelStudio, tokenSecret, filesBase string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	out["SYNC_QUEUE_URL"] = queue
	if labelStudio != "" {
		out["LABEL_STUDIO_URL"], out["LABEL_STUDIO_TOKEN_SECRET"], out["FILES_BASE_URL"] = labelStudio, tokenSecret, filesBase
	}
	return out
}

// TestSyncWorkerThroughTheRuntimeEmulator: the functions' bootstraps under
// the Lambda Runtime Interface Emulator, in Label Studio mode against the
// real Label Studio withls started: a direct create, a direct sync (the
// manage function queues the first step), then the queued message sent
// to the sync worker as Lambda's SQS event imports the files into the
// project, one task each, holding the file links.
func TestSyncWorkerThroughTheRuntimeEmulator(t *testing.T) {
	began := time.Now()
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	user, err := ls.Admin().SignUp(ctx, fmt.Sprintf("rie-sync-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	userAuth := "Token " + user.Token
	created := call(t, "POST", ls.URL+"/api/projects", userAuth,
		`{"title": "synced under the emulator", "label_config": "<View><Image name=\"img\" value=\"$image\"/><Choices name=\"c\" toName=\"img\"><Choice value=\"a\"/></Choices></View>"}`)
	if created.status != 201 {
		t.Fatalf("create project: %d %s", created.status, created.raw)
	}
	project := int64(created.body["id"].(float64))

	w := newWorld(t)
	keys := []string{"rie-sync/a.png", "rie-sync/b.png", "rie-sync/c.png"}
	for _, k := range keys {
		w.fw.AddFile(fakeworkspace.DefaultVolumePath+"/"+k, []byte("png "+k))
	}
	w.fw.AddFile(fakeworkspace.DefaultVolumePath+"/rie-sync/notes.txt", []byte("not matched by the filter"))
	queue := newSyncQueue(t)
	// The service credential, as the template's LabelStudioTokenSecretArn
	// (outside the storage secrets' prefix, where the sweep looks).
	secret, err := devls.PutServiceToken(ctx, testenv.AWSConfig(t), testenv.NewSecretPrefix(t)+"label-studio-token", ls.Token)
	if err != nil {
		t.Fatal(err)
	}
	const filesBase = "https://labeling.example.com"
	env := withSync(w.env, queue.URL, ls.URL, secret, filesBase)
	fns := map[string]*rie.Function{}
	for _, name := range []string{"create-storage", "manage-storage", "sync-worker"} {
		fns[name] = startFunction(t, name, env)
	}
	t.Logf("functions built and started: %s", time.Since(began).Round(100*time.Millisecond))

	invoke := func(fn, payload string) []byte {
		t.Helper()
		out, err := fns[fn].Invoke(ctx, []byte(payload))
		if err != nil {
			t.Fatalf("invoke %s: %v\n%s", fn, err, fns[fn].Logs())
		}
		return out
	}
	var result struct {
		Outcome string         `json:"outcome"`
		Storage map[string]any `json:"storage"`
	}
	create := fmt.Sprintf(`{"operation": "create", "storage": {"project": %d, "host": %q, "catalog": "main", "schema": "default", "volume": "landing",
		"prefix": "rie-sync", "regex_filter": ".*\\.png", "use_blob_urls": true, "token": %q}}`, project, w.fw.URL(), fakeworkspace.DefaultPAT)
	if out := invoke("create-storage", create); json.Unmarshal(out, &result) != nil || result.Outcome != "created" {
		t.Fatalf("direct create: %s", out)
	}
	id := int64(result.Storage["id"].(float64))

	// events/direct-sync.json, for this storage.
	out := invoke("manage-storage", fmt.Sprintf(`{"operation": "sync", "id": %d}`, id))
	if err := readmeExpectations(t)["direct-sync.json"].Verify(out); err != nil {
		t.Errorf("events/README.md: %v", err)
	}
	if json.Unmarshal(out, &result) != nil || result.Outcome != "sync_started" || result.Storage["status"] != "queued" {
		t.Fatalf("direct sync: %s", out)
	}
	job, _ := result.Storage["last_sync_job"].(string)

	// The first step, as Lambda hands it to the sync worker.
	ev, receipt, ok := queue.receive(t)
	if !ok {
		t.Fatal("the direct sync queued nothing")
	}
	step, err := syncmsg.Decode(ev.Records[0].Body)
	if err != nil || step.Storage != id || step.Job != job || step.Step != 0 {
		t.Fatalf("the queued message %s (%v); want step 0 of job %s of storage %d", ev.Records[0].Body, err, job, id)
	}
	payload, _ := json.Marshal(ev)
	stepped := time.Now()
	if out := invoke("sync-worker", string(payload)); string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("the first step answered %s, want no batch item failures\n%s", out, fns["sync-worker"].Logs())
	}
	t.Logf("first step through the emulator: %s", time.Since(stepped).Round(time.Millisecond))
	queue.remove(t, receipt)

	tasks := labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: ls.URL, Service: staticCredential(userAuth)}}
	origins, err := tasks.OriginsAfter(ctx, project, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, o := range origins {
		got[o.Origin.Key]++
	}
	for _, k := range keys {
		if got[k] != 1 {
			t.Errorf("after the first step %s is in %d tasks, want 1 (tasks: %v)", k, got[k], got)
		}
	}
	if len(origins) != len(keys) {
		t.Errorf("after the first step the project holds %d tasks of the storage, want %d", len(origins), len(keys))
	}
	// A task's data: the file link under the project's data key, at
	// FILES_BASE_URL.
	task := call(t, "GET", fmt.Sprintf("%s/api/tasks/%d", ls.URL, origins[0].ID), userAuth, "")
	link, _ := task.body["data"].(map[string]any)["image"].(string)
	if u, err := url.Parse(link); err != nil || !strings.HasPrefix(link, fmt.Sprintf("%s/data/databricks/%d/", filesBase, id)) || !strings.HasSuffix(u.Path, "/"+origins[0].Origin.Key) {
		t.Errorf("task data %v, want a file link of storage %d under %s", task.body["data"], id, filesBase)
	}

	// The rest of the sync, message by message, until it completes.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if out := invoke("manage-storage", fmt.Sprintf(`{"operation": "get", "id": %d}`, id)); json.Unmarshal(out, &result) != nil {
			t.Fatalf("direct get: %s", out)
		}
		if st := result.Storage["status"]; st != "queued" && st != "in_progress" {
			if st != "completed" || result.Storage["last_sync_count"] != float64(len(keys)) || result.Storage["last_sync_job"] != job {
				t.Fatalf("the sync ended %v; want completed with %d tasks", result.Storage, len(keys))
			}
			break
		}
		ev, receipt, ok := queue.receive(t)
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not complete: %v", result.Storage)
		}
		if !ok {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		payload, _ := json.Marshal(ev)
		if out := invoke("sync-worker", string(payload)); string(out) != `{"batchItemFailures":[]}` {
			t.Fatalf("step %s answered %s\n%s", ev.Records[0].Body, out, fns["sync-worker"].Logs())
		}
		queue.remove(t, receipt)
	}
	if n, err := tasks.OriginsAfter(ctx, project, id, 0); err != nil || len(n) != len(keys) {
		t.Errorf("after the sync the project holds %d tasks of the storage (%v), want %d", len(n), err, len(keys))
	}
	for name, fn := range fns {
		for _, secret := range []string{fakeworkspace.DefaultPAT, ls.Token} {
			if strings.Contains(fn.Logs(), secret) {
				t.Errorf("the %s function logged a credential", name)
			}
		}
	}
	t.Logf("whole test: %s", time.Since(began).Round(100*time.Millisecond))
}

type staticCredential string

func (c staticCredential) Authorization(context.Context) (string, error) { return string(c), nil }
func (staticCredential) Invalidate()                                     {}
