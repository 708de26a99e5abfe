package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The export's fakes: Label Studio's annotations (versions that change
// under the writers), the volume (a write log), the locks and the queue.

type fakeAnnotations struct {
	mu       sync.Mutex
	versions map[int64]time.Time // current updated_at; absent: deleted
	fail     int                 // the next fail calls fail
}

func (a *fakeAnnotations) set(id int64, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.versions[id] = t
}

func (a *fakeAnnotations) remove(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.versions, id)
}

func (a *fakeAnnotations) Annotation(_ context.Context, _, id int64) (ExportedAnnotation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail > 0 {
		a.fail--
		return ExportedAnnotation{}, fmt.Errorf("%w: injected", ErrTasksUnavailable)
	}
	t, ok := a.versions[id]
	if !ok {
		return ExportedAnnotation{}, fmt.Errorf("annotation %d: %w", id, ErrNotFound)
	}
	return ExportedAnnotation{ID: id, UpdatedAt: t, Body: []byte(t.Format(time.RFC3339Nano))}, nil
}

func (a *fakeAnnotations) AnnotationIDs(_ context.Context, _, after int64, limit int) ([]int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int64
	for id := range a.versions {
		if id > after {
			out = append(out, id)
		}
	}
	sortInt64(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func sortInt64(s []int64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

type fakeVolumeWriter struct {
	mu      sync.Mutex
	files   map[string]string
	log     map[string][]string // path → bodies written, in order
	refuse  bool
	deletes int
}

func newVolumeWriter() *fakeVolumeWriter {
	return &fakeVolumeWriter{files: map[string]string{}, log: map[string][]string{}}
}

func (v *fakeVolumeWriter) WriteFile(_ context.Context, _ storage.Connection, path string, body []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.refuse {
		return fmt.Errorf("%w: injected", ErrWorkspaceFailed)
	}
	v.files[path] = string(body)
	v.log[path] = append(v.log[path], string(body))
	return nil
}

func (v *fakeVolumeWriter) DeleteFile(_ context.Context, _ storage.Connection, path string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.refuse {
		return fmt.Errorf("%w: injected", ErrWorkspaceFailed)
	}
	delete(v.files, path)
	v.deletes++
	return nil
}

type memLocks struct {
	mu    sync.Mutex
	held  map[string]time.Time
	state map[string]AnnotationVersion
}

func newMemLocks() *memLocks {
	return &memLocks{held: map[string]time.Time{}, state: map[string]AnnotationVersion{}}
}

func lockKey(s, a int64) string { return strconv.FormatInt(s, 10) + "#" + strconv.FormatInt(a, 10) }

func (l *memLocks) LockAnnotation(_ context.Context, s, a int64, now, until time.Time) (AnnotationVersion, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := lockKey(s, a)
	if h, ok := l.held[k]; ok && !h.Before(now) {
		return AnnotationVersion{}, ErrSyncBusy
	}
	l.held[k] = until
	return l.state[k], nil
}

func (l *memLocks) UnlockAnnotation(_ context.Context, s, a int64, v AnnotationVersion) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := lockKey(s, a)
	delete(l.held, k)
	l.state[k] = v
	return nil
}

func (l *memLocks) ForgetAnnotations(_ context.Context, s int64, _ int) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.state {
		if strings.HasPrefix(k, strconv.FormatInt(s, 10)+"#") {
			delete(l.state, k)
		}
	}
	return false, nil
}

type fakeExportQueue struct {
	mu  sync.Mutex
	msg []ExportMessage
}

func (q *fakeExportQueue) SendExport(_ context.Context, m ExportMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msg = append(q.msg, m)
	return nil
}

func (q *fakeExportQueue) take() (ExportMessage, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msg) == 0 {
		return ExportMessage{}, false
	}
	m := q.msg[0]
	q.msg = q.msg[1:]
	return m, true
}

type exportEnv struct {
	t      *testing.T
	ann    *fakeAnnotations
	volume *fakeVolumeWriter
	locks  *memLocks
	queue  *fakeExportQueue
	x      *Exporter
	rec    storage.Record
}

const exportStorage = 4

func newExportEnv(t *testing.T, canDelete bool) *exportEnv {
	prefix := "exports"
	rec := storage.Record{Storage: storage.Storage{ID: exportStorage, Settings: storage.Settings{
		Project: 9, Host: "dbc.example.com", Catalog: "c", Schema: "s", Volume: "v", Prefix: &prefix, AuthType: storage.AuthPAT,
	}}, SecretARN: "arn:export"}
	setCanDeleteObjects(&rec, canDelete)
	e := &exportEnv{t: t, ann: &fakeAnnotations{versions: map[int64]time.Time{}}, volume: newVolumeWriter(), locks: newMemLocks(),
		queue: &fakeExportQueue{}, rec: rec}
	records := &memRecords{recs: map[int64]storage.Record{exportStorage: rec}}
	vault := memVault{values: map[string]string{"token": "dapi-x", WebhookSecretValue: "hook-secret"}}
	e.x = &Exporter{Records: records, Secrets: vault, Annotations: e.ann, Volume: e.volume, Locks: e.locks, Queue: e.queue,
		Syncs: newMemSyncs(nil), Lease: time.Minute}
	return e
}

// drain runs the queue's messages, again after a failure.
func (e *exportEnv) drain() {
	e.t.Helper()
	for n := 0; ; n++ {
		if n > 10000 {
			e.t.Fatal("the export queue never drained")
		}
		m, ok := e.queue.take()
		if !ok {
			return
		}
		if err := e.x.Handle(context.Background(), m, false); err != nil {
			_ = e.queue.SendExport(context.Background(), m)
		}
	}
}

func TestWebhookIsCheckedAndQueued(t *testing.T) {
	e := newExportEnv(t, false)
	ctx := context.Background()
	if _, err := e.x.AcceptWebhook(ctx, exportStorage, "wrong", AnnotationEvent{Project: 9, Annotations: []int64{1}}); !errors.Is(err, ErrWebhookRefused) {
		t.Fatalf("a wrong secret: %v, want ErrWebhookRefused", err)
	}
	if _, err := e.x.AcceptWebhook(ctx, 77, "hook-secret", AnnotationEvent{Project: 9, Annotations: []int64{1}}); !errors.Is(err, ErrWebhookRefused) {
		t.Fatalf("an unknown storage: %v, want ErrWebhookRefused", err)
	}
	if n, err := e.x.AcceptWebhook(ctx, exportStorage, "hook-secret", AnnotationEvent{Project: 8, Annotations: []int64{1}}); err != nil || n != 0 {
		t.Fatalf("another project's delivery: %d %v, want ignored", n, err)
	}
	if n, err := e.x.AcceptWebhook(ctx, exportStorage, "hook-secret", AnnotationEvent{Project: 9, Annotations: []int64{1, 2}, Deleted: true}); err != nil || n != 2 {
		t.Fatalf("a delivery: %d %v, want 2 queued", n, err)
	}
	if len(e.queue.msg) != 2 || !e.queue.msg[1].Deleted || e.queue.msg[1].Annotation != 2 {
		t.Fatalf("queued %+v", e.queue.msg)
	}
}

func TestExportWritesTheLatestVersionOnly(t *testing.T) {
	e := newExportEnv(t, true)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	e.ann.set(1, t0)
	e.queue.msg = []ExportMessage{{Storage: exportStorage, Annotation: 1}}
	e.ann.set(1, t0.Add(time.Second)) // updated before the first write ran
	e.queue.msg = append(e.queue.msg, ExportMessage{Storage: exportStorage, Annotation: 1})
	e.drain()
	if got := e.volume.log["exports/1"]; len(got) != 1 || got[0] != t0.Add(time.Second).Format(time.RFC3339Nano) {
		t.Fatalf("writes %v, want the newest version once", got)
	}
	// Deleted: removed with can_delete_objects.
	e.ann.remove(1)
	e.queue.msg = []ExportMessage{{Storage: exportStorage, Annotation: 1, Deleted: true}}
	e.drain()
	if _, ok := e.volume.files["exports/1"]; ok {
		t.Fatal("the deleted annotation's file is still there")
	}
}

func TestExportKeepsFilesWithoutCanDeleteObjects(t *testing.T) {
	e := newExportEnv(t, false)
	e.ann.set(5, time.Now())
	e.queue.msg = []ExportMessage{{Storage: exportStorage, Annotation: 5}}
	e.drain()
	e.ann.remove(5)
	e.queue.msg = []ExportMessage{{Storage: exportStorage, Annotation: 5, Deleted: true}}
	e.drain()
	if _, ok := e.volume.files["exports/5"]; !ok || e.volume.deletes != 0 {
		t.Fatal("without can_delete_objects a deleted annotation's file must stay")
	}
}

// Writers racing over one annotation while it changes: the volume's
// writes of it only ever go forward in time, and it ends with the latest.
func TestConcurrentWritersNeverGoBack(t *testing.T) {
	e := newExportEnv(t, true)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	e.ann.set(1, t0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if i == 0 {
					e.ann.set(1, t0.Add(time.Duration(j+1)*time.Millisecond))
				}
				for e.x.Handle(context.Background(), ExportMessage{Storage: exportStorage, Annotation: 1}, false) != nil {
				}
			}
		}()
	}
	wg.Wait()
	_ = e.x.Handle(context.Background(), ExportMessage{Storage: exportStorage, Annotation: 1}, false)
	log := e.volume.log["exports/1"]
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339Nano, s); return t }
	for i := 1; i < len(log); i++ {
		if !at(log[i]).After(at(log[i-1])) {
			t.Fatalf("write %d (%s) is not newer than write %d (%s)", i, log[i], i-1, log[i-1])
		}
	}
	if got, want := e.volume.files["exports/1"], t0.Add(20*time.Millisecond).Format(time.RFC3339Nano); got != want {
		t.Fatalf("the volume ends with %s, want the latest %s", got, want)
	}
}

// A sync after writes were lost (the workspace refusing) writes every
// annotation; a second writes nothing new.
func TestExportSyncMakesGoodLostWrites(t *testing.T) {
	e := newExportEnv(t, false)
	for i := int64(1); i <= 450; i++ {
		e.ann.set(i, time.Unix(1700000000+i, 0))
	}
	e.volume.refuse = true
	for i := int64(1); i <= 450; i++ {
		_ = e.x.Handle(context.Background(), ExportMessage{Storage: exportStorage, Annotation: i}, true) // lost
	}
	e.volume.refuse = false
	st, err := e.x.StartExportSync(context.Background(), exportStorage)
	if err != nil || st.Status != SyncQueued {
		t.Fatalf("StartExportSync = %+v %v", st, err)
	}
	e.drain()
	st, _, _ = e.x.Syncs.GetSync(context.Background(), exportStorage)
	if st.Status != SyncCompleted || st.Created != 450 || len(e.volume.files) != 450 {
		t.Fatalf("sync: %s, %d written; %d files, want completed, 450", st.Status, st.Created, len(e.volume.files))
	}
	if _, err := e.x.StartExportSync(context.Background(), exportStorage); err != nil {
		t.Fatal(err)
	}
	e.drain()
	st, _, _ = e.x.Syncs.GetSync(context.Background(), exportStorage)
	if st.Status != SyncCompleted || st.Created != 0 || st.Existed != 450 {
		t.Fatalf("second sync: %s, %d written, %d existed; want 0 and 450", st.Status, st.Created, st.Existed)
	}
}

func setCanDeleteObjects(rec *storage.Record, v bool) { rec.CanDeleteObjects = v }

// faultyVolume fails writes and deletes at random, before or after they
// happen (an answer lost).
type faultyVolume struct {
	*fakeVolumeWriter
	f *faults
}

func (v faultyVolume) WriteFile(ctx context.Context, c storage.Connection, path string, body []byte) error {
	if v.f.fault("write-before") {
		return fmt.Errorf("%w: injected", ErrWorkspaceFailed)
	}
	err := v.fakeVolumeWriter.WriteFile(ctx, c, path, body)
	if err == nil && v.f.fault("write-after") {
		return fmt.Errorf("%w: answer lost", ErrWorkspaceFailed)
	}
	return err
}

func (v faultyVolume) DeleteFile(ctx context.Context, c storage.Connection, path string) error {
	if v.f.fault("delete-before") {
		return fmt.Errorf("%w: injected", ErrWorkspaceFailed)
	}
	return v.fakeVolumeWriter.DeleteFile(ctx, c, path)
}

// faultyAnnotations fails reads at random.
type faultyAnnotations struct {
	*fakeAnnotations
	f *faults
}

func (a faultyAnnotations) Annotation(ctx context.Context, project, id int64) (ExportedAnnotation, error) {
	if a.f.fault("annotation") {
		return ExportedAnnotation{}, fmt.Errorf("%w: injected", ErrTasksUnavailable)
	}
	return a.fakeAnnotations.Annotation(ctx, project, id)
}

// TestExportFaultRun: annotations created, updated and deleted while
// webhook messages arrive duplicated, out of order, and fail at random
// (reads, writes before and after they happen); a message whose retries
// run out is lost. A final export sync makes good what was lost: every
// annotation's file holds its latest version, deleted ones are gone, and
// no file was ever overwritten by an older version. 200 seeds.
func TestExportFaultRun(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed^0xabcdef))
			f := &faults{rng: rand.New(rand.NewPCG(seed+7, seed)), rate: 0.15, hits: map[string]int{}}
			e := newExportEnv(t, true)
			e.x.Annotations = faultyAnnotations{e.ann, f}
			e.x.Volume = faultyVolume{e.volume, f}
			now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
			live := map[int64]bool{}
			// removed: the annotation's deletion was delivered and done
			// (a deletion lost after its retries is not made good: an
			// export sync writes what exists, as Label Studio's does).
			removed := map[int64]bool{}
			var pending []ExportMessage
			for step := 0; step < 300; step++ {
				id := int64(1 + rng.IntN(12))
				now = now.Add(time.Millisecond)
				switch r := rng.IntN(10); {
				case r < 7:
					e.ann.set(id, now)
					live[id] = true
					removed[id] = false
					pending = append(pending, ExportMessage{Storage: exportStorage, Annotation: id})
				case live[id]:
					e.ann.remove(id)
					delete(live, id)
					pending = append(pending, ExportMessage{Storage: exportStorage, Annotation: id, Deleted: true})
				}
				// Deliver some pending messages in any order, some twice;
				// each gets up to 5 receives, then is lost.
				for len(pending) > 0 && rng.IntN(3) > 0 {
					i := rng.IntN(len(pending))
					m := pending[i]
					if rng.IntN(5) > 0 {
						pending = append(pending[:i], pending[i+1:]...)
					}
					for receive := 1; receive <= 5; receive++ {
						if e.x.Handle(context.Background(), m, receive == 5) == nil {
							if m.Deleted && !live[m.Annotation] {
								removed[m.Annotation] = true
							}
							break
						}
					}
				}
			}
			// The sync, retried until it completes.
			for attempt := 0; ; attempt++ {
				if attempt > 50 {
					t.Fatal("no export sync completed")
				}
				if _, err := e.x.StartExportSync(context.Background(), exportStorage); err != nil {
					continue
				}
				e.drain()
				if st, _, _ := e.x.Syncs.GetSync(context.Background(), exportStorage); st.Status == SyncCompleted {
					break
				}
			}
			for id := int64(1); id <= 12; id++ {
				got, found := e.volume.files[fmt.Sprintf("exports/%d", id)]
				want, isLive := e.ann.versions[id]
				switch {
				case isLive && (!found || got != want.Format(time.RFC3339Nano)):
					t.Errorf("annotation %d: volume holds %q (found %v), want its latest %s", id, got, found, want.Format(time.RFC3339Nano))
				case !isLive && found && removed[id]:
					t.Errorf("annotation %d was deleted, its file is still there", id)
				}
				log := e.volume.log[fmt.Sprintf("exports/%d", id)]
				for i := 1; i < len(log); i++ {
					a, _ := time.Parse(time.RFC3339Nano, log[i-1])
					b, _ := time.Parse(time.RFC3339Nano, log[i])
					// The same version again (a write whose answer was
					// lost) is harmless; an older one never.
					if b.Before(a) {
						t.Errorf("annotation %d: write %d (%s) older than write %d (%s)", id, i, log[i], i-1, log[i-1])
					}
				}
			}
			if t.Failed() {
				t.Logf("seed %d faults %v", seed, f.hits)
			}
		})
	}
}
