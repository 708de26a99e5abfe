package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"

	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// MaxRangeBytes caps what one range answer holds, as Label Studio's own
// file proxy does: an open-ended range (bytes=N-) or a longer one gets at
// most this many bytes, from its first byte on, and says so in its
// Content-Range. A read without a range gets the whole file.
const MaxRangeBytes int64 = 8 << 20

// Files serves the files of storages to holders of file links (the file
// route's use case): it reads a record, the secret version the record
// names, checks the link's capability and reads the file from the
// workspace. It may do nothing else: read records, read secrets, read
// files.
type Files struct {
	Records StorageReader
	Secrets SecretReader
	Fetcher FileFetcher
	// Logger receives workflow events; slog.Default when nil.
	Logger *slog.Logger
}

// FileRequest is a request of the file route.
type FileRequest struct {
	StorageID int64
	// Capability is the link's capability (see package filecap); never
	// logged.
	Capability string
	// Path is the file's path relative to the volume root, decoded.
	Path string
	Read FileRead
}

// Open checks a file link and reads its file. Nothing is read of the
// storage for a path that is no file path (filecap.CheckPath), nor of
// its secret for a path outside its prefix, and the workspace is
// contacted only for a valid capability. A missing storage is ErrNotFound;
// a refused link ErrLinkRefused; the workspace's failures are
// FileFetcher's. The caller must close the content's Body.
//
// Ranges are capped at MaxRangeBytes: the range asked of the workspace
// when it has a known end or start, the answer for a suffix range.
func (f *Files) Open(ctx context.Context, req FileRequest) (FileContent, error) {
	if err := filecap.CheckPath(req.Path); err != nil {
		return FileContent{}, fmt.Errorf("%w: %w", ErrLinkRefused, err)
	}
	rec, err := f.Records.GetStorage(ctx, req.StorageID)
	if errors.Is(err, storage.ErrRecordNotFound) {
		return FileContent{}, fmt.Errorf("storage %d: %w", req.StorageID, ErrNotFound)
	}
	if err != nil {
		return FileContent{}, fmt.Errorf("%w: read storage %d: %w", ErrPersistence, req.StorageID, err)
	}
	if !filecap.Under(deref(rec.Prefix), req.Path) {
		return FileContent{}, fmt.Errorf("storage %d: path outside the prefix: %w", req.StorageID, ErrLinkRefused)
	}
	values, _, err := f.Secrets.ReadSecret(ctx, rec.SecretARN, rec.SecretVersionID)
	if err != nil {
		return FileContent{}, fmt.Errorf("%w: read the secret of storage %d: %w", ErrPersistence, req.StorageID, err)
	}
	key := values[filecap.SecretValue]
	if key == "" || !filecap.Verify(key, req.StorageID, req.Path, req.Capability) {
		return FileContent{}, fmt.Errorf("storage %d: %w", req.StorageID, ErrLinkRefused)
	}
	read := req.Read
	if r := read.Range; r != nil && r.Suffix <= 0 && (r.Last < 0 || r.Last-r.First+1 > MaxRangeBytes) {
		capped := *r
		capped.Last = r.First + MaxRangeBytes - 1
		read.Range = &capped
	}
	conn := requestOf(rec, values).Connection()
	content, err := f.Fetcher.FetchFile(ctx, conn, req.Path, read)
	if err != nil {
		return FileContent{}, err
	}
	if content.Body != nil && content.ETag != "" && etagListed(req.Read.IfNoneMatch, content.ETag) {
		// The workspace ignored If-None-Match: the answer is the same.
		_ = content.Body.Close()
		content.Body = nil
		content.NotModified = true
	}
	if content.Partial && content.Body != nil && content.Length() > MaxRangeBytes {
		content.Last = content.First + MaxRangeBytes - 1
		content.Body = limitedBody{io.LimitReader(content.Body, MaxRangeBytes), content.Body}
	}
	return content, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// etagListed reports whether an If-None-Match value lists etag (weak
// comparison, as If-None-Match uses) or is "*".
func etagListed(ifNoneMatch, etag string) bool {
	if strings.TrimSpace(ifNoneMatch) == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// FileURL returns the path of the file link of path (relative to the
// volume root, under the storage's prefix) of a storage the caller may
// manage: filecap.URLPath, to be put after the file route's base URL. A
// storage whose secret has no file key yet (created before file links)
// gets one first, as a new secret version its record names.
func (s *Manager) FileURL(ctx context.Context, caller Caller, id int64, path string) (string, error) {
	for attempt := 1; ; attempt++ {
		u, err := s.fileURLOnce(ctx, caller, id, path)
		if errors.Is(err, ErrConflict) && attempt < maxUpdateAttempts {
			continue
		}
		return u, err
	}
}

func (s *Manager) fileURLOnce(ctx context.Context, caller Caller, id int64, path string) (string, error) {
	if err := filecap.CheckPath(path); err != nil {
		return "", &storage.ValidationError{Fields: map[string][]string{"path": {"Not a file path under the volume: no empty, \".\" or \"..\" segment, no leading slash."}}}
	}
	rec, values, err := s.readSecret(ctx, caller, id)
	if err != nil {
		return "", err
	}
	if !filecap.Under(deref(rec.Prefix), path) {
		return "", &storage.ValidationError{Fields: map[string][]string{"path": {"The path is not under the storage's prefix."}}}
	}
	key := values[filecap.SecretValue]
	if key == "" {
		if key, err = s.writeFileKey(ctx, rec, values); err != nil {
			return "", err
		}
	}
	capability, err := filecap.Sign(key, id, path)
	if err != nil {
		return "", fmt.Errorf("storage %d: %w", id, err)
	}
	return filecap.URLPath(id, capability, path), nil
}

// RotateFileKey gives a storage the caller may manage a new file key, so
// that every file link signed before stops working: a new version of its
// secret, with the same credentials and a fresh key, which the record then
// names.
func (s *Manager) RotateFileKey(ctx context.Context, caller Caller, id int64) error {
	for attempt := 1; ; attempt++ {
		rec, values, err := s.readSecret(ctx, caller, id)
		if err == nil {
			_, err = s.writeFileKey(ctx, rec, values)
		}
		if errors.Is(err, ErrConflict) && attempt < maxUpdateAttempts {
			continue
		}
		return err
	}
}

// readSecret loads a storage the caller may manage and the values of the
// secret version its record names.
func (s *Manager) readSecret(ctx context.Context, caller Caller, id int64) (storage.Record, map[string]string, error) {
	if s.Vault == nil {
		return storage.Record{}, nil, fmt.Errorf("%w: this function may not read secrets", ErrPersistence)
	}
	rec, err := s.load(ctx, caller, id)
	if err != nil {
		return storage.Record{}, nil, err
	}
	values, versionID, err := s.Vault.ReadSecret(ctx, rec.SecretARN, rec.SecretVersionID)
	if err != nil {
		return storage.Record{}, nil, fmt.Errorf("%w: read the secret of storage %d: %w", ErrPersistence, id, err)
	}
	rec.SecretVersionID = versionID
	return rec, values, nil
}

// writeFileKey writes values with a fresh file key as a new version of
// rec's secret and the record naming it, conditional on rec's revision
// (as an update does: a failure leaves an orphan version nothing names).
func (s *Manager) writeFileKey(ctx context.Context, rec storage.Record, values map[string]string) (string, error) {
	key, err := filecap.NewKey()
	if err != nil {
		return "", err
	}
	next := maps.Clone(values)
	next[filecap.SecretValue] = key
	previous := rec.SecretVersionID
	if rec.SecretVersionID, err = s.Vault.PutSecretVersion(ctx, rec.SecretARN, next); err != nil {
		return "", fmt.Errorf("%w: write the new secret version of storage %d: %w", ErrPersistence, rec.ID, err)
	}
	switch err := s.Records.ReplaceStorage(ctx, rec); {
	case err == nil:
		s.promoteSecret(ctx, rec, previous)
		return key, nil
	case errors.Is(err, storage.ErrRecordNotFound):
		return "", fmt.Errorf("storage %d was deleted meanwhile: %w", rec.ID, ErrNotFound)
	case errors.Is(err, ErrConflict):
		return "", fmt.Errorf("storage %d: %w", rec.ID, err)
	default:
		return "", fmt.Errorf("%w: write storage %d: %w", ErrPersistence, rec.ID, err)
	}
}
