package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeclock"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The sync's fakes: a Label Studio project, a volume, the sync store, the
// queue and a clock, each of which can fail on purpose — before its effect
// or after it (the answer lost) — as a seeded random source decides.

type faults struct {
	mu   sync.Mutex
	rng  *rand.Rand
	rate float64 // chance of a fault at each faultable call
	hits map[string]int
}

// fault reports whether the call named what fails now.
func (f *faults) fault(what string) bool {
	if f == nil || f.rng == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng.Float64() < f.rate {
		f.hits[what]++
		return true
	}
	return false
}

var errInjected = errors.New("injected fault")

type lsTask struct {
	data   map[string]any
	origin TaskOrigin
	annots int
}

type fakeProject struct {
	mu      sync.Mutex
	f       *faults
	nextID  int64
	tasks   map[int64]lsTask
	imports int
	refuse  func(NewTask) bool
}

func newProject(f *faults) *fakeProject {
	// Ids shared with other projects: start above zero.
	return &fakeProject{f: f, nextID: 100, tasks: map[int64]lsTask{}}
}

func (p *fakeProject) DataKeys(context.Context, int64) ([]string, error) {
	if p.f.fault("datakeys") {
		return nil, fmt.Errorf("%w: %w", ErrTasksUnavailable, errInjected)
	}
	return []string{"image", "caption"}, nil
}

func (p *fakeProject) LastTaskID(context.Context, int64) (int64, error) {
	if p.f.fault("lasttask") {
		return 0, fmt.Errorf("%w: %w", ErrTasksUnavailable, errInjected)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nextID - 1, nil
}

func (p *fakeProject) ImportTasks(_ context.Context, _ int64, tasks []NewTask) ([]int64, error) {
	if p.f.fault("import-before") {
		return nil, fmt.Errorf("%w: %w", ErrTasksUnavailable, errInjected)
	}
	p.mu.Lock()
	for _, t := range tasks {
		if p.refuse != nil && p.refuse(t) {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: invalid task", ErrTasksRefused)
		}
	}
	p.imports++
	ids := make([]int64, len(tasks))
	for i, t := range tasks {
		p.nextID++ // someone else's task in between, as in a shared database
		ids[i] = p.nextID
		p.tasks[ids[i]] = lsTask{data: t.Data, origin: t.Origin, annots: len(t.Annotations)}
		p.nextID++
	}
	p.mu.Unlock()
	if p.f.fault("import-after") {
		return nil, fmt.Errorf("%w: the answer was lost: %w", ErrTasksUnavailable, errInjected)
	}
	return ids, nil
}

func (p *fakeProject) OriginsAfter(_ context.Context, _, storageID, after int64) ([]ImportedTask, error) {
	if p.f.fault("origins") {
		return nil, fmt.Errorf("%w: %w", ErrTasksUnavailable, errInjected)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ImportedTask
	for id, t := range p.tasks {
		if id > after && t.origin.Storage == storageID {
			out = append(out, ImportedTask{ID: id, Origin: t.origin})
		}
	}
	slices.SortFunc(out, func(a, b ImportedTask) int { return int(a.ID - b.ID) })
	return out, nil
}

func (p *fakeProject) Existing(_ context.Context, _ int64, ids []int64) (map[int64]bool, error) {
	if p.f.fault("existing") {
		return nil, fmt.Errorf("%w: %w", ErrTasksUnavailable, errInjected)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int64]bool{}
	for _, id := range ids {
		if _, ok := p.tasks[id]; ok {
			out[id] = true
		}
	}
	return out, nil
}

// byKey returns the project's tasks per file key and row.
func (p *fakeProject) byKey() map[string][]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]int64{}
	for id, t := range p.tasks {
		k := t.origin.Key + "#" + strconv.Itoa(t.origin.Row)
		out[k] = append(out[k], id)
	}
	return out
}

// fakeVolume lists files in key order, a cursor being the next index.
type fakeVolume struct {
	mu       sync.Mutex
	f        *faults
	files    []string
	contents map[string]string
	lists    int
}

func (v *fakeVolume) ListPage(_ context.Context, c storage.Connection, recursive bool, filter *regexp.Regexp, cursor string, want int) (ListPage, error) {
	if v.f.fault("list") {
		return ListPage{}, &storage.ConnectionError{Reason: storage.ReasonWorkspaceError, Message: "The workspace failed.", Err: errInjected}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lists++
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	var out ListPage
	i := start
	for ; i < len(v.files) && len(out.Files) < want; i++ {
		key := v.files[i]
		rest, ok := strings.CutPrefix(key, c.Prefix)
		if !ok || (!recursive && strings.Contains(strings.TrimPrefix(rest, "/"), "/")) {
			continue
		}
		if filter != nil {
			if loc := filter.FindStringIndex(key); loc == nil || loc[0] != 0 {
				continue
			}
		}
		out.Files = append(out.Files, storage.File{Key: key})
	}
	if i < len(v.files) {
		out.Next = strconv.Itoa(i)
	}
	return out, nil
}

func (v *fakeVolume) FetchFile(_ context.Context, _ storage.Connection, path string, _ FileRead) (FileContent, error) {
	if v.f.fault("fetch") {
		return FileContent{}, fmt.Errorf("%w: %w", ErrWorkspaceFailed, errInjected)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	body, ok := v.contents[path]
	if !ok {
		return FileContent{}, ErrNotFound
	}
	return FileContent{Body: nopCloser{strings.NewReader(body)}, Size: int64(len(body))}, nil
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// memSyncs is a SyncStore in memory, whose writes may fail before or
// after they happen.
type memSyncs struct {
	mu     sync.Mutex
	f      *faults
	states map[int64]SyncState
	links  map[string]Link // storage#key
	// beforePutLinks, when set, runs before a PutLinks (once).
	beforePutLinks func()
}

func newMemSyncs(f *faults) *memSyncs {
	return &memSyncs{f: f, states: map[int64]SyncState{}, links: map[string]Link{}}
}

func (m *memSyncs) GetSync(_ context.Context, id int64) (SyncState, bool, error) {
	if m.f.fault("getsync") {
		return SyncState{}, false, errInjected
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.states[id]
	return s, ok, nil
}

func (m *memSyncs) GetSyncs(_ context.Context, ids []int64) (map[int64]SyncState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int64]SyncState{}
	for _, id := range ids {
		if s, ok := m.states[id]; ok {
			out[id] = s
		}
	}
	return out, nil
}

func (m *memSyncs) PutSync(_ context.Context, s SyncState) error {
	if m.f.fault("putsync-before") {
		return errInjected
	}
	m.mu.Lock()
	old, ok := m.states[s.Storage]
	if (!ok && s.Revision != 0) || (ok && old.Revision != s.Revision) {
		m.mu.Unlock()
		return ErrConflict
	}
	s.Revision++
	m.states[s.Storage] = s
	m.mu.Unlock()
	if m.f.fault("putsync-after") {
		return errInjected
	}
	return nil
}

func (m *memSyncs) DeleteSync(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.states, id)
	return nil
}

func linkID(id int64, key string) string { return strconv.FormatInt(id, 10) + "#" + key }

func (m *memSyncs) Links(_ context.Context, id int64, keys []string) (map[string]Link, error) {
	if m.f.fault("links") {
		return nil, errInjected
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Link{}
	for _, k := range keys {
		if l, ok := m.links[linkID(id, k)]; ok {
			out[k] = Link{Key: k, Tasks: slices.Clone(l.Tasks)}
		}
	}
	return out, nil
}

func (m *memSyncs) PutLinks(_ context.Context, id int64, links []Link) error {
	if m.f.fault("putlinks-before") {
		return errInjected
	}
	if hook := m.beforePutLinks; hook != nil {
		m.beforePutLinks = nil
		hook()
	}
	m.mu.Lock()
	// A batch write may land in part.
	n := len(links)
	partial := m.f.fault("putlinks-partial")
	if partial {
		n /= 2
	}
	for _, l := range links[:n] {
		m.links[linkID(id, l.Key)] = Link{Key: l.Key, Tasks: slices.Clone(l.Tasks)}
	}
	m.mu.Unlock()
	if partial {
		return errInjected
	}
	return nil
}

func (m *memSyncs) DeleteLinks(_ context.Context, id int64, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.links, linkID(id, k))
	}
	return nil
}

func (m *memSyncs) PurgeLinks(_ context.Context, id int64, limit int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := strconv.FormatInt(id, 10) + "#"
	n := 0
	for k := range m.links {
		if strings.HasPrefix(k, prefix) {
			if n == limit {
				return true, nil
			}
			delete(m.links, k)
			n++
		}
	}
	return false, nil
}

func (m *memSyncs) linkCount(id int64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k := range m.links {
		if strings.HasPrefix(k, strconv.FormatInt(id, 10)+"#") {
			n++
		}
	}
	return n
}

// delivery is a queued message and how often it was received.
type delivery struct {
	m        SyncMessage
	receives int
}

// fakeQueue is an SQS queue: no order, duplicates, redelivery.
type fakeQueue struct {
	mu  sync.Mutex
	f   *faults
	msg []delivery
}

func (q *fakeQueue) SendSync(_ context.Context, m SyncMessage) error {
	if q.f.fault("send-before") {
		return errInjected
	}
	q.mu.Lock()
	q.msg = append(q.msg, delivery{m: m})
	if q.f.fault("send-duplicate") {
		q.msg = append(q.msg, delivery{m: m})
	}
	q.mu.Unlock()
	if q.f.fault("send-after") {
		return errInjected
	}
	return nil
}

// take removes a message at random.
func (q *fakeQueue) take(rng *rand.Rand) (delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msg) == 0 {
		return delivery{}, false
	}
	i := 0
	if rng != nil {
		i = rng.IntN(len(q.msg))
	}
	d := q.msg[i]
	q.msg = slices.Delete(q.msg, i, i+1)
	return d, true
}

func (q *fakeQueue) put(d delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msg = append(q.msg, d)
}

type memRecords struct {
	Records
	mu   sync.Mutex
	recs map[int64]storage.Record
}

func (r *memRecords) GetStorage(_ context.Context, id int64) (storage.Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.recs[id]
	if !ok {
		return storage.Record{}, storage.ErrRecordNotFound
	}
	return rec, nil
}

func (r *memRecords) RemoveStorage(_ context.Context, id int64) (storage.Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.recs[id]
	if !ok {
		return storage.Record{}, storage.ErrRecordNotFound
	}
	delete(r.recs, id)
	return rec, nil
}

type memVault struct {
	SecretVault
	values map[string]string
}

func (v memVault) ReadSecret(context.Context, string, string) (map[string]string, string, error) {
	return v.values, "v1", nil
}

func (v memVault) ScheduleSecretDeletion(context.Context, string) error { return nil }

// syncEnv is a storage with a volume, a project and a sync worker.
type syncEnv struct {
	t       *testing.T
	rng     *rand.Rand
	f       *faults
	clock   *fakeclock.Clock
	records *memRecords
	volume  *fakeVolume
	project *fakeProject
	syncs   *memSyncs
	queue   *fakeQueue
	manager *Manager
	worker  *SyncWorker
}

const syncStorage = 7

func newSyncEnv(t *testing.T, seed uint64, rate float64, files []string, blob bool) *syncEnv {
	t.Helper()
	var f *faults
	var rng *rand.Rand
	if seed != 0 {
		rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		f = &faults{rng: rand.New(rand.NewPCG(seed+1, seed)), rate: rate, hits: map[string]int{}}
	}
	key, err := filecap.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &syncEnv{t: t, rng: rng, f: f, clock: fakeclock.New(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))}
	e.records = &memRecords{recs: map[int64]storage.Record{syncStorage: {
		Storage: storage.Storage{ID: syncStorage, Type: storage.StorageType, Settings: storage.Settings{
			Project: 3, Host: "dbc.example.com", Catalog: "c", Schema: "s", Volume: "v", UseBlobURLs: blob, RecursiveScan: true,
			AuthType: storage.AuthPAT,
		}},
		SecretARN: "arn:secret", SecretVersionID: "v1",
	}}}
	vault := memVault{values: map[string]string{"token": "dapi-secret", filecap.SecretValue: key}}
	e.volume = &fakeVolume{f: f, files: slices.Sorted(slices.Values(files)), contents: map[string]string{}}
	e.project = newProject(f)
	e.syncs = newMemSyncs(f)
	e.queue = &fakeQueue{f: f}
	e.manager = &Manager{Records: e.records, Vault: vault, Syncs: e.syncs, SyncQueue: e.queue, Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)}
	e.worker = &SyncWorker{
		Records: e.records, Secrets: vault, Syncs: e.syncs, Queue: e.queue, Pager: e.volume, Fetcher: e.volume,
		Tasks: e.project, FileBase: "https://ls.example", Lease: time.Minute, PageFiles: 7, Now: e.clock.Now,
		Logger: slog.New(slog.DiscardHandler),
	}
	return e
}

// start starts a sync as the API does, retrying what fails.
func (e *syncEnv) start() storage.Storage {
	e.t.Helper()
	for i := 0; i < 100; i++ {
		st, err := e.manager.Sync(context.Background(), TrustedSource("test"), syncStorage)
		if err == nil {
			return st
		}
	}
	e.t.Fatal("the sync never started")
	return storage.Storage{}
}

// maxReceives is the queue's redrive policy in these tests.
const maxReceives = 5

// drain delivers the queue's messages until none is left, as SQS and
// Lambda do: in any order, again after a failure (after the visibility
// timeout, past any lease), at most maxReceives times.
func (e *syncEnv) drain() {
	e.t.Helper()
	for n := 0; ; n++ {
		if n > 100000 {
			e.t.Fatal("the queue never drained")
		}
		d, ok := e.queue.take(e.rng)
		if !ok {
			return
		}
		d.receives++
		err := e.worker.Handle(context.Background(), d.m, d.receives >= maxReceives)
		if err != nil && d.receives < maxReceives {
			e.clock.Advance(90 * time.Second) // the visibility timeout
			e.queue.put(d)
		}
	}
}

func (e *syncEnv) get() storage.Storage {
	e.t.Helper()
	st, err := e.manager.Get(context.Background(), TrustedSource("test"), syncStorage)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// syncUntilSettled starts syncs until one completes (a failed one, after
// its retries ran out, is started again, as a user would).
func (e *syncEnv) syncUntilSettled() storage.Storage {
	e.t.Helper()
	for i := 0; i < 50; i++ {
		e.start()
		e.drain()
		st := e.get()
		if st.Status == string(SyncCompleted) || st.Status == string(SyncCompletedWithErrors) {
			return st
		}
		if st.Status != string(SyncFailed) {
			// Every message was handled or dropped: an active sync is
			// stuck until it goes stale, as a crash would leave it.
			e.clock.Advance(DefaultSyncStaleAfter + time.Minute)
		}
	}
	e.t.Fatal("no sync completed")
	return storage.Storage{}
}

// assertExactlyOnce checks that every file is in exactly one task (per
// row), and that the project holds nothing else.
func (e *syncEnv) assertExactlyOnce(files []string) {
	e.t.Helper()
	got := e.project.byKey()
	for _, k := range files {
		if ids := got[k+"#0"]; len(ids) != 1 {
			e.t.Errorf("file %s is in %d tasks %v, want 1", k, len(ids), ids)
		}
		delete(got, k+"#0")
	}
	for k, ids := range got {
		e.t.Errorf("task(s) %v of %s were not asked for", ids, k)
	}
}

func volumeFiles(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("images/%03d/%05d.png", i%13, i)
	}
	return out
}

func TestSyncImportsEveryFileOnce(t *testing.T) {
	files := volumeFiles(60)
	e := newSyncEnv(t, 0, 0, files, true)
	queued := e.start()
	if queued.Status != "queued" || queued.LastSyncJob == nil || *queued.LastSyncJob == "" {
		t.Fatalf("sync answered status %q job %v, want queued with a job", queued.Status, queued.LastSyncJob)
	}
	// A second sync while one is queued changes nothing, as Label Studio.
	again := e.start()
	if *again.LastSyncJob != *queued.LastSyncJob || len(e.queue.msg) != 1 {
		t.Fatalf("a sync while queued started another: job %s → %s, %d messages", *queued.LastSyncJob, *again.LastSyncJob, len(e.queue.msg))
	}
	e.drain()
	st := e.get()
	if st.Status != "completed" || st.LastSyncCount == nil || *st.LastSyncCount != 60 || st.LastSync == nil {
		t.Fatalf("after the sync: status %q count %v last_sync %v, want completed, 60", st.Status, st.LastSyncCount, st.LastSync)
	}
	e.assertExactlyOnce(files)
	// Each task holds a file link of its file under the first data key.
	for _, task := range e.project.tasks {
		u, _ := task.data["image"].(string)
		if !strings.HasPrefix(u, "https://ls.example"+filecap.RoutePrefix+"7/") || !strings.HasSuffix(u, "/"+task.origin.Key) {
			t.Fatalf("task of %s has data %v, want its file link under \"image\"", task.origin.Key, task.data)
		}
	}
	if got := e.syncs.linkCount(syncStorage); got != 60 {
		t.Fatalf("%d links, want 60", got)
	}
	if e.project.imports != 9 {
		t.Errorf("%d imports for 60 files in pages of 7, want 9 (one per page)", e.project.imports)
	}

	// A re-sync imports only what is new, and again what was deleted.
	e.volume.files = append(e.volume.files, "images/new.png")
	slices.Sort(e.volume.files)
	var deleted int64
	for id, task := range e.project.tasks {
		if task.origin.Key == files[5] {
			deleted = id
		}
	}
	delete(e.project.tasks, deleted)
	e.start()
	e.drain()
	st = e.get()
	if st.Status != "completed" || *st.LastSyncCount != 2 {
		t.Fatalf("re-sync: status %q count %d, want completed, 2 (one new, one deleted)", st.Status, *st.LastSyncCount)
	}
	if !strings.Contains(string(st.Meta), `"tasks_existed":59`) || !strings.Contains(string(st.Meta), `"attempts":2`) {
		t.Fatalf("re-sync meta %s, want tasks_existed 59 and attempts 2", st.Meta)
	}
	e.assertExactlyOnce(append(files, "images/new.png"))
}

func TestSyncFaultRun(t *testing.T) {
	files := volumeFiles(80)
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			e := newSyncEnv(t, seed, 0.08, files, true)
			e.syncUntilSettled()
			e.assertExactlyOnce(files)
			if t.Failed() {
				t.Logf("seed %d faults %v", seed, e.f.hits)
			}
		})
	}
}

func TestSyncJSONTasks(t *testing.T) {
	files := []string{"tasks/a.json", "tasks/b.jsonl", "tasks/bad.json", "tasks/c.txt", "tasks/one.json"}
	e := newSyncEnv(t, 0, 0, files, false)
	e.volume.contents = map[string]string{
		"tasks/a.json":   `[{"data": {"text": "a1"}, "annotations": [{"result": []}]}, {"text": "a2"}]`,
		"tasks/b.jsonl":  "{\"text\": \"b1\"}\n\n{\"data\": {\"text\": \"b2\"}, \"predictions\": [{\"result\": []}]}\n",
		"tasks/bad.json": `{"text": `,
		"tasks/c.txt":    "hello",
		"tasks/one.json": `{"text": "one"}`,
	}
	e.start()
	e.drain()
	st := e.get()
	if st.Status != "completed_with_errors" || *st.LastSyncCount != 5 {
		t.Fatalf("status %q count %v, want completed_with_errors, 5", st.Status, *st.LastSyncCount)
	}
	meta := string(st.Meta)
	for _, want := range []string{`"tasks_failed_validation":2`, "tasks/bad.json: not valid JSON", "tasks/c.txt: not a .json"} {
		if !strings.Contains(meta, want) {
			t.Errorf("meta %s lacks %s", meta, want)
		}
	}
	texts := map[string]int{}
	annotated := 0
	for _, task := range e.project.tasks {
		texts[fmt.Sprint(task.data["text"])]++
		annotated += task.annots
	}
	for _, want := range []string{"a1", "a2", "b1", "b2", "one"} {
		if texts[want] != 1 {
			t.Errorf("task %q imported %d times, want once", want, texts[want])
		}
	}
	if annotated != 1 {
		t.Errorf("%d annotations imported, want 1", annotated)
	}
	// Again: nothing new (the bad files fail again, as they would in Label Studio).
	e.start()
	e.drain()
	if st := e.get(); *st.LastSyncCount != 0 {
		t.Fatalf("re-sync created %d tasks, want 0", *st.LastSyncCount)
	}
}

func TestSyncOfADeletedStorage(t *testing.T) {
	files := volumeFiles(30)
	e := newSyncEnv(t, 0, 0, files, true)
	e.start()
	// Two steps run, then the storage is deleted.
	for i := 0; i < 2; i++ {
		d, _ := e.queue.take(nil)
		if err := e.worker.Handle(context.Background(), d.m, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.manager.Delete(context.Background(), TrustedSource("test"), syncStorage); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if n := len(e.project.tasks); n != 14 {
		t.Errorf("%d tasks after the delete, want the 14 of the two steps run (tasks stay, as in Label Studio)", n)
	}
	if n := e.syncs.linkCount(syncStorage); n != 0 {
		t.Errorf("%d links left after the delete, want 0", n)
	}
	if _, found, _ := e.syncs.GetSync(context.Background(), syncStorage); found {
		t.Error("the sync state outlived its storage")
	}
}

// A storage deleted while a step imports: the step's links, written after
// the deleted storage's links were removed, are removed too.
func TestSyncStepRacingADelete(t *testing.T) {
	e := newSyncEnv(t, 0, 0, volumeFiles(30), true)
	e.start()
	e.syncs.beforePutLinks = func() {
		if err := e.manager.Delete(context.Background(), TrustedSource("test"), syncStorage); err != nil {
			t.Fatal(err)
		}
		e.drain() // the purge runs before the step writes its links
	}
	e.drain()
	if n := e.syncs.linkCount(syncStorage); n != 0 {
		t.Fatalf("%d links outlived their storage", n)
	}
	if n := len(e.project.tasks); n != 7 {
		t.Fatalf("%d tasks, want the 7 of the one step run", n)
	}
}

func TestSyncWorkerDiedIsSeenAsFailed(t *testing.T) {
	e := newSyncEnv(t, 0, 0, volumeFiles(10), true)
	e.start()
	e.queue.msg = nil // the message is lost
	e.clock.Advance(DefaultSyncStaleAfter + time.Second)
	st := e.get()
	if st.Status != "failed" || st.Traceback == nil || !strings.Contains(*st.Traceback, "no progress") {
		t.Fatalf("a sync with no progress shows %q %v, want failed with a traceback", st.Status, st.Traceback)
	}
	if again := e.start(); again.Status != "queued" {
		t.Fatalf("a new sync after a dead one is %q, want queued", again.Status)
	}
	e.drain()
	e.assertExactlyOnce(volumeFiles(10))
}

// A step delivered again does not send its successor again while the
// sync is busy (duplicates would multiply at every step); once the sync
// has been idle, it does (the successor may have been lost).
func TestRedeliveredStepDoesNotMultiplySuccessors(t *testing.T) {
	e := newSyncEnv(t, 0, 0, volumeFiles(30), true)
	e.start()
	d, _ := e.queue.take(nil)
	if err := e.worker.Handle(context.Background(), d.m, false); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := e.worker.Handle(context.Background(), d.m, false); !errors.Is(err, ErrSyncBusy) {
			t.Fatalf("a step delivered again while the sync is busy: %v, want ErrSyncBusy (come back later)", err)
		}
	}
	if n := len(e.queue.msg); n != 1 {
		t.Fatalf("%d messages queued, want the one successor", n)
	}
	e.queue.msg = nil // the successor is lost
	e.clock.Advance(time.Minute)
	if err := e.worker.Handle(context.Background(), d.m, false); err != nil {
		t.Fatal(err)
	}
	if n := len(e.queue.msg); n != 1 || e.queue.msg[0].m.Step != 1 {
		t.Fatalf("after the sync was idle: %v queued, want step 1 sent again", e.queue.msg)
	}
	e.drain()
	e.assertExactlyOnce(volumeFiles(30))
}
