//go:build integration

package syncfaults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithylogging "github.com/aws/smithy-go/logging"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeclock"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/sqspoller"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/logging"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
	"github.com/lsdbx/databricks-storage/internal/syncqueue"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The shape of a run.
const (
	volume   = "/Volumes/main/default/landing"
	pngs     = 280 // matching files, in nested directories
	others   = 30  // files the regex_filter leaves out
	pageSize = 7   // the workspace's directory pages and the worker's pages
	// deliveryPrefix starts the call id of a queue delivery (crashGate
	// crashes only those).
	deliveryPrefix = "d"
	// visibility is how far the clock moves when a failed message comes
	// back (the sync queue's visibility timeout).
	visibility = 90 * time.Second
)

// Fault rates per call. An import's answer is lost often, so that every
// run settles imports whose outcome it does not know; a workspace failure
// can fail the whole sync (a lost connection is not retried: see the
// report), so it is rare.
const (
	awsRate       = 0.08
	importRate    = 0.3
	lsRate        = 0.05
	workspaceRate = 0.05
	crashRate     = 0.008
	redeliverRate = 0.03
)

// defaultSeeds run when SYNC_FAULT_SEED is not set.
var defaultSeeds = []int64{1, 2, 3}

// mustInject are the kinds of fault the default seeds together must have
// injected, so that the run cannot pass by injecting nothing.
var mustInject = []string{
	"label studio import: 5xx",
	"label studio import: timeout before it arrived",
	"label studio import: answer lost after it was served",
	"label studio import: 502 after it was served",
	"workspace",
	"aws DynamoDB",
	"aws AmazonSQS",
	"sqs redelivery of a handled message",
	"crash after a call to",
}

// TestSyncFaultRun syncs a volume of a few hundred files in nested
// directories, listed in pages of 7, into a real Label Studio project
// while faults hit every part: the workspace (5xx, 429, timeouts, lost
// answers), Label Studio's import (5xx, a timeout before it arrived, an
// answer lost or a 502 after the import happened) and its task reads,
// DynamoDB, Secrets Manager and SQS (faultinject: throttling, 5xx,
// timeouts after the call happened, resets), the queue delivering a
// handled message again, and the worker's process dying after a call. A
// sync that fails is started again, as a user would, until one completes.
// Then every matching file is in exactly one task of the project, and the
// project holds nothing else.
//
// Each seed replays (SYNC_FAULT_SEED=n runs seed n alone): faults are a
// function of the seed, the delivery or start they happen in, the kind of
// call and its attempt (faultinject.Plan).
func TestSyncFaultRun(t *testing.T) {
	seeds := defaultSeeds
	if s := os.Getenv("SYNC_FAULT_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNC_FAULT_SEED=%q: %v", s, err)
		}
		seeds = []int64{n}
	}
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int{}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("SYNC_FAULT_SEED=%d", seed)
			began := time.Now()
			e := newFaultEnv(t, ls, seed)
			syncs := e.syncUntilCompleted()
			e.assertExactlyOnce()
			counts := e.counts()
			n := 0
			for k, v := range counts {
				total[k] += v
				n += v
			}
			t.Logf("seed %d: %d syncs started, %d deliveries, %d faults injected in %s:%s",
				seed, syncs, e.deliveries, n, time.Since(began).Round(time.Millisecond), summary(counts))
			if t.Failed() {
				t.Logf("replay with SYNC_FAULT_SEED=%d", seed)
			}
		})
	}
	for _, kind := range mustInject {
		n := 0
		for k, v := range total {
			if strings.HasPrefix(k, kind) {
				n += v
			}
		}
		switch {
		case n > 0:
		case len(seeds) == 1:
			// A replay of one seed need not meet every kind.
			t.Logf("seed %d injected no fault %q", seeds[0], kind)
		default:
			t.Errorf("no fault %q was injected over seeds %v: the run proves nothing about it", kind, seeds)
		}
	}
}

// faultEnv is one seeded run: a storage of a fresh project, the worker
// and the API's sync on faulty clients, the test's own clean ones.
type faultEnv struct {
	t       *testing.T
	run     *run
	clock   *fakeclock.Clock
	ls      *devls.Server
	project int64
	storage int64
	keys    []string // the files the sync must import

	aws        *faultinject.Transport
	manager    *core.Manager // the API's Sync, on faulty clients
	viewer     *core.Manager // the user's view of the storage, clean
	handler    *eventsource.QueueHandler
	queue      *sqspoller.Queue
	sqs        *sqs.Client // the queue's own side (Lambda's event source mapping), clean
	tasks      labelstudio.Tasks
	logs       *bytes.Buffer
	starts     int
	deliveries int
}

func newFaultEnv(t *testing.T, ls *devls.Server, seed int64) *faultEnv {
	t.Helper()
	ctx := context.Background()
	e := &faultEnv{t: t, run: newRun(seed), clock: fakeclock.New(time.Now()), ls: ls, logs: &bytes.Buffer{}}
	logger := logging.New(&lockedWriter{w: e.logs}, "INFO")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log (tail):\n%s", tail(e.logs.String(), 6000))
		}
	})

	// The volume: pngs to import, other files the filter leaves out, in
	// directories up to three deep, listed in pages of pageSize.
	ws := fakeworkspace.Default()
	ws.SetPageSize(pageSize)
	for i := range pngs {
		key := fmt.Sprintf("images/%c/%02d/%04d.png", 'a'+i%4, i%9, i)
		if i%5 == 0 {
			key = fmt.Sprintf("images/%04d.png", i)
		}
		ws.AddFile(volume+"/"+key, []byte("png "+key))
		e.keys = append(e.keys, key)
	}
	for i := range others {
		ws.AddFile(volume+fmt.Sprintf("/images/%c/notes-%02d.txt", 'a'+i%4, i), []byte("not an image"))
	}
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)

	// The project, made by Label Studio's admin, whose token is also the
	// service credential.
	admin := "Token " + ls.Token
	e.tasks = labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: ls.URL, Service: labelstudio.StaticCredential(admin)}}
	e.project = e.createProject(admin, seed)

	// AWS: a table, a secret prefix and the sync queue in moto; the
	// storage created on clean clients.
	table, prefix := testenv.NewTable(t), testenv.NewSecretPrefix(t)
	clean := testenv.AWSConfig(t)
	cfg := config.Config{
		TableName: table, SecretNamePrefix: prefix, IDBlockSize: 5, TokenCacheTTL: time.Minute, SecretRecoveryDays: 7,
		MetricsNamespace: "Test/Storage", Hosts: hostguard.Policy{AllowPrivate: true},
	}
	created := app.NewWithAWS(clean, cfg, logger, app.Options{RootCAs: ws.CertPool(), Version: "test"})
	req, err := storage.Decoder{Hosts: cfg.Hosts}.DecodeRequest([]byte(fmt.Sprintf(
		`{"project": %d, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "prefix": "images",
		  "recursive_scan": true, "regex_filter": ".*\\.png", "use_blob_urls": true, "token": %q}`,
		e.project, ws.URL(), fakeworkspace.DefaultPAT)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := created.Creator.Create(ctx, core.TrustedSource("test"), req, "")
	if err != nil {
		t.Fatal(err)
	}
	e.storage = st.ID
	e.queue, err = sqspoller.Create(ctx, clean, fmt.Sprintf("sync-faults-%d-%d", seed, time.Now().UnixNano()%1e9), visibility, core.SyncMaxReceives)
	if err != nil {
		t.Fatal(err)
	}
	e.sqs = sqs.NewFromConfig(clean)

	// The faulty side: every AWS call (DynamoDB, Secrets Manager, SQS)
	// of the worker and of the API's sync, the workspace, Label Studio.
	e.aws = &faultinject.Transport{Base: http.DefaultTransport}
	e.aws.SetPlan(&faultinject.Plan{Seed: seed, Probability: awsRate})
	faulty := clean.Copy()
	faulty.HTTPClient = &http.Client{Transport: &crashGate{next: e.aws, run: e.run, service: "aws", rate: crashRate}}
	// The SDK warns of every injected answer (no checksum): noise here.
	faulty.Logger = smithylogging.Nop{}
	clients := awsclients.New(faulty)
	checker := databricks.New(databricks.Options{Guard: cfg.Hosts, RootCAs: ws.CertPool(), WrapTransport: func(next http.RoundTripper) http.RoundTripper {
		return &crashGate{run: e.run, service: "the workspace", rate: crashRate, next: &httpFaults{base: next, run: e.run, service: "workspace", rate: func(r *http.Request) (string, float64) {
			return r.Method + " " + strings.SplitN(strings.TrimPrefix(r.URL.Path, "/api/2.0/fs/"), "/", 2)[0], workspaceRate
		}}}
	}})
	lsTransport := &crashGate{run: e.run, service: "label studio", rate: crashRate, next: &httpFaults{base: http.DefaultTransport, run: e.run, service: "label studio", rate: func(r *http.Request) (string, float64) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/import") {
			return "import", importRate
		}
		return r.Method + " " + strings.Trim(strings.Split(strings.TrimPrefix(r.URL.Path, "/api/"), "/")[0], "/"), lsRate
	}}}
	records := &dynamostore.Store{Client: clients.DynamoDB, Table: table}
	syncs := &dynamostore.Syncs{Client: awsclients.NewBatchDynamoDB(faulty), Table: table}
	queue := syncqueue.New(faulty, e.queue.URL)
	e.manager = &core.Manager{
		Checker: checker, Records: records, Vault: &secretstore.Vault{Client: clients.SecretsManager, RecoveryDays: 7},
		Syncs: syncs, SyncQueue: queue, Now: e.clock.Now, Logger: logger,
	}
	cleanClients := awsclients.New(clean)
	e.viewer = &core.Manager{
		Records: &dynamostore.Store{Client: cleanClients.DynamoDB, Table: table},
		Vault:   &secretstore.Vault{Client: cleanClients.SecretsManager, RecoveryDays: 7},
		Syncs:   &dynamostore.Syncs{Client: awsclients.NewBatchDynamoDB(clean), Table: table}, Now: e.clock.Now, Logger: logger,
	}
	worker := &core.SyncWorker{
		Records: records, Secrets: &secretstore.Vault{Client: clients.SecretsManager}, Syncs: syncs, Queue: queue,
		Pager: databricks.Volume{Checker: checker}, Fetcher: checker,
		Tasks:    labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: ls.URL, HTTP: &http.Client{Transport: lsTransport}, Service: labelstudio.StaticCredential(admin)}},
		FileBase: "https://ls.example", PageFiles: pageSize, Now: e.clock.Now, Logger: logger,
	}
	e.handler = eventsource.NewSyncHandler(worker, core.SyncMaxReceives, logger)
	return e
}

// syncUntilCompleted starts syncs, as a user would, until one completes:
// one that failed (its retries ran out, or a failure for good) is started
// again; one left active with no message to run it (its message was
// dropped as the step's state write looked like a concurrent one) is
// started again once it shows as failed for lack of progress. It returns
// how many syncs were started.
func (e *faultEnv) syncUntilCompleted() int {
	e.t.Helper()
	for syncs := 1; syncs <= 40; syncs++ {
		e.start()
		e.drain()
		st := e.get()
		switch st.Status {
		case string(core.SyncCompleted):
			return syncs
		case string(core.SyncFailed):
			e.t.Logf("sync %d failed: %s", syncs, deref(st.Traceback))
		default:
			e.t.Logf("sync %d is %s with no message left: waiting until it is taken for failed", syncs, st.Status)
			e.clock.Advance(core.DefaultSyncStaleAfter + time.Minute)
		}
	}
	e.t.Fatal("no sync completed in 40 attempts")
	return 0
}

// start asks for a sync through the API's use case, on the faulty
// clients, again while it fails.
func (e *faultEnv) start() {
	e.t.Helper()
	for i := 0; i < 30; i++ {
		e.starts++
		ctx := faultinject.WithCallID(context.Background(), fmt.Sprintf("s%d", e.starts))
		st, err := e.manager.Sync(ctx, core.TrustedSource("test"), e.storage)
		if err == nil {
			if st.Status != string(core.SyncQueued) {
				e.t.Fatalf("a sync started as %q, want queued", st.Status)
			}
			return
		}
		e.t.Logf("starting the sync failed (the user tries again): %v", err)
	}
	e.t.Fatal("the sync never started")
}

// drain plays Lambda's SQS event source mapping, one message at a time,
// until the queue is empty: a message whose handling failed comes back
// after the visibility timeout (the clock moves on), one handled is
// deleted — or, now and then, delivered again all the same, as SQS may.
// Receives past the redrive policy's maxReceiveCount go to the
// dead-letter queue (moto does that).
func (e *faultEnv) drain() {
	e.t.Helper()
	ctx := context.Background()
	for range 5000 {
		out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.queue.URL), MaxNumberOfMessages: 1, VisibilityTimeout: 600,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		m := out.Messages[0]
		e.deliveries++
		id := fmt.Sprintf("%s%d", deliveryPrefix, e.deliveries)
		dctx, cancel := context.WithCancel(faultinject.WithCallID(ctx, id))
		e.run.deliver(id, cancel)
		resp, err := e.handler.HandleSQS(dctx, events.SQSEvent{Records: []events.SQSMessage{{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, EventSourceARN: e.queue.ARN, EventSource: "aws:sqs",
		}}})
		cancel()
		failed := err != nil || len(resp.BatchItemFailures) > 0 || e.run.died(id)
		again := failed
		if !failed && e.run.decide(dctx, "redeliver", redeliverRate) != faultinject.None {
			e.run.count("sqs redelivery of a handled message")
			again = true
		}
		if again {
			if failed {
				e.clock.Advance(visibility)
			}
			_, err = e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(e.queue.URL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		} else {
			_, err = e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queue.URL), ReceiptHandle: m.ReceiptHandle})
		}
		if err != nil {
			e.t.Fatal(err)
		}
	}
	e.t.Fatal("the queue never drained")
}

// get is the storage as the user sees it.
func (e *faultEnv) get() storage.Storage {
	e.t.Helper()
	st, err := e.viewer.Get(context.Background(), core.TrustedSource("test"), e.storage)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// assertExactlyOnce checks, in Label Studio, that every matching file is
// in exactly one task and that the project holds nothing else.
func (e *faultEnv) assertExactlyOnce() {
	e.t.Helper()
	found, err := e.tasks.OriginsAfter(context.Background(), e.project, e.storage, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	got := map[string][]int64{}
	for _, task := range found {
		k := fmt.Sprintf("%s#%d", task.Origin.Key, task.Origin.Row)
		got[k] = append(got[k], task.ID)
	}
	for _, k := range e.keys {
		if ids := got[k+"#0"]; len(ids) != 1 {
			e.t.Errorf("%s is in %d tasks %v, want 1", k, len(ids), ids)
		}
		delete(got, k+"#0")
	}
	for k, ids := range got {
		e.t.Errorf("tasks %v of %s: no such file was asked for", ids, k)
	}
	if n := e.taskNumber(); n != len(e.keys) {
		e.t.Errorf("the project holds %d tasks, want the %d files", n, len(e.keys))
	}
}

// counts are the faults injected, by name: this run's own and those of
// faultinject's plan on AWS.
func (e *faultEnv) counts() map[string]int {
	out := e.run.Counts()
	if n := e.aws.Unlabelled(); n > 0 {
		e.t.Errorf("%d AWS calls of the worker or the API carried no call id: the plan could not fault them", n)
	}
	for _, d := range e.aws.Decisions() {
		if d.Fault != faultinject.None {
			service, op, _ := strings.Cut(d.Kind, ".")
			service = strings.SplitN(service, "_", 2)[0]
			out[fmt.Sprintf("aws %s %s: %s", service, op, d.Fault)]++
		}
	}
	return out
}

func (e *faultEnv) createProject(admin string, seed int64) int64 {
	e.t.Helper()
	var p struct{ ID int64 }
	e.lsCall(admin, http.MethodPost, "/api/projects/", map[string]string{
		"title":        fmt.Sprintf("sync faults seed %d", seed),
		"label_config": `<View><Image name="image" value="$image"/><Choices name="c" toName="image"><Choice value="a"/></Choices></View>`,
	}, &p)
	return p.ID
}

func (e *faultEnv) taskNumber() int {
	e.t.Helper()
	var p struct {
		TaskNumber int `json:"task_number"`
	}
	e.lsCall("Token "+e.ls.Token, http.MethodGet, fmt.Sprintf("/api/projects/%d/", e.project), nil, &p)
	return p.TaskNumber
}

func (e *faultEnv) lsCall(authorization, method, path string, body, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.ls.URL+path, rd)
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: %d %.300s", method, path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
