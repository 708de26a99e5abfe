package databricks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// The work of one ListPage call.
const (
	// PageBudget: a call stops after reading this many directory pages,
	// even with fewer files than wanted, so that a volume of many small
	// or empty directories is listed step by step too.
	PageBudget = 20
	// PageBudgetHard: a call that reached want or PageBudget where its
	// cursor would be over core.MaxCursorBytes goes on (which consumes
	// the entries that make it big) up to this many pages, then fails
	// with ErrCursorTooLarge.
	PageBudgetHard = 100
)

// Errors of ListPage.
var (
	// ErrInvalidCursor: the cursor is none ListPage made for this
	// connection (it does not decode, or continues another listing).
	ErrInvalidCursor = fmt.Errorf("%w: databricks: invalid listing cursor", core.ErrCursorRefused)
	// ErrCursorTooLarge: the listing cannot stop where its cursor fits in
	// core.MaxCursorBytes; a directory holds too many entries with long
	// names after a subdirectory.
	ErrCursorTooLarge = fmt.Errorf("%w: databricks: the listing cannot be carried over in a cursor", core.ErrCursorRefused)
)

// ListPage implements core.VolumePager: it continues the listing of the
// files under /Volumes/<catalog>/<schema>/<volume>[/<prefix>] from cursor
// ("" starts it), with ListFiles' walk, keys, filter and order: the calls
// of a listing, cursor after cursor until Next is "", return the files
// ListFiles would, in its order, each once.
//
// A call reads whole directory pages (page_token; only the absence of
// next_page_token ends a directory), and stops before reading another, or
// after finishing a directory, once it holds at least want files or has
// read PageBudget pages: it returns fewer than want files + the largest
// page read. It makes the token request of the auth type, then at most
// PageBudget directory listings (PageBudgetHard in the case below), plus
// the check's metadata requests to explain a 404 of the listed directory.
//
// The cursor is base64url (no padding) of a JSON object, a dot and
// base64url of the first 8 bytes of the JSON's SHA-256 (a checksum, not a
// signature: the cursor is no secret, and its contents are checked below;
// not compressed: the compressor would be linked into every function, for
// a cursor that fits in core.MaxCursorBytes as it is),
//
//	{"v":1,"dir":"/Volumes/c/s/v/prefix","stack":[
//	  {"token":"…","rest":[{"n":"b.jpg","s":12,"m":1717751350123},{"n":"sub","d":true}]},
//	  {"name":"sub","token":"…","done":true}]}
//
// the listed directory and the stack of directories being walked, the
// listed one first, each the subdirectory name of the one before: the
// page_token of its next unread page (absent for the first page), done
// when its last page was read, and the entries of its last page read that
// are still to walk (those the listing keeps: files matching filter, and
// subdirectories when recursive; n name, d directory, s file_size, m
// last_modified). A directory's entries after a subdirectory are walked
// after the subdirectory, so they travel in the cursor (pre-order, as
// ListFiles). A call stops only where its cursor is at most
// core.MaxCursorBytes long; when it cannot within PageBudgetHard pages it
// fails with ErrCursorTooLarge. A cursor that does not decode, or that
// continues the listing of another directory, or a recursive listing
// without recursive, fails with ErrInvalidCursor, before any request.
//
// Failures are ListFiles': *storage.ConnectionError as CheckConnection's,
// a subdirectory that answers 404 skipped (also one that vanished between
// calls), a plain error for a cancelled ctx or invalid arguments. Time:
// when conn.Timeout elapses after the workspace answered a page, the call
// returns what it found with the cursor after the last page read, no
// error; before, it is a *storage.ConnectionError with ReasonTimedOut.
func (c Volume) ListPage(ctx context.Context, conn storage.Connection, recursive bool, filter *regexp.Regexp, cursor string, want int) (core.ListPage, error) {
	if want < 1 {
		return core.ListPage{}, fmt.Errorf("databricks: invalid want %d: a listing page needs a positive want", want)
	}
	ck, api, cancel, err := c.begin(ctx, conn, "files listing")
	if err != nil {
		return core.ListPage{}, err
	}
	defer cancel()
	w := &walker{ck: ck, api: api, recursive: recursive, filter: filter}
	if cursor == "" {
		w.stack = []*dirFrame{w.rootFrame()}
	} else if err := w.resume(cursor); err != nil {
		return core.ListPage{}, err
	}

	out := core.ListPage{Files: []storage.File{}}
	var (
		next    string
		tooBig  int
		encErr  error
		stopped bool
	)
	stop := func() bool {
		if len(out.Files) < want && w.pages < PageBudget {
			return false
		}
		enc, err := w.cursor()
		switch {
		case err != nil:
			encErr = err
		case len(enc) <= core.MaxCursorBytes:
			next = enc
		case w.pages < PageBudgetHard:
			return false
		default:
			tooBig = len(enc)
		}
		stopped = true
		return true
	}
	err = w.walk(stop, func(f storage.File) bool {
		out.Files = append(out.Files, f)
		return true
	})
	if errors.Is(err, errTimeUp) {
		// The pages read stand: continue after the last one.
		err = nil
		if len(w.stack) > 0 {
			enc, encodeErr := w.cursor()
			switch {
			case encodeErr != nil:
				encErr = encodeErr
			case len(enc) > core.MaxCursorBytes:
				tooBig = len(enc)
			default:
				next = enc
			}
			stopped = true
		}
	}
	switch {
	case err != nil:
		return core.ListPage{}, err
	case encErr != nil:
		return core.ListPage{}, fmt.Errorf("databricks: encode the listing cursor: %w", encErr)
	case tooBig > 0:
		return core.ListPage{}, fmt.Errorf("%w: the listing of %s reached directory pages whose entries left to list take a %d-byte cursor, over the %d bytes it may take; the directories hold too many entries with long names to be listed in steps",
			ErrCursorTooLarge, ck.target, tooBig, core.MaxCursorBytes)
	case stopped:
		out.Next = next
	}
	return out, nil
}

// cursorState is the JSON of a cursor; see ListPage.
type cursorState struct {
	V     int           `json:"v"`
	Dir   string        `json:"dir"`
	Stack []cursorFrame `json:"stack"`
}

type cursorFrame struct {
	Name  string        `json:"name,omitempty"`
	Token string        `json:"token,omitempty"`
	Done  bool          `json:"done,omitempty"`
	Rest  []cursorEntry `json:"rest,omitempty"`
}

type cursorEntry struct {
	Name     string `json:"n"`
	Dir      bool   `json:"d,omitempty"`
	Size     int64  `json:"s,omitempty"`
	Modified int64  `json:"m,omitempty"`
}

const cursorVersion = 1

// cursor encodes the walk's stack.
func (w *walker) cursor() (string, error) {
	st := cursorState{V: cursorVersion, Dir: w.ck.target, Stack: make([]cursorFrame, len(w.stack))}
	for i, dir := range w.stack {
		f := cursorFrame{Name: dir.name, Token: dir.token, Done: dir.done}
		for _, e := range dir.rest {
			f.Rest = append(f.Rest, cursorEntry{Name: e.name, Dir: e.dir, Size: e.size, Modified: e.modified})
		}
		st.Stack[i] = f
	}
	data, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return sealCursor(data), nil
}

// resume sets the walk's stack from a cursor of cursor(), after checking
// that it continues this listing: a cursor is kept in the sync state, so
// it is input like any other.
func (w *walker) resume(cursor string) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidCursor, fmt.Sprintf(format, a...))
	}
	if len(cursor) > core.MaxCursorBytes {
		return bad("it is longer than %d bytes", core.MaxCursorBytes)
	}
	data, ok := openCursor(cursor)
	if !ok {
		// Truncated, a character changed, or not one of ours.
		return bad("it is not base64url with its checksum")
	}
	var st cursorState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return bad("it is no cursor of a listing")
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		return bad("it is no cursor of a listing")
	}
	switch {
	case st.V != cursorVersion:
		return bad("version %d is unknown", st.V)
	case st.Dir != w.ck.target:
		return bad("it continues the listing of another directory than %s", w.ck.target)
	case len(st.Stack) == 0:
		return bad("it holds no directory")
	case !w.recursive && len(st.Stack) > 1:
		return bad("it continues a recursive listing")
	}
	w.stack = make([]*dirFrame, 0, len(st.Stack))
	for i, f := range st.Stack {
		var dir *dirFrame
		if i == 0 {
			if f.Name != "" {
				return bad("its first directory is not the listed one")
			}
			dir = w.rootFrame()
		} else {
			if !singleSegment(f.Name) {
				return bad("a directory name is no single path segment")
			}
			dir = w.stack[i-1].child(f.Name)
		}
		if f.Done && f.Token != "" {
			return bad("a directory is both done and continued")
		}
		dir.token, dir.done = f.Token, f.Done
		for _, e := range f.Rest {
			switch {
			case !singleSegment(e.Name):
				return bad("an entry name is no single path segment")
			case e.Dir && !w.recursive:
				return bad("it continues a recursive listing")
			case e.Size < 0:
				return bad("an entry has a negative size")
			case e.Dir || w.keep(dir.key+e.Name):
				// A file the filter no longer keeps is left out: the
				// listing's files all match.
				dir.rest = append(dir.rest, walkEntry{name: e.Name, dir: e.Dir, size: e.Size, modified: e.Modified})
			}
		}
		w.stack = append(w.stack, dir)
	}
	return nil
}

// sealCursor and openCursor add and check the cursor's checksum.
func sealCursor(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.RawURLEncoding.EncodeToString(data) + "." + base64.RawURLEncoding.EncodeToString(sum[:8])
}

func openCursor(cursor string) ([]byte, bool) {
	body, check, found := strings.Cut(cursor, ".")
	if !found {
		return nil, false
	}
	data, err1 := base64.RawURLEncoding.DecodeString(body)
	want, err2 := base64.RawURLEncoding.DecodeString(check)
	sum := sha256.Sum256(data)
	if err1 != nil || err2 != nil || !bytes.Equal(want, sum[:8]) {
		return nil, false
	}
	return data, true
}
