package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// StorageHooks are the steps of a kind of storage's life beyond its record
// and secret (an export storage's webhook). Creator and Manager run them
// when set; an import storage has none.
type StorageHooks interface {
	// SecretValues returns values a new storage's secret keeps beside its
	// credentials.
	SecretValues() (map[string]string, error)
	// Created runs once a new storage's record is written, with the
	// values of its secret; an error undoes the create (record and
	// secret), so it must leave nothing of its own behind either.
	Created(ctx context.Context, rec storage.Record, values map[string]string) error
	// Deleting runs before a storage's record is removed; an error stops
	// the delete, which changed nothing.
	Deleting(ctx context.Context, rec storage.Record) error
	// Deleted runs once the record is removed (ctx outlives the request);
	// it logs its own failures: the delete has happened.
	Deleted(ctx context.Context, rec storage.Record)
}

// WebhookStore keeps the id of the Label Studio webhook registered for each
// export storage (no secret: the webhook's secret is in the storage's).
type WebhookStore interface {
	PutWebhook(ctx context.Context, storageID, webhookID int64) error
	// GetWebhook returns the webhook id; found is false when none is kept.
	GetWebhook(ctx context.Context, storageID int64) (webhookID int64, found bool, err error)
	DeleteWebhook(ctx context.Context, storageID int64) error
}

// ExportHooks are the export storages' StorageHooks: a webhook on the
// project, registered when the storage is created and removed when it is
// deleted, and the storage's export state forgotten after it.
type ExportHooks struct {
	Webhooks Webhooks
	Store    WebhookStore
	// URL is where Label Studio sends the webhook deliveries of export
	// storage id (ctx is the create's: the public URL may be the
	// request's).
	URL func(ctx context.Context, id int64) string
	// Locks forgets a deleted storage's annotation records; nil in the
	// create function.
	Locks  ExportLocks
	Logger *slog.Logger
}

// webhookSecretBytes is the webhook secret's entropy.
const webhookSecretBytes = 32

// forgetBatch is how many annotation records a delete forgets at a time.
const forgetBatch = 100

// SecretValues implements StorageHooks: a fresh random webhook secret.
func (h *ExportHooks) SecretValues() (map[string]string, error) {
	b := make([]byte, webhookSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate the webhook secret: %w", err)
	}
	return map[string]string{WebhookSecretValue: base64.RawURLEncoding.EncodeToString(b)}, nil
}

// Created implements StorageHooks: the webhook registered, its id kept.
func (h *ExportHooks) Created(ctx context.Context, rec storage.Record, values map[string]string) error {
	secret := values[WebhookSecretValue]
	if secret == "" {
		return fmt.Errorf("%w: export storage %d has no webhook secret", ErrPersistence, rec.ID)
	}
	id, err := h.Webhooks.RegisterWebhook(ctx, Webhook{
		Project: rec.Project,
		URL:     h.URL(ctx, rec.ID),
		Headers: map[string]string{WebhookHeader: secret},
		Actions: ExportActions,
	})
	if err != nil {
		return fmt.Errorf("%w: register the webhook of export storage %d: %w", ErrPersistence, rec.ID, err)
	}
	if err := h.Store.PutWebhook(ctx, rec.ID, id); err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if rerr := h.Webhooks.RemoveWebhook(cctx, id); rerr != nil {
			h.logger().ErrorContext(ctx, "a failed create left its webhook in Label Studio; its deliveries are refused",
				slog.Int64("storage_id", rec.ID), slog.Int64("webhook_id", id), slog.String("error", rerr.Error()))
		}
		return fmt.Errorf("%w: keep the webhook of export storage %d: %w", ErrPersistence, rec.ID, err)
	}
	return nil
}

// Deleting implements StorageHooks: the webhook removed first, so that a
// failure leaves the storage whole (and exporting) for a retry.
func (h *ExportHooks) Deleting(ctx context.Context, rec storage.Record) error {
	id, found, err := h.Store.GetWebhook(ctx, rec.ID)
	if err != nil {
		return fmt.Errorf("%w: read the webhook of export storage %d: %w", ErrPersistence, rec.ID, err)
	}
	if !found {
		return nil
	}
	if err := h.Webhooks.RemoveWebhook(ctx, id); err != nil {
		return fmt.Errorf("%w: remove the webhook of export storage %d: %w", ErrPersistence, rec.ID, err)
	}
	return nil
}

// Deleted implements StorageHooks: the webhook's id and the annotation
// records forgotten. What is left (the function ran out of time) names
// a storage id that is never reused: harmless but for its space.
func (h *ExportHooks) Deleted(ctx context.Context, rec storage.Record) {
	if err := h.Store.DeleteWebhook(ctx, rec.ID); err != nil {
		h.logger().ErrorContext(ctx, "export storage deleted, but its webhook id could not be removed",
			slog.Int64("storage_id", rec.ID), slog.String("error", err.Error()))
	}
	if h.Locks == nil {
		return
	}
	for more := true; more; {
		var err error
		if more, err = h.Locks.ForgetAnnotations(ctx, rec.ID, forgetBatch); err != nil {
			h.logger().ErrorContext(ctx, "export storage deleted, but its annotation records could not all be removed",
				slog.Int64("storage_id", rec.ID), slog.String("error", err.Error()))
			return
		}
	}
}

func (h *ExportHooks) logger() *slog.Logger { return loggerOr(h.Logger) }
