package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// Get returns a storage of a project the caller may manage.
func (s *Manager) Get(ctx context.Context, caller Caller, id int64) (storage.Storage, error) {
	rec, err := s.load(ctx, caller, id)
	if err != nil {
		return storage.Storage{}, err
	}
	out := []storage.Storage{rec.Storage}
	if err := s.withSyncs(ctx, out); err != nil {
		return storage.Storage{}, err
	}
	return out[0], nil
}

// List returns the storages of a project, ordered by a field of the
// storage ("id", "-created_at", …; id order when empty or unknown, as
// Django REST framework ignores unknown ordering fields).
func (s *Manager) List(ctx context.Context, caller Caller, project int64, ordering string) ([]storage.Storage, error) {
	if err := authorizeList(ctx, s.Projects, caller, project); err != nil {
		return nil, err
	}
	records, err := s.Records.ListProject(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("%w: list project %d: %w", ErrPersistence, project, err)
	}
	out := make([]storage.Storage, len(records))
	for i, r := range records {
		out[i] = r.Storage
	}
	if err := s.withSyncs(ctx, out); err != nil {
		return nil, err
	}
	if key, desc, ok := orderingField(ordering); ok {
		slices.SortStableFunc(out, func(a, b storage.Storage) int {
			c := compareField(a, b, key)
			if desc {
				return -c
			}
			return c
		})
	}
	return out, nil
}

// orderingField returns the struct field index path of a JSON field name.
func orderingField(ordering string) ([]int, bool, bool) {
	name, desc := strings.CutPrefix(strings.TrimSpace(ordering), "-")
	if name == "" {
		return nil, false, false
	}
	f, ok := storageFields[name]
	return f, desc, ok
}

// storageFields maps the storage's JSON names to their field index paths.
var storageFields = func() map[string][]int {
	out := map[string][]int{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[storage.Storage]()) {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" && !f.Anonymous {
			out[name] = f.Index
		}
	}
	return out
}()

// compareField orders two storages by one field; nil sorts first, as
// PostgreSQL's NULLS FIRST for ascending order does not, but deterministic.
func compareField(a, b storage.Storage, index []int) int {
	va := reflect.ValueOf(a).FieldByIndex(index)
	vb := reflect.ValueOf(b).FieldByIndex(index)
	if va.Kind() == reflect.Pointer {
		switch {
		case va.IsNil() || vb.IsNil():
			return cmp.Compare(boolInt(!va.IsNil()), boolInt(!vb.IsNil()))
		}
		va, vb = va.Elem(), vb.Elem()
	}
	if t, ok := va.Interface().(time.Time); ok {
		return t.Compare(vb.Interface().(time.Time))
	}
	switch va.Kind() {
	case reflect.String:
		return cmp.Compare(va.String(), vb.String())
	case reflect.Int64, reflect.Int:
		return cmp.Compare(va.Int(), vb.Int())
	case reflect.Bool:
		return cmp.Compare(boolInt(va.Bool()), boolInt(vb.Bool()))
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// load reads a record the caller may manage. A storage of a project the
// caller may not manage is not found, as a missing id is: the answer must
// not confirm that the id exists, nor name its project (Label Studio too
// filters what a caller may see).
func (s *Manager) load(ctx context.Context, caller Caller, id int64) (storage.Record, error) {
	rec, err := s.Records.GetStorage(ctx, id)
	if errors.Is(err, storage.ErrRecordNotFound) {
		return storage.Record{}, fmt.Errorf("storage %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return storage.Record{}, fmt.Errorf("%w: read storage %d: %w", ErrPersistence, id, err)
	}
	if err := authorizeExisting(ctx, s.Projects, caller, id, rec.Project); err != nil {
		return storage.Record{}, err
	}
	return rec, nil
}

// merged is a stored storage with an update applied.
type merged struct {
	record    storage.Record
	stored    storage.Secrets
	versionID string
	// kept are the stored values that are not credentials (the file key,
	// filecap.SecretValue; an export's webhook secret), kept by a new
	// version of the secret so that file links and webhook deliveries
	// survive an update.
	kept map[string]string
	req  storage.Request
}

// merge loads a storage and the credentials its record names and applies
// the update over them, validating the result with the create's rules.
func (s *Manager) merge(ctx context.Context, caller Caller, id int64, changes storage.Update) (merged, error) {
	if s.Vault == nil {
		return merged{}, fmt.Errorf("%w: this function may not read secrets", ErrPersistence)
	}
	rec, err := s.load(ctx, caller, id)
	if err != nil {
		return merged{}, err
	}
	if err := changes.CheckImmutable(rec.Storage); err != nil {
		return merged{}, err
	}
	values, versionID, err := s.Vault.ReadSecret(ctx, rec.SecretARN, rec.SecretVersionID)
	if err != nil {
		return merged{}, fmt.Errorf("%w: read the secret of storage %d: %w", ErrPersistence, id, err)
	}
	stored := storage.Secrets{Token: values["token"], ClientSecret: values["client_secret"]}
	req, err := changes.Apply(rec.Settings, stored)
	if err != nil {
		return merged{}, err
	}
	req.Secrets = req.Secrets.For(req.AuthType)
	return merged{record: rec, stored: stored, versionID: versionID, kept: keptValues(values), req: req}, nil
}

// keptValues are the values of a stored secret an update keeps.
func keptValues(values map[string]string) map[string]string {
	out := map[string]string{}
	for _, name := range []string{filecap.SecretValue, WebhookSecretValue} {
		if v := values[name]; v != "" {
			out[name] = v
		}
	}
	return out
}

// ValidateExisting applies the update over a stored storage (with its
// stored secrets), checks the connection and saves nothing.
func (s *Manager) ValidateExisting(ctx context.Context, caller Caller, id int64, changes storage.Update) error {
	m, err := s.merge(ctx, caller, id, changes)
	if err != nil {
		return err
	}
	return s.check(ctx, m.req)
}

// maxUpdateAttempts bounds how often an update is merged again after
// another write changed the storage between its read and its write.
const maxUpdateAttempts = 2

// Update applies a partial update. When a field the connection depends on
// or a secret changes, the connection is checked again and a failed check
// changes nothing. New secret values become a new version of the storage's
// secret, which the updated record names: the record write, conditional on
// the revision read, makes settings and credentials the storage's together
// or neither.
func (s *Manager) Update(ctx context.Context, caller Caller, id int64, changes storage.Update) (storage.Storage, error) {
	for attempt := 1; ; attempt++ {
		updated, err := s.updateOnce(ctx, caller, id, changes)
		if errors.Is(err, ErrConflict) && attempt < maxUpdateAttempts {
			continue // apply the update over the other write and try again
		}
		return updated, err
	}
}

func (s *Manager) updateOnce(ctx context.Context, caller Caller, id int64, changes storage.Update) (storage.Storage, error) {
	m, err := s.merge(ctx, caller, id, changes)
	if err != nil {
		return storage.Storage{}, err
	}
	if m.req.NeedsCheck(m.record.Settings, m.stored) {
		if err := s.check(ctx, m.req); err != nil {
			return storage.Storage{}, err
		}
	}
	rec := m.record
	rec.Settings = m.req.Settings
	// A record written before records named their version is pinned to the
	// version it was read with.
	rec.SecretVersionID = m.versionID
	newValues := m.req.Secrets.Values()
	written := false
	if !maps.Equal(newValues, m.stored.Values()) {
		maps.Copy(newValues, m.kept)
		// A version nobody names yet: if the record write below fails, it
		// stays an orphan that nothing reads, and nothing needs undoing.
		if rec.SecretVersionID, err = s.Vault.PutSecretVersion(ctx, rec.SecretARN, newValues); err != nil {
			if _, getErr := s.Records.GetStorage(ctx, id); errors.Is(getErr, storage.ErrRecordNotFound) {
				// Deleted meanwhile: its secret is scheduled for deletion.
				return storage.Storage{}, fmt.Errorf("storage %d was deleted meanwhile: %w", id, ErrNotFound)
			}
			return storage.Storage{}, fmt.Errorf("%w: write the new secret version of storage %d: %w", ErrPersistence, id, err)
		}
		written = true
	}
	err = s.Records.ReplaceStorage(ctx, rec)
	switch {
	case err == nil:
		if written {
			s.promoteSecret(ctx, rec, m.versionID)
		}
		return rec.Storage, nil
	case errors.Is(err, storage.ErrRecordNotFound):
		return storage.Storage{}, fmt.Errorf("storage %d was deleted meanwhile: %w", id, ErrNotFound)
	case errors.Is(err, ErrConflict):
		return storage.Storage{}, fmt.Errorf("storage %d: %w", id, err)
	}
	return storage.Storage{}, fmt.Errorf("%w: write storage %d: %w", ErrPersistence, id, err)
}

// promoteSecret makes the version the record now names the secret's
// current one. Readers go by the record, so a failure is only logged.
func (s *Manager) promoteSecret(ctx context.Context, rec storage.Record, previous string) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := s.Vault.PromoteSecretVersion(ctx, rec.SecretARN, rec.SecretVersionID, previous); err != nil {
		s.logger().WarnContext(ctx, "the storage's secret version could not be made AWSCURRENT; the record names it, which is what readers use",
			slog.Int64("storage_id", rec.ID), slog.String("error", err.Error()))
	}
}

// Delete removes a storage's record and schedules its secret for deletion
// (after the vault's recovery window, so that an operator can undo a
// mistaken delete in Secrets Manager).
func (s *Manager) Delete(ctx context.Context, caller Caller, id int64) error {
	if s.Vault == nil {
		return fmt.Errorf("%w: this function may not delete secrets", ErrPersistence)
	}
	loaded, err := s.load(ctx, caller, id)
	if err != nil {
		return err
	}
	if s.Hooks != nil {
		if err := s.Hooks.Deleting(ctx, loaded); err != nil {
			return err
		}
	}
	rec, err := s.Records.RemoveStorage(ctx, id)
	if errors.Is(err, storage.ErrRecordNotFound) {
		return fmt.Errorf("storage %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%w: delete storage %d: %w", ErrPersistence, id, err)
	}
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	s.forgetSync(cctx, id)
	if s.Hooks != nil {
		s.Hooks.Deleted(cctx, rec)
	}
	if err := s.Vault.ScheduleSecretDeletion(cctx, rec.SecretARN); err != nil {
		// The record is gone, so the secret is an orphan: the sweep will
		// remove it, without a recovery window.
		s.logger().ErrorContext(ctx, "storage deleted, but its secret could not be scheduled for deletion; the sweep will remove it",
			slog.Int64("storage_id", id), slog.String("error", err.Error()))
	}
	return nil
}

// DefaultPreviewLimit and MaxPreviewLimit bound the files preview.
const (
	DefaultPreviewLimit = 100
	MaxPreviewLimit     = 1000
)

// PreviewFiles lists the objects a sync of a new storage, req, would
// import. It stops after limit files or request_timeout_s.
func (s *Manager) PreviewFiles(ctx context.Context, caller Caller, req storage.Request, limit int) (storage.FileListing, error) {
	if err := authorizeNew(ctx, s.Projects, caller, req.Project); err != nil {
		return storage.FileListing{}, err
	}
	return s.listFiles(ctx, req, limit)
}

// PreviewStoredFiles lists the objects a sync of the stored storage id,
// with the update applied, would import.
func (s *Manager) PreviewStoredFiles(ctx context.Context, caller Caller, id int64, changes storage.Update, limit int) (storage.FileListing, error) {
	m, err := s.merge(ctx, caller, id, changes)
	if err != nil {
		return storage.FileListing{}, err
	}
	return s.listFiles(ctx, m.req, limit)
}

func (s *Manager) listFiles(ctx context.Context, req storage.Request, limit int) (storage.FileListing, error) {
	filter, err := filterOf(req.RegexFilter)
	if err != nil {
		return storage.FileListing{}, err
	}
	if s.Files == nil {
		return storage.FileListing{}, fmt.Errorf("%w: no file lister configured", ErrPersistence)
	}
	return s.Files.ListFiles(ctx, req.Connection(), req.RecursiveScan, filter, limit)
}
