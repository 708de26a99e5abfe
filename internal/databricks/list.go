package databricks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/httpclient"
	"github.com/databricks/databricks-sdk-go/service/files"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// ListFiles implements core.FileLister, for the files preview: it lists
// the files under /Volumes/<catalog>/<schema>/<volume>[/<prefix>] with the
// Files API's directory listing, as a sync would import them, within
// conn.Timeout (storage.DefaultRequestTimeoutS seconds when zero). It
// shares the check's transports, credentials, host guard and refusal of
// redirects; see CheckConnection.
//
// Order: depth-first, pre-order, in the order the Files API returns each
// directory's entries: a subdirectory is listed where it appears among its
// siblings, before the entries that follow it, so the same contents list
// the same way. Only files are listed; subdirectories are entered only when
// recursive is true. Each directory is read page by page (page_token), a
// page when its entries are needed, and no further than needed: the
// listing makes the token request of the auth type, then directory
// listings until it has limit+1 matching files or has read everything
// (and, to explain a 404 of the directory, the check's metadata requests).
//
// A file's Key is its path under the volume, with no leading slash:
// "images/2025/a.jpg" for /Volumes/c/s/v/images/2025/a.jpg, whatever the
// prefix. It is made of conn.Prefix and the names of the entries, so its
// catalog, schema and volume are never part of it. LastModified is the
// API's last_modified in UTC (nil when absent), Size its file_size (0 when
// absent: the API leaves out the size of an empty file). An entry whose
// name is no single path segment ("", ".", "..", or holding a slash) is
// skipped: no key could name it.
//
// filter, when not nil, keeps a file only when it matches at the start of
// its key, as Python's re.match does. The listing stops after limit files,
// with LimitReached when one more matching file exists; limit must be
// positive.
//
// Time: when conn.Timeout elapses after the workspace answered the first
// listing of the directory, the files found so far come back with TimedOut
// and no error, possibly none. Before that answer, nothing is known, not
// even whether the credentials are good or the directory exists, so a
// timeout is a *storage.ConnectionError with ReasonTimedOut, as in
// CheckConnection.
//
// Failures: any other failure, at any point, is a *storage.ConnectionError
// classified as CheckConnection's, with nothing the workspace sent beyond
// a status and a plain error code: a 404 of the directory is told apart
// into volume_not_found, prefix_not_found or not_a_directory with the
// same further requests; a refusal of the credentials (401, 403) is
// credentials_refused; a redirect is redirected, and so on. A failure
// after some files were found still fails the listing, as it would fail
// a sync: FileListing cannot say that files are missing. The exception is
// a subdirectory that answers 404, which vanished since its parent was
// listed: it is skipped. A failure in a subdirectory is reported as one
// in "a subdirectory of" the listed directory, whose name, chosen by the
// workspace, is kept out of the error. A cancelled ctx gives a plain
// error.
func (c *Checker) ListFiles(ctx context.Context, conn storage.Connection, recursive bool, filter *regexp.Regexp, limit int) (storage.FileListing, error) {
	if limit < 1 {
		return storage.FileListing{}, fmt.Errorf("databricks: invalid limit %d: a listing needs a positive limit", limit)
	}
	ck, api, cancel, err := c.begin(ctx, conn, "files listing")
	if err != nil {
		return storage.FileListing{}, err
	}
	defer cancel()
	l := &lister{ck: ck, api: api, recursive: recursive, filter: filter, limit: limit}
	return l.run()
}

// dirIterator is the SDK's listing.Iterator of directory entries.
type dirIterator interface {
	HasNext(ctx context.Context) bool
	Next(ctx context.Context) (files.DirectoryEntry, error)
}

// dirListing is a directory being listed.
type dirListing struct {
	path  string // the absolute path, as this package built it
	key   string // the key prefix of its entries: "" or ending with "/"
	depth int    // 0 for the listed directory
	it    dirIterator
}

type lister struct {
	ck        *check
	api       *files.FilesAPI
	recursive bool
	filter    *regexp.Regexp
	limit     int
}

func (l *lister) open(dirPath, key string, depth int) *dirListing {
	return &dirListing{
		path:  dirPath,
		key:   key,
		depth: depth,
		it:    l.api.ListDirectoryContents(l.ck.ctx, files.ListDirectoryContentsRequest{DirectoryPath: dirPath}),
	}
}

func (l *lister) run() (storage.FileListing, error) {
	ck := l.ck
	rootKey := ""
	if p := strings.Trim(ck.conn.Prefix, "/"); p != "" {
		rootKey = p + "/"
	}
	stack := []*dirListing{l.open(ck.target, rootKey, 0)}
	// answered: the workspace answered the first listing of the directory,
	// so the credentials work and the directory exists.
	answered := false
	out := storage.FileListing{Files: []storage.File{}}
	for len(stack) > 0 {
		dir := stack[len(stack)-1]
		if !dir.it.HasNext(ck.ctx) {
			answered = true
			stack = stack[:len(stack)-1]
			continue
		}
		e, err := dir.it.Next(ck.ctx)
		if err != nil {
			switch {
			case answered && ck.timedOut(err) && !errors.Is(ck.parent.Err(), context.Canceled):
				out.TimedOut = true
				return out, nil
			case dir.depth == 0 && !answered && isNotFound(err):
				return storage.FileListing{}, ck.notFound(l.api, err)
			case dir.depth > 0 && isNotFound(err):
				// Gone since its parent was listed: it holds no files.
				stack = stack[:len(stack)-1]
				continue
			default:
				return storage.FileListing{}, l.failure(err, dir.path)
			}
		}
		answered = true
		name, ok := entryName(e)
		if !ok {
			continue
		}
		if e.IsDirectory {
			if l.recursive {
				stack = append(stack, l.open(dir.path+"/"+name, dir.key+name+"/", dir.depth+1))
			}
			continue
		}
		key := dir.key + name
		if !l.keep(key) {
			continue
		}
		if len(out.Files) == l.limit {
			out.LimitReached = true
			return out, nil
		}
		out.Files = append(out.Files, fileOf(key, e))
	}
	return out, nil
}

// keep reports whether filter matches at the start of key, as Python's
// re.match: the leftmost match starts at 0 exactly when some match does.
func (l *lister) keep(key string) bool {
	if l.filter == nil {
		return true
	}
	loc := l.filter.FindStringIndex(key)
	return loc != nil && loc[0] == 0
}

// failure explains a failure to list dirPath. The path of a subdirectory
// is made of names the workspace chose, so the error holds the listed
// directory followed by "/…" in its place, in the message, the request and
// the description of an error of unknown cause alike.
func (l *lister) failure(err error, dirPath string) error {
	ck := *l.ck
	ck.req = "GET " + (&url.URL{Scheme: "https", Host: ck.host, Path: "/api/2.0/fs/directories" + dirPath}).String()
	if root := l.ck.target; dirPath != root {
		ck.target = "a subdirectory of " + root
		forms := []string{httpclient.EncodeMultiSegmentPathParameter(dirPath), (&url.URL{Path: dirPath}).EscapedPath(), dirPath}
		ck.hide = func(s string) string {
			for _, form := range forms {
				s = strings.ReplaceAll(s, form, root+"/…")
			}
			return s
		}
	}
	return ck.fail(err)
}

// entryName returns the name of a directory entry, or false when it is no
// single path segment.
func entryName(e files.DirectoryEntry) (string, bool) {
	name := e.Name
	if name == "" {
		name = path.Base(strings.TrimRight(e.Path, "/"))
	}
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

func fileOf(key string, e files.DirectoryEntry) storage.File {
	size := e.FileSize
	f := storage.File{Key: key, Size: &size}
	if e.LastModified != 0 {
		t := time.UnixMilli(e.LastModified).UTC()
		f.LastModified = &t
	}
	return f
}
