package databricks_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

var _ core.VolumePager = databricks.Volume{}

// pageCall is what one ListPage call of a walk returned and cost.
type pageCall struct {
	files    int
	dirReqs  int // directory listing requests
	tokenReq int // token requests
	cursor   int // length of the cursor returned
}

// walkPages lists conn's volume with ListPage from "" until Next is "",
// and returns the files and the calls. It fails the test on an error or a
// walk that does not end.
func walkPages(t *testing.T, fw *fakeworkspace.Server, checker *databricks.Checker, conn storage.Connection, recursive bool, filter *regexp.Regexp, want int) ([]storage.File, []pageCall) {
	t.Helper()
	var (
		all    []storage.File
		calls  []pageCall
		cursor string
	)
	for {
		fw.ResetRequests()
		page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, recursive, filter, cursor, want)
		if err != nil {
			t.Fatalf("ListPage after %d calls: %v", len(calls), err)
		}
		c := pageCall{files: len(page.Files), cursor: len(page.Next)}
		for _, r := range fw.Requests() {
			if strings.HasPrefix(r.Path, dirsAPI) {
				c.dirReqs++
			} else {
				c.tokenReq++
			}
		}
		calls = append(calls, c)
		all = append(all, page.Files...)
		if page.Next == "" {
			return all, calls
		}
		if page.Next == cursor {
			t.Fatalf("call %d returned its own cursor: no progress", len(calls))
		}
		if len(page.Next) > core.MaxCursorBytes {
			t.Fatalf("call %d returned a cursor of %d bytes", len(calls), len(page.Next))
		}
		if len(calls) > 1_000_000 {
			t.Fatal("the walk does not end")
		}
		cursor = page.Next
	}
}

func fileKeys(fs []storage.File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Key
	}
	return out
}

// checkBounds asserts the bounds of each call of a walk: fewer than want
// + pageSize files, at least want but in the last call or when the page
// budget ran out, at most the page budget of directory requests.
func checkBounds(t *testing.T, calls []pageCall, want, pageSize int) {
	t.Helper()
	for i, c := range calls {
		last := i == len(calls)-1
		if c.files >= want+pageSize {
			t.Errorf("call %d: %d files, want fewer than %d + %d", i, c.files, want, pageSize)
		}
		if c.files < want && !last && c.dirReqs < databricks.PageBudget {
			t.Errorf("call %d: %d files after %d pages, want %d or %d pages", i, c.files, c.dirReqs, want, databricks.PageBudget)
		}
		// None when the cursor holds the files left.
		if c.dirReqs > databricks.PageBudget {
			t.Errorf("call %d: %d directory requests, want at most %d", i, c.dirReqs, databricks.PageBudget)
		}
		if c.tokenReq > 1 {
			t.Errorf("call %d: %d token requests, want at most 1", i, c.tokenReq)
		}
	}
}

// pagedTree adds, to listTree, directories whose entries follow a
// subdirectory over several pages, empty directories and a deep one.
func pagedTree(fw *fakeworkspace.Server) {
	listTree(fw)
	vol := fakeworkspace.DefaultVolumePath
	for i := range 7 {
		fw.AddFileAt(fmt.Sprintf("%s/images/2025/m%02d.jpg", vol, i), []byte("m"), modified)
		fw.AddFileAt(fmt.Sprintf("%s/images/zz%02d.png", vol, i), nil, modified)
	}
	for i := range 5 {
		fw.AddDirectory(fmt.Sprintf("%s/images/2025/empty%d", vol, i))
	}
	fw.AddFileAt(vol+"/images/2025/sub/a/b/c/d/e/f.txt", []byte("deep"), modified)
	fw.AddFileAt(vol+"/images/2025/sub/z.txt", nil, modified)
}

// TestListPageWalksAsListFiles: page after page, a listing returns the
// files of ListFiles, in its order, each once, whatever the page size and
// want.
func TestListPageWalksAsListFiles(t *testing.T) {
	tests := []struct {
		name      string
		prefix    string
		recursive bool
		filter    string
	}{
		{"volume, recursive", "", true, ""},
		{"volume, not recursive", "", false, ""},
		{"prefix, recursive", "images", true, ""},
		{"prefix, not recursive", "images", false, ""},
		{"nested prefix", "images/2025", true, ""},
		{"empty directory", "z/empty", true, ""},
		{"filter", "", true, `.*\.(jpg|txt)`},
		{"filter with the prefix", "images", true, `images/2025/`},
		{"filter matching nothing", "", true, `nothing`},
		{"filter, not recursive", "images", false, `images/z`},
	}
	for _, pageSize := range []int{1, 3, fakeworkspace.MaxPageSize} {
		fw := startFake(t, fakeworkspace.WithPageSize(pageSize))
		pagedTree(fw)
		checker := newChecker(t, testOptions(fw))
		for _, tt := range tests {
			conn := connFor(fw, storage.AuthPAT)
			conn.Prefix = tt.prefix
			var filter *regexp.Regexp
			if tt.filter != "" {
				filter = regexp.MustCompile(tt.filter)
			}
			whole, err := checker.ListFiles(context.Background(), conn, tt.recursive, filter, 1000)
			if err != nil || whole.LimitReached {
				t.Fatalf("ListFiles: %v, %+v", err, whole)
			}
			for _, want := range []int{1, 2, 3, 5, 1000} {
				t.Run(fmt.Sprintf("page size %d/%s/want %d", pageSize, tt.name, want), func(t *testing.T) {
					got, calls := walkPages(t, fw, checker, conn, tt.recursive, filter, want)
					if !slices.Equal(fileKeys(got), keys(whole)) {
						t.Fatalf("ListPage walk = %q, ListFiles = %q", fileKeys(got), keys(whole))
					}
					for i, f := range got {
						w := whole.Files[i]
						if *f.Size != *w.Size || !f.LastModified.Equal(*w.LastModified) {
							t.Errorf("%s: size %d modified %s, ListFiles %d %s", f.Key, *f.Size, f.LastModified, *w.Size, w.LastModified)
						}
					}
					checkBounds(t, calls, want, pageSize)
				})
			}
		}
	}
}

// TestListPageLargeVolume walks 100,000 files, 1,000 at a time.
func TestListPageLargeVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 files")
	}
	const pageSize, want = 500, 1000
	fw := startFake(t, fakeworkspace.WithPageSize(pageSize))
	vol := fakeworkspace.DefaultVolumePath
	start := time.Now()
	n := 0
	for d := range 10 {
		// A file before and after each subdirectory, so that entries
		// follow a subdirectory in the cursor.
		fw.AddGeneratedFile(fmt.Sprintf("%s/big/%d/a", vol, d), 1, 0, "")
		fw.AddGeneratedFile(fmt.Sprintf("%s/big/%d/z", vol, d), 1, 0, "")
		n += 2
		for e := range 10 {
			for f := range 1000 - 2 {
				fw.AddGeneratedFile(fmt.Sprintf("%s/big/%d/%d/%04d.bin", vol, d, e, f), int64(f), 0, "")
				n++
			}
		}
	}
	for i := n; i < 100_000; i++ {
		fw.AddGeneratedFile(fmt.Sprintf("%s/big/top%03d", vol, i), 1, 0, "")
		n++
	}
	t.Logf("%d files added in %s", n, time.Since(start))

	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthDatabricksSP)
	conn.Prefix = "big"
	conn.Timeout = time.Minute
	start = time.Now()
	got, calls := walkPages(t, fw, checker, conn, true, nil, want)
	elapsed := time.Since(start)
	seen := make(map[string]bool, len(got))
	for _, f := range got {
		if seen[f.Key] {
			t.Fatalf("%s listed twice", f.Key)
		}
		seen[f.Key] = true
	}
	if len(got) != 100_000 {
		t.Errorf("%d files listed, want 100000", len(got))
	}
	checkBounds(t, calls, want, pageSize)
	pages, maxCursor := 0, 0
	for i, c := range calls {
		pages += c.dirReqs
		maxCursor = max(maxCursor, c.cursor)
		if c.tokenReq != min(c.dirReqs, 1) {
			t.Errorf("call %d: %d token requests for %d directory requests", i, c.tokenReq, c.dirReqs)
		}
	}
	t.Logf("100,000 files in %d calls, %d directory pages of %d, %s (%s a call); largest cursor %d bytes",
		len(calls), pages, pageSize, elapsed, elapsed/time.Duration(len(calls)), maxCursor)
}

// TestListPageEmptyDirectories: a volume of many empty directories is
// listed in steps of at most PageBudget pages, each with a cursor.
func TestListPageEmptyDirectories(t *testing.T) {
	fw := startFake(t, fakeworkspace.WithPageSize(1))
	vol := fakeworkspace.DefaultVolumePath
	for i := range 100 {
		fw.AddDirectory(fmt.Sprintf("%s/empty/%03d", vol, i))
	}
	fw.AddFile(vol+"/empty/zz.txt", nil)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = "empty"
	got, calls := walkPages(t, fw, checker, conn, true, nil, 10)
	if !slices.Equal(fileKeys(got), []string{"empty/zz.txt"}) {
		t.Errorf("listed %q", fileKeys(got))
	}
	if len(calls) < 201/databricks.PageBudget {
		t.Errorf("%d calls for 201 pages, want steps of at most %d pages", len(calls), databricks.PageBudget)
	}
	checkBounds(t, calls, 10, 1)
}

// TestListPageRequests pins a walk's requests: a call makes the token
// request of its auth type once, then directory listings, each page of a
// directory asked for with the token of the one before, also across
// calls.
func TestListPageRequests(t *testing.T) {
	fw := startTree(t, fakeworkspace.WithPageSize(1))
	vol := fakeworkspace.DefaultVolumePath
	tokenPath := map[storage.AuthType]string{
		storage.AuthDatabricksSP: "/oidc/v1/token",
		storage.AuthAzureADSP:    "/" + fakeworkspace.DefaultAzureTenant + "/oauth2/v2.0/token",
	}
	checker := newChecker(t, testOptions(fw))
	for _, mode := range []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP} {
		t.Run(string(mode), func(t *testing.T) {
			conn := connFor(fw, mode)
			conn.Prefix = ""
			var (
				cursor string
				dirs   []string // the directory of each listing request, all calls
				calls  int
			)
			for {
				fw.ResetRequests()
				page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, cursor, 2)
				if err != nil {
					t.Fatal(err)
				}
				calls++
				reqs := fw.Requests()
				if tp, ok := tokenPath[mode]; ok {
					if len(reqs) == 0 || reqs[0].Path != tp {
						t.Fatalf("call %d: the first request is not the token request: %+v", calls, reqs)
					}
					reqs = reqs[1:]
				}
				for _, r := range reqs {
					if r.Method != http.MethodGet || !strings.HasPrefix(r.Path, dirsAPI) {
						t.Fatalf("call %d: request %s %s", calls, r.Method, r.Path)
					}
					dir := strings.TrimPrefix(r.Path, dirsAPI+vol)
					continuing := slices.Contains(dirs, dir)
					if hasToken := strings.Contains(r.RawQuery, "page_token="); hasToken != continuing {
						t.Errorf("call %d: request for %q with query %q", calls, dir, r.RawQuery)
					}
					dirs = append(dirs, dir)
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			// One request a page, in the order ListFiles asks them: a.txt
			// and images/ of the volume, 2025/ of images, a.jpg and b.png
			// of 2025, cat.jpg and dog.jpg of images, …; none twice.
			want := []string{"", "", "/images", "/images/2025", "/images/2025", "/images", "/images", "", "", "/z", "/z/deep", "/z", "/z/empty"}
			if !slices.Equal(dirs, want) {
				t.Errorf("requests for %q, want %q", dirs, want)
			}
			if calls < 3 {
				t.Errorf("%d calls, want steps of about 2 files", calls)
			}
		})
	}
}

// TestListPageFailures: a step fails as ListFiles does, with the same
// reason and message.
func TestListPageFailures(t *testing.T) {
	for _, tt := range listFailures() {
		t.Run(tt.name, func(t *testing.T) {
			fw := startTree(t)
			opts := testOptions(fw)
			conn := connFor(fw, tt.mode)
			tt.setup(t, fw, &conn, &opts)
			checker := newChecker(t, opts)
			_, listErr := checker.ListFiles(context.Background(), conn, tt.recursive, nil, 100)
			fw.ResetRequests()
			got, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, tt.recursive, nil, "", 100)
			ce := assertReason(t, err, tt.wantReason)
			var listCE *storage.ConnectionError
			if !errors.As(listErr, &listCE) || listCE.Reason != ce.Reason || listCE.Message != ce.Message {
				t.Errorf("ListPage: %v\nListFiles: %v", err, listErr)
			}
			if len(got.Files) != 0 || got.Next != "" {
				t.Errorf("a failed step returned %+v", got)
			}
			if tt.requests >= 0 {
				if n := len(fw.Requests()); n != tt.requests {
					t.Errorf("%d requests, want %d: %+v", n, tt.requests, fw.Requests())
				}
			}
			assertNoSecret(t, err, conn)
		})
	}
}

// TestListPageFailureAfterACursor: a failure in a later step is
// classified as in the first one: the volume removed, a subdirectory
// forbidden.
func TestListPageFailureAfterACursor(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	tests := []struct {
		name   string
		prefix string
		change func(fw *fakeworkspace.Server)
		reason string
	}{
		{"volume removed", "", func(fw *fakeworkspace.Server) { fw.Remove(vol) }, databricks.ReasonVolumeNotFound},
		{"prefix removed", "images", func(fw *fakeworkspace.Server) { fw.Remove(vol + "/images") }, databricks.ReasonPrefixNotFound},
		{"subdirectory forbidden", "", func(fw *fakeworkspace.Server) { fw.SetStatus(vol+"/z/deep", http.StatusForbidden) }, databricks.ReasonCredentialsRefused},
		{"server error", "", func(fw *fakeworkspace.Server) { fw.SetStatus(vol, http.StatusInternalServerError) }, databricks.ReasonWorkspaceError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := startTree(t, fakeworkspace.WithPageSize(1))
			checker := newChecker(t, testOptions(fw))
			conn := connFor(fw, storage.AuthPAT)
			conn.Prefix = tt.prefix
			first, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, "", 1)
			if err != nil || first.Next == "" {
				t.Fatalf("first step: %+v, %v", first, err)
			}
			tt.change(fw)
			cursor := first.Next
			for {
				page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, cursor, 1)
				if err != nil {
					assertReason(t, err, tt.reason)
					return
				}
				if cursor = page.Next; cursor == "" {
					t.Fatal("the walk ended without an error")
				}
			}
		})
	}
}

// TestListPageVanishedSubdirectory: a subdirectory removed between steps,
// while being walked or before it is entered, is skipped.
func TestListPageVanishedSubdirectory(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	tests := []struct {
		name   string
		after  string // the file after whose step the subdirectory goes
		remove string
		want   []string
	}{
		{"while walked", "images/2025/a.jpg", "/images/2025",
			[]string{"a.txt", "images/2025/a.jpg", "images/cat.jpg", "images/dog.jpg", "readme.txt", "z/deep/x.txt"}},
		{"before entered", "a.txt", "/z/deep",
			[]string{"a.txt", "images/2025/a.jpg", "images/2025/b.png", "images/cat.jpg", "images/dog.jpg", "readme.txt"}},
		{"its parent too", "images/2025/a.jpg", "/images",
			[]string{"a.txt", "images/2025/a.jpg", "readme.txt", "z/deep/x.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := startTree(t, fakeworkspace.WithPageSize(1))
			checker := newChecker(t, testOptions(fw))
			conn := connFor(fw, storage.AuthPAT)
			conn.Prefix = ""
			var got []string
			cursor, removed := "", false
			for {
				page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, cursor, 1)
				if err != nil {
					t.Fatalf("ListPage: %v", err)
				}
				got = append(got, fileKeys(page.Files)...)
				if !removed && slices.Contains(got, tt.after) {
					fw.Remove(vol + tt.remove)
					removed = true
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("listed %q, want %q", got, tt.want)
			}
		})
	}
}

// TestListPageTimeBudget: once a page was read, running out of time ends
// the step with what it found and a cursor after the last page read; the
// next steps list the rest.
func TestListPageTimeBudget(t *testing.T) {
	fw := startTree(t)
	vol := fakeworkspace.DefaultVolumePath
	fw.SetPathDelay(vol+"/images/2025", time.Minute)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = ""
	warmUp(t, checker, conn)
	conn.Timeout = time.Second
	start := time.Now()
	page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, "", 100)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("ListPage: %v", err)
	}
	if !slices.Equal(fileKeys(page.Files), []string{"a.txt"}) || page.Next == "" {
		t.Errorf("ListPage = %q next %q, want a.txt and a cursor", fileKeys(page.Files), page.Next)
	}
	if elapsed > conn.Timeout+time.Second {
		t.Errorf("the step took %s with a %s budget", elapsed, conn.Timeout)
	}
	fw.SetPathDelay(vol+"/images/2025", 0)
	rest, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, page.Next, 100)
	if err != nil || rest.Next != "" || !slices.Equal(fileKeys(rest.Files), allFiles[1:]) {
		t.Errorf("next step = %q next %q, %v; want %q", fileKeys(rest.Files), rest.Next, err, allFiles[1:])
	}

	// Before any answer, nothing is known: a timeout is an error.
	fw.SetDelay(3 * time.Second)
	conn.Timeout = 200 * time.Millisecond
	_, err = (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, page.Next, 100)
	assertReason(t, err, databricks.ReasonTimedOut)
}

// makeCursor encodes a cursor as ListPage documents it.
func makeCursor(t *testing.T, jsonText string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(jsonText))
	return base64.RawURLEncoding.EncodeToString([]byte(jsonText)) + "." + base64.RawURLEncoding.EncodeToString(sum[:8])
}

// TestListPageInvalidCursor: a cursor ListPage did not make for this
// listing fails before any request.
func TestListPageInvalidCursor(t *testing.T) {
	fw := startTree(t, fakeworkspace.WithPageSize(1))
	vol := fakeworkspace.DefaultVolumePath
	for _, f := range []string{"a/b.txt", "a/c.txt", "z.txt"} {
		fw.AddFile("/Volumes/main/default/other/"+f, nil)
	}
	fw.AddFile(vol+"/images/2025/c/d.txt", nil)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = "images"

	// Valid cursors of other listings.
	stepOf := func(c storage.Connection, recursive bool, want int) string {
		t.Helper()
		var cursor string
		for range 20 {
			page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), c, recursive, nil, cursor, want)
			if err != nil || page.Next == "" {
				t.Fatalf("ListPage: %+v, %v", page, err)
			}
			cursor = page.Next
			if !recursive || strings.Contains(mustInflate(t, cursor), `"name"`) {
				return cursor
			}
		}
		t.Fatal("no cursor inside a subdirectory")
		return ""
	}
	other := conn
	other.Volume, other.Prefix = "other", ""
	volumeRoot := conn
	volumeRoot.Prefix = ""
	own := stepOf(conn, true, 1)

	tests := []struct {
		name      string
		cursor    string
		recursive bool
	}{
		{"not base64", "not base64!", true},
		{"no checksum", base64.RawURLEncoding.EncodeToString([]byte("hello")), true},
		{"a wrong checksum", base64.RawURLEncoding.EncodeToString([]byte(`{"v":1}`)) + ".AAAAAAAAAAA", true},
		{"truncated", own[:len(own)/2], true},
		{"a character changed", own[:len(own)/2] + string(rune('A'+(own[len(own)/2]+1-'A')%26)) + own[len(own)/2+1:], true},
		{"too long", strings.Repeat("A", core.MaxCursorBytes+1), true},
		{"not json", makeCursor(t, `hello`), true},
		{"unknown field", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{}],"x":1}`), true},
		{"trailing data", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{}]} {}`), true},
		{"unknown version", makeCursor(t, `{"v":2,"dir":"`+vol+`/images","stack":[{}]}`), true},
		{"no directory", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[]}`), true},
		{"another volume", stepOf(other, true, 1), true},
		{"the volume, not the prefix", stepOf(volumeRoot, true, 1), true},
		{"another directory written in", makeCursor(t, `{"v":1,"dir":"/Volumes/main/default/other","stack":[{}]}`), true},
		{"root with a name", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"name":"x"}]}`), true},
		{"a directory going up", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{},{"name":".."}]}`), true},
		{"a directory with a slash", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{},{"name":"../../other"}]}`), true},
		{"an entry going up", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"rest":[{"n":"..","d":true}]}]}`), true},
		{"an entry with a slash", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"rest":[{"n":"a/b"}]}]}`), true},
		{"an empty entry name", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"rest":[{"n":""}]}]}`), true},
		{"a negative size", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"rest":[{"n":"a","s":-1}]}]}`), true},
		{"done and continued", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"token":"x","done":true}]}`), true},
		{"recursive cursor, listing not", own, false},
		{"a subdirectory entry, listing not recursive", makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"rest":[{"n":"a","d":true}]}]}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw.ResetRequests()
			page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, tt.recursive, nil, tt.cursor, 10)
			var ce *storage.ConnectionError
			if !errors.Is(err, databricks.ErrInvalidCursor) || errors.As(err, &ce) {
				t.Fatalf("ListPage = %+v, %v; want ErrInvalidCursor", page, err)
			}
			t.Log(err)
			if n := len(fw.Requests()); n != 0 {
				t.Errorf("%d requests for an invalid cursor", n)
			}
		})
	}

	// The cursor is valid JSON: a cursor made by hand as documented works.
	page, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil,
		makeCursor(t, `{"v":1,"dir":"`+vol+`/images","stack":[{"done":true,"rest":[{"n":"x.txt","s":3,"m":1}]},{"name":"2025","done":true}]}`), 10)
	if err != nil || page.Next != "" || !slices.Equal(fileKeys(page.Files), []string{"images/x.txt"}) {
		t.Errorf("ListPage of a hand-made cursor = %q %q, %v", fileKeys(page.Files), page.Next, err)
	}
}

func mustInflate(t *testing.T, cursor string) string {
	t.Helper()
	body, _, _ := strings.Cut(cursor, ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestListPageCursorTooLarge: entries that follow a subdirectory travel in
// the cursor; when they cannot fit in core.MaxCursorBytes within
// PageBudgetHard pages, the step fails with a clear error.
func TestListPageCursorTooLarge(t *testing.T) {
	const pageSize = 300
	fw := startFake(t, fakeworkspace.WithPageSize(pageSize))
	vol := fakeworkspace.DefaultVolumePath
	// Long names that deflate poorly: 300 of them take some 75 KB.
	name := func(i int) string {
		var b strings.Builder
		x := uint64(i)*0x9E3779B97F4A7C15 + 1
		for b.Len() < 900 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b.WriteByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[x%62])
		}
		return b.String()
	}
	for i := range pageSize - 1 {
		fw.AddGeneratedFile(vol+"/wide/b"+name(i), 1, 0, "")
	}
	// a/ comes first, with more pages (of empty subdirectories) than a
	// step may read.
	subdirs := func(n int) {
		fw.Remove(vol + "/wide/a")
		for i := range n {
			fw.AddDirectory(fmt.Sprintf("%s/wide/a/%03d", vol, i))
		}
	}
	subdirs(databricks.PageBudgetHard)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = "wide"
	fw.ResetRequests()
	_, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), conn, true, nil, "", 10)
	if !errors.Is(err, databricks.ErrCursorTooLarge) {
		t.Fatalf("ListPage: %v, want ErrCursorTooLarge", err)
	}
	t.Log(err)
	if n := len(fw.Requests()); n > databricks.PageBudgetHard {
		t.Errorf("%d requests, want at most %d", n, databricks.PageBudgetHard)
	}

	// With fewer subdirectories in a/, the step goes on past its budget to
	// where its cursor fits: the end.
	subdirs(databricks.PageBudget + 10)
	got, calls := walkPages(t, fw, checker, conn, true, nil, 10)
	if len(got) != pageSize-1 || len(calls) != 1 || calls[0].dirReqs <= databricks.PageBudget {
		t.Errorf("%d files in %+v, want %d in one step past its page budget", len(got), calls, pageSize-1)
	}
}

func TestListPageInvalidWant(t *testing.T) {
	fw := startTree(t)
	checker := newChecker(t, testOptions(fw))
	for _, want := range []int{0, -1} {
		_, err := (databricks.Volume{Checker: checker}).ListPage(context.Background(), connFor(fw, storage.AuthPAT), true, nil, "", want)
		var ce *storage.ConnectionError
		if err == nil || errors.As(err, &ce) {
			t.Errorf("want %d: err = %v, want a plain error", want, err)
		}
	}
	if n := len(fw.Requests()); n != 0 {
		t.Errorf("%d requests for invalid arguments", n)
	}
}
