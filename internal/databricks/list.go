package databricks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	w := &walker{ck: ck, api: api, recursive: recursive, filter: filter}
	w.stack = []*dirFrame{w.rootFrame()}
	out := storage.FileListing{Files: []storage.File{}}
	err = w.walk(nil, func(f storage.File) bool {
		if len(out.Files) == limit {
			out.LimitReached = true
			return false
		}
		out.Files = append(out.Files, f)
		return true
	})
	switch {
	case errors.Is(err, errTimeUp):
		out.TimedOut = true
	case err != nil:
		return storage.FileListing{}, err
	}
	return out, nil
}

// dirFrame is a directory being walked: where it is, the entries of its
// last page read that the walk has yet to take, and where its listing
// continues.
type dirFrame struct {
	name  string // its name in its parent; "" for the listed directory
	path  string // the absolute path, as this package built it
	key   string // the key prefix of its entries: "" or ending with "/"
	depth int    // 0 for the listed directory
	// token is the page_token of its next unread page ("" for the first);
	// done, that its last page was read.
	token string
	done  bool
	// rest are the entries of the last page read not walked yet, only
	// those the walk uses: subdirectories when recursive, matching files.
	rest []walkEntry
}

// walkEntry is a directory entry the walk uses.
type walkEntry struct {
	name     string
	dir      bool
	size     int64 // file_size
	modified int64 // last_modified, Unix milliseconds; 0 when absent
}

// walker walks a directory tree depth first, pre-order, in the order the
// Files API lists each directory, reading each directory's pages with
// their page_token. It is shared by ListFiles, which walks in one go, and
// ListPage, which carries the stack over in a cursor.
type walker struct {
	ck        *check
	api       *files.FilesAPI
	recursive bool
	filter    *regexp.Regexp
	stack     []*dirFrame
	// answered: the workspace answered a listing page in this call, so
	// the credentials work and the directory exists.
	answered bool
	// pages counts the pages read in this call.
	pages int
}

// errTimeUp ends a walk whose time ran out after the workspace answered:
// what was found stands.
var errTimeUp = errors.New("databricks: the listing's time ran out")

// rootFrame is the listed directory, before its first page.
func (w *walker) rootFrame() *dirFrame {
	rootKey := ""
	if p := strings.Trim(w.ck.conn.Prefix, "/"); p != "" {
		rootKey = p + "/"
	}
	return &dirFrame{path: w.ck.target, key: rootKey}
}

// child is the frame of dir's subdirectory name, before its first page.
func (dir *dirFrame) child(name string) *dirFrame {
	return &dirFrame{name: name, path: dir.path + "/" + name, key: dir.key + name + "/", depth: dir.depth + 1}
}

// walk takes the entries of the stack's directories in order, reading
// pages as they are needed, and calls found with each matching file; it
// ends when the listing is complete, when found returns false (after that
// file), or when stop, asked before each page read and after each
// directory is done, returns true (nil: never). Its errors are the
// listing's failures, or errTimeUp.
func (w *walker) walk(stop func() bool, found func(storage.File) bool) error {
	for len(w.stack) > 0 {
		dir := w.stack[len(w.stack)-1]
		if len(dir.rest) == 0 {
			if dir.done {
				w.stack = w.stack[:len(w.stack)-1]
				if len(w.stack) > 0 && stop != nil && stop() {
					return nil
				}
				continue
			}
			if stop != nil && stop() {
				return nil
			}
			if err := w.read(dir); err != nil {
				return err
			}
			continue
		}
		e := dir.rest[0]
		dir.rest = dir.rest[1:]
		if e.dir {
			w.stack = append(w.stack, dir.child(e.name))
			continue
		}
		if !found(fileOf(dir.key+e.name, e)) {
			return nil
		}
	}
	return nil
}

// read reads dir's next page into dir.rest, or, for a subdirectory that
// answers 404, which vanished since its parent was listed and holds no
// files, marks it done.
func (w *walker) read(dir *dirFrame) error {
	ck := w.ck
	page, err := w.page(dir.path, dir.token)
	if err != nil {
		switch {
		case w.answered && ck.timedOut(err) && !errors.Is(ck.parent.Err(), context.Canceled):
			return errTimeUp
		case dir.depth == 0 && !w.answered && isNotFound(err):
			return ck.notFound(w.api, err)
		case dir.depth > 0 && isNotFound(err):
			dir.rest, dir.done = nil, true
			return nil
		default:
			return w.failure(err, dir.path)
		}
	}
	w.answered = true
	w.pages++
	// Only the absence of next_page_token ends a directory: a page may
	// hold fewer entries than asked, even none, and be followed by more.
	dir.token, dir.done = page.NextPageToken, page.NextPageToken == ""
	dir.rest = dir.rest[:0]
	for _, e := range page.Contents {
		name, ok := entryName(e)
		switch {
		case !ok:
		case e.IsDirectory:
			if w.recursive {
				dir.rest = append(dir.rest, walkEntry{name: name, dir: true})
			}
		case w.keep(dir.key + name):
			dir.rest = append(dir.rest, walkEntry{name: name, size: e.FileSize, modified: e.LastModified})
		}
	}
	return nil
}

// page asks for one page of the Files API's directory listing of dirPath,
// as the SDK's iterator would, but with the page_token of the caller's
// choice and the page's next_page_token kept.
func (w *walker) page(dirPath, token string) (*files.ListDirectoryResponse, error) {
	var resp files.ListDirectoryResponse
	err := w.ck.client.Do(w.ck.ctx, http.MethodGet,
		"/api/2.0/fs/directories"+httpclient.EncodeMultiSegmentPathParameter(dirPath),
		map[string]string{"Accept": "application/json"}, nil,
		files.ListDirectoryContentsRequest{DirectoryPath: dirPath, PageToken: token}, &resp)
	return &resp, err
}

// keep reports whether filter matches at the start of key, as Python's
// re.match: the leftmost match starts at 0 exactly when some match does.
func (w *walker) keep(key string) bool {
	if w.filter == nil {
		return true
	}
	loc := w.filter.FindStringIndex(key)
	return loc != nil && loc[0] == 0
}

// failure explains a failure to list dirPath. The path of a subdirectory
// is made of names the workspace chose, so the error holds the listed
// directory followed by "/…" in its place, in the message, the request and
// the description of an error of unknown cause alike.
func (w *walker) failure(err error, dirPath string) error {
	ck := *w.ck
	ck.req = "GET " + (&url.URL{Scheme: "https", Host: ck.host, Path: "/api/2.0/fs/directories" + dirPath}).String()
	if root := w.ck.target; dirPath != root {
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
	if !singleSegment(name) {
		return "", false
	}
	return name, true
}

// singleSegment reports whether name is a single path segment, which a
// key can hold.
func singleSegment(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

func fileOf(key string, e walkEntry) storage.File {
	size := e.size
	f := storage.File{Key: key, Size: &size}
	if e.modified != 0 {
		t := time.UnixMilli(e.modified).UTC()
		f.LastModified = &t
	}
	return f
}
