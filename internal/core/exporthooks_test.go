package core_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// fakeWebhooks is Label Studio's webhook list and the table's WEBHOOK#
// items at once.
type fakeWebhooks struct {
	mu          sync.Mutex
	next        int64
	live        map[int64]core.Webhook
	kept        map[int64]int64 // export storage → webhook
	registerErr error
	removeErr   error
	putErr      error
}

func newFakeWebhooks() *fakeWebhooks {
	return &fakeWebhooks{next: 100, live: map[int64]core.Webhook{}, kept: map[int64]int64{}}
}

func (w *fakeWebhooks) RegisterWebhook(_ context.Context, h core.Webhook) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.registerErr != nil {
		return 0, w.registerErr
	}
	w.next++
	w.live[w.next] = h
	return w.next, nil
}

func (w *fakeWebhooks) RemoveWebhook(_ context.Context, id int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.removeErr != nil {
		return w.removeErr
	}
	delete(w.live, id)
	return nil
}

func (w *fakeWebhooks) PutWebhook(_ context.Context, s, id int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.putErr != nil {
		return w.putErr
	}
	w.kept[s] = id
	return nil
}

func (w *fakeWebhooks) GetWebhook(_ context.Context, s int64) (int64, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, ok := w.kept[s]
	return id, ok, nil
}

func (w *fakeWebhooks) DeleteWebhook(_ context.Context, s int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.kept, s)
	return nil
}

func hooksFor(w *fakeWebhooks) *core.ExportHooks {
	return &core.ExportHooks{Webhooks: w, Store: w, URL: func(_ context.Context, id int64) string {
		return "https://lsdbx.example.com/api/storages/export/databricks/" + strconv.FormatInt(id, 10) + "/webhook"
	}}
}

func TestExportCreateRegistersTheWebhook(t *testing.T) {
	f := newFixture()
	hooks := newFakeWebhooks()
	f.svc.Hooks = hooksFor(hooks)
	created, err := f.svc.Create(context.Background(), anyone, patRequest(t), "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	secret := f.secrets.created[0].Values[core.WebhookSecretValue]
	if len(secret) < 40 {
		t.Fatalf("the secret keeps webhook secret %q, want a long random one", secret)
	}
	if len(hooks.live) != 1 {
		t.Fatalf("webhooks registered: %v, want one", hooks.live)
	}
	id := hooks.kept[created.ID]
	h := hooks.live[id]
	want := "https://lsdbx.example.com/api/storages/export/databricks/42/webhook"
	if h.Project != 7 || h.URL != want || h.Headers[core.WebhookHeader] != secret || len(h.Actions) != len(core.ExportActions) {
		t.Errorf("webhook = %+v, want project 7, %s, the secret header and the export actions", h, want)
	}
	for _, rec := range f.repo.stored {
		assertNoSecret(t, "the record", rec.SecretARN+*rec.Title)
	}
}

func TestExportCreateRollsBackAFailedRegistration(t *testing.T) {
	cases := []struct {
		name    string
		break_  func(*fakeWebhooks)
		webhook bool // a webhook left registered
	}{
		{"registration refused", func(w *fakeWebhooks) { w.registerErr = core.ErrTasksUnavailable }, false},
		{"id not kept", func(w *fakeWebhooks) { w.putErr = errors.New("ProvisionedThroughputExceededException") }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, key := range []string{"", "key-1"} {
				f := newFixture()
				f.svc.Keys = &memKeys{repo: f.repo, keys: map[string]core.IdempotencyRecord{}}
				hooks := newFakeWebhooks()
				c.break_(hooks)
				f.svc.Hooks = hooksFor(hooks)
				_, err := f.svc.Create(context.Background(), anyone, patRequest(t), key)
				if !errors.Is(err, core.ErrPersistence) {
					t.Fatalf("Create = %v, want a persistence error", err)
				}
				if len(f.repo.stored) != 0 || len(f.secrets.live) != 0 || (len(hooks.live) != 0) != c.webhook {
					t.Errorf("left behind: records %v, secrets %v, webhooks %v", f.repo.stored, f.secrets.live, hooks.live)
				}
				if keys := f.svc.Keys.(*memKeys).keys; len(keys) != 0 {
					t.Errorf("left the idempotency key behind: %v", keys)
				}
			}
		})
	}
}

func TestExportCreateReplayRegistersNoSecondWebhook(t *testing.T) {
	f := newFixture()
	f.svc.Keys = &memKeys{repo: f.repo, keys: map[string]core.IdempotencyRecord{}}
	hooks := newFakeWebhooks()
	f.svc.Hooks = hooksFor(hooks)
	for i := range 3 {
		got, err := f.svc.Create(context.Background(), anyone, patRequest(t), "retry-1")
		if err != nil || got.Replayed != (i > 0) {
			t.Fatalf("create %d: %+v %v", i, got, err)
		}
	}
	if len(hooks.live) != 1 {
		t.Errorf("webhooks after a create and its replays: %d, want 1", len(hooks.live))
	}
}

func TestExportDeleteRemovesTheWebhookFirst(t *testing.T) {
	for _, failing := range []bool{false, true} {
		l := newLifecycle(t)
		hooks := newFakeWebhooks()
		hooks.kept[42] = 7
		hooks.live[7] = core.Webhook{Project: 7}
		locks := &countingLocks{}
		h := hooksFor(hooks)
		h.Locks = locks
		l.mgr.Hooks = h
		if failing {
			hooks.removeErr = core.ErrTasksUnavailable
		}
		err := l.mgr.Delete(context.Background(), owner, 42)
		if failing {
			if !errors.Is(err, core.ErrPersistence) || len(l.repo.stored) != 1 || len(hooks.kept) != 1 || len(l.vault.deleted) != 0 {
				t.Errorf("a failed removal: %v; records %d, ids %v, secrets deleted %v, want nothing changed", err, len(l.repo.stored), hooks.kept, l.vault.deleted)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if len(hooks.live) != 0 || len(hooks.kept) != 0 || len(l.repo.stored) != 0 {
			t.Errorf("after the delete: webhooks %v, ids %v, records %d", hooks.live, hooks.kept, len(l.repo.stored))
		}
		if locks.calls != 3 {
			t.Errorf("ForgetAnnotations called %d times, want until none is left (3)", locks.calls)
		}
	}
}

// countingLocks has three batches of annotation records to forget.
type countingLocks struct{ calls int }

func (c *countingLocks) LockAnnotation(context.Context, int64, int64, time.Time, time.Time) (core.AnnotationVersion, error) {
	return core.AnnotationVersion{}, nil
}

func (c *countingLocks) UnlockAnnotation(context.Context, int64, int64, core.AnnotationVersion) error {
	return nil
}

func (c *countingLocks) ForgetAnnotations(_ context.Context, _ int64, _ int) (bool, error) {
	c.calls++
	return c.calls < 3, nil
}

func TestUpdateKeepsTheWebhookSecret(t *testing.T) {
	l := newLifecycle(t)
	l.vault.versions[testARN][0][core.WebhookSecretValue] = "hook-secret"
	if _, err := l.mgr.Update(context.Background(), owner, 42, patch(t, `{"token": "dapi-new-token-0123456789"}`)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	rec, _ := l.repo.GetStorage(context.Background(), 42)
	values, _, _ := l.vault.ReadSecret(context.Background(), testARN, rec.SecretVersionID)
	if values[core.WebhookSecretValue] != "hook-secret" || values["token"] != "dapi-new-token-0123456789" {
		t.Errorf("the new version keeps %v, want the new token and the webhook secret", keysOf(values))
	}
}
