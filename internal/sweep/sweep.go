// Package sweep removes orphan storage secrets: secrets a create left behind
// when its process died between creating the secret and writing the storage
// record, so that no record (or a record of another secret) refers to them.
//
// A secret is an orphan when all of these hold:
//
//   - its name starts with the configured prefix;
//   - it carries the tag managed-by=label-studio-databricks-storage;
//   - it was created more than the grace period ago (the grace period protects
//     creates in flight: it must be longer than any create can take);
//   - the storage its label-studio:storage-id tag names, of the kind its
//     name says (<prefix>storage-<id> an import storage,
//     <prefix>export-storage-<id> an export storage), has no record, or
//     the record refers to a different secret ARN.
//
// Anything in doubt is left alone and reported: a record lookup that fails
// for any reason other than "not found", a missing or malformed storage-id
// tag, a name that does not match that tag, a missing creation date, or a
// record that names no secret at all. Orphans are deleted without a recovery
// window. Secret values are never read.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// DefaultPageSize is how many secrets one ListSecrets call asks for.
const DefaultPageSize = 100

// SecretsAPI is the part of the Secrets Manager client the sweep uses.
type SecretsAPI interface {
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// RecordReader reads storage records; *dynamostore.Store implements it. A
// missing record must be reported with an error that wraps
// storage.ErrRecordNotFound.
type RecordReader interface {
	GetStorage(ctx context.Context, id int64) (storage.Record, error)
}

// Sweeper finds and deletes orphan storage secrets.
type Sweeper struct {
	// Secrets lists and deletes the secrets.
	Secrets SecretsAPI
	// Records tells which secret each import storage record refers to,
	// ExportRecords each export storage record (export storages' secrets
	// are left alone, in doubt, without it).
	Records       RecordReader
	ExportRecords RecordReader
	// Prefix starts the name of every storage secret; only secrets under it
	// are considered. It must not be empty.
	Prefix string
	// Grace is how old a secret must be before it can be an orphan;
	// config.DefaultSweepGrace when zero. Sweep refuses one outside
	// config.CheckSweepGrace's bounds: a shorter one could take a create in
	// flight for an orphan and delete the secret its record is about to
	// name.
	Grace time.Duration
	// DryRun finds and reports the orphans without deleting them.
	DryRun bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives one line per orphan and per secret left alone in
	// doubt; slog.Default() when nil.
	Logger *slog.Logger
	// PageSize is how many secrets one ListSecrets call asks for (1–100);
	// DefaultPageSize when zero.
	PageSize int32
}

// Report is the outcome of one sweep.
type Report struct {
	// Examined counts the secrets under the prefix.
	Examined int `json:"examined"`
	// Orphans counts the orphans found (deleted or, in a dry run, to delete).
	Orphans int `json:"orphans"`
	// Deleted counts the orphans deleted (or found already gone).
	Deleted int `json:"deleted"`
	// Skipped counts managed secrets left alone because their state could
	// not be established.
	Skipped int `json:"skipped"`
	// OrphanNames are the orphans' secret names, in listing order.
	OrphanNames []string `json:"orphan_names"`
	// SkippedNames are the skipped secrets' names, in listing order.
	SkippedNames []string `json:"skipped_names"`
	// DryRun is true when nothing was deleted on purpose.
	DryRun bool `json:"dry_run"`
}

// ErrNoPrefix is returned by Sweep when the Sweeper has no Prefix: without
// one the sweep would range over every secret of the account.
var ErrNoPrefix = errors.New("sweep: no secret name prefix")

// verdict is what the sweep decides about one secret.
type verdict int

const (
	ignore verdict = iota // not a candidate: not managed by the service, or too young
	keep                  // its record refers to it
	orphan                // delete it
	doubt                 // cannot tell: leave it and report it
)

// Sweep lists the secrets under the prefix, finds the orphans and, unless
// DryRun, deletes them. It first lists every page, then examines, so that
// deletions cannot shift the pages being read.
//
// The error is non-nil when the sweep was refused (no prefix, a grace
// period out of bounds) or the listing failed (the report then counts
// nothing examined) or when a record lookup or a deletion failed; the
// report then still describes every other secret. Secrets in doubt because
// of their tags, name or record are reported as skipped, not as errors.
func (s *Sweeper) Sweep(ctx context.Context) (Report, error) {
	report := Report{OrphanNames: []string{}, SkippedNames: []string{}, DryRun: s.DryRun}
	if s.Prefix == "" {
		return report, ErrNoPrefix
	}
	grace := s.Grace
	if grace == 0 {
		grace = config.DefaultSweepGrace
	}
	if err := config.CheckSweepGrace(grace); err != nil {
		return report, fmt.Errorf("sweep refused: %w", err)
	}
	entries, err := s.list(ctx)
	if err != nil {
		return report, err
	}
	now := s.now()
	log := s.logger().With(slog.Bool("dry_run", s.DryRun))
	var errs []error
	for _, entry := range entries {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("sweep stopped after %d of %d secrets: %w", report.Examined, len(entries), err))
			break
		}
		report.Examined++
		name := aws.ToString(entry.Name)
		v, reason, err := s.classify(ctx, entry, now, grace)
		attrs := []any{slog.String("secret_name", name), slog.String("reason", reason)}
		switch v {
		case ignore, keep:
			log.DebugContext(ctx, "secret kept", attrs...)
			continue
		case doubt:
			report.Skipped++
			report.SkippedNames = append(report.SkippedNames, name)
			if err != nil {
				errs = append(errs, fmt.Errorf("secret %s: %w", name, err))
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			log.WarnContext(ctx, "secret left alone: its state is in doubt", attrs...)
			continue
		}
		report.Orphans++
		report.OrphanNames = append(report.OrphanNames, name)
		attrs = append(attrs, slog.String("secret_arn", aws.ToString(entry.ARN)))
		if entry.CreatedDate != nil {
			attrs = append(attrs, slog.Time("created_at", entry.CreatedDate.UTC()))
		}
		if s.DryRun {
			log.InfoContext(ctx, "orphan secret found; dry run, not deleted", attrs...)
			continue
		}
		if err := s.delete(ctx, aws.ToString(entry.ARN)); err != nil {
			errs = append(errs, err)
			log.ErrorContext(ctx, "orphan secret could not be deleted", append(attrs, slog.String("error", err.Error()))...)
			continue
		}
		report.Deleted++
		log.InfoContext(ctx, "orphan secret deleted", attrs...)
	}
	if len(errs) > 0 {
		return report, fmt.Errorf("sweep of %q: %w", s.Prefix, errors.Join(errs...))
	}
	return report, nil
}

// list returns every secret whose name starts with the prefix. The name
// filter narrows the listing on the server; the prefix is checked again here
// because that filter is a search, not an exact prefix test.
func (s *Sweeper) list(ctx context.Context) ([]types.SecretListEntry, error) {
	size := s.PageSize
	if size <= 0 || size > DefaultPageSize {
		size = DefaultPageSize
	}
	p := secretsmanager.NewListSecretsPaginator(s.Secrets, &secretsmanager.ListSecretsInput{
		Filters:    []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{s.Prefix}}},
		MaxResults: aws.Int32(size),
	})
	var entries []types.SecretListEntry
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list secrets under %q: %w", s.Prefix, err)
		}
		for _, e := range page.SecretList {
			if strings.HasPrefix(aws.ToString(e.Name), s.Prefix) {
				entries = append(entries, e)
			}
		}
	}
	return entries, nil
}

// classify decides about one secret and says why. err is set only for a
// record lookup that failed (the verdict is then doubt).
func (s *Sweeper) classify(ctx context.Context, e types.SecretListEntry, now time.Time, grace time.Duration) (verdict, string, error) {
	tags := make(map[string]string, len(e.Tags))
	for _, t := range e.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if tags[secretstore.TagManagedBy] != secretstore.ManagedBy {
		return ignore, "not managed by this service", nil
	}
	if e.CreatedDate == nil {
		return doubt, "no creation date", nil
	}
	if age := now.Sub(*e.CreatedDate); age <= grace {
		return ignore, "younger than the grace period", nil
	}
	raw, ok := tags[secretstore.TagStorageID]
	if !ok {
		return doubt, "no " + secretstore.TagStorageID + " tag", nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return doubt, "malformed " + secretstore.TagStorageID + " tag", nil
	}
	kind, named, ok := secretstore.ParseName(s.Prefix, aws.ToString(e.Name))
	if !ok || named != id {
		return doubt, "name does not match the " + secretstore.TagStorageID + " tag", nil
	}
	if aws.ToString(e.ARN) == "" {
		return doubt, "no ARN", nil
	}
	// The name says whose record to look in: an import and an export
	// storage may have the same id.
	records := s.Records
	if kind == storage.KindExport {
		records = s.ExportRecords
	}
	if records == nil {
		return doubt, "no export storage records to look in", nil
	}
	record, err := records.GetStorage(ctx, id)
	switch {
	case errors.Is(err, storage.ErrRecordNotFound):
		return orphan, "no storage record", nil
	case err != nil:
		return doubt, "storage record lookup failed", fmt.Errorf("look up storage %d: %w", id, err)
	case record.SecretARN == "":
		return doubt, "storage record names no secret", nil
	case record.SecretARN != aws.ToString(e.ARN):
		return orphan, "storage record refers to another secret", nil
	}
	return keep, "storage record refers to it", nil
}

// delete removes a secret at once. A secret already gone counts as deleted.
func (s *Sweeper) delete(ctx context.Context, arn string) error {
	return secretstore.ForceDelete(ctx, s.Secrets, arn)
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sweeper) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
