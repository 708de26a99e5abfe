package databricks_test

import (
	"context"
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
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

var (
	_ core.FileLister        = (*databricks.Checker)(nil)
	_ core.ConnectionChecker = (*databricks.Checker)(nil)
)

// modified is the modification time of the files listTree adds.
var modified = time.Date(2025, 6, 7, 8, 9, 10, 123_000_000, time.UTC)

// listTree adds to the Default volume, which holds images/cat.jpg and
// readme.txt:
//
//	a.txt
//	images/2025/a.jpg
//	images/2025/b.png
//	images/cat.jpg
//	images/dog.jpg
//	readme.txt
//	z/deep/x.txt
//	z/empty/
//
// in the order the fake lists them, depth first.
func listTree(fw *fakeworkspace.Server) {
	vol := fakeworkspace.DefaultVolumePath
	fw.AddFileAt(vol+"/a.txt", []byte("hello"), modified)
	fw.AddFileAt(vol+"/images/2025/a.jpg", []byte("jpeg"), modified)
	fw.AddFileAt(vol+"/images/2025/b.png", nil, modified)
	fw.AddFileAt(vol+"/images/dog.jpg", []byte("dog"), modified)
	fw.AddFileAt(vol+"/z/deep/x.txt", []byte("x"), modified)
	fw.AddDirectory(vol + "/z/empty")
}

// allFiles is every file of listTree, in listing order.
var allFiles = []string{"a.txt", "images/2025/a.jpg", "images/2025/b.png", "images/cat.jpg", "images/dog.jpg", "readme.txt", "z/deep/x.txt"}

func startTree(t *testing.T, opts ...fakeworkspace.Option) *fakeworkspace.Server {
	t.Helper()
	fw := startFake(t, opts...)
	listTree(fw)
	return fw
}

func keys(l storage.FileListing) []string {
	out := make([]string, len(l.Files))
	for i, f := range l.Files {
		out[i] = f.Key
	}
	return out
}

func TestListFiles(t *testing.T) {
	tests := []struct {
		name      string
		prefix    string
		recursive bool
		filter    string // "" : none
		limit     int
		want      []string
		wantLimit bool
	}{
		{"volume, not recursive", "", false, "", 100, []string{"a.txt", "readme.txt"}, false},
		{"volume, recursive", "", true, "", 100, allFiles, false},
		{"prefix, not recursive", "images", false, "", 100, []string{"images/cat.jpg", "images/dog.jpg"}, false},
		{"prefix, recursive", "images", true, "", 100, []string{"images/2025/a.jpg", "images/2025/b.png", "images/cat.jpg", "images/dog.jpg"}, false},
		{"prefix with slashes", "/images/", false, "", 100, []string{"images/cat.jpg", "images/dog.jpg"}, false},
		{"nested prefix", "images/2025", true, "", 100, []string{"images/2025/a.jpg", "images/2025/b.png"}, false},
		{"directory without files", "z/empty", true, "", 100, []string{}, false},
		{"directories only, not recursive", "z", false, "", 100, []string{}, false},

		{"filter on the whole key", "", true, `.*\.jpg`, 100, []string{"images/2025/a.jpg", "images/cat.jpg", "images/dog.jpg"}, false},
		{"filter anchored at the start", "", true, `jpg`, 100, []string{}, false},
		{"filter not at the start", "", true, `cat`, 100, []string{}, false},
		{"filter as a key prefix", "", true, `images/c`, 100, []string{"images/cat.jpg"}, false},
		{"filter includes the prefix", "images", true, `2025/`, 100, []string{}, false},
		{"filter with the prefix", "images", true, `images/2025/`, 100, []string{"images/2025/a.jpg", "images/2025/b.png"}, false},
		// The leftmost match of "a" in images/cat.jpg is at 2, but the
		// second alternative matches at 0: re.match keeps it.
		{"alternation matching at the start", "", true, `a|images/c`, 100, []string{"a.txt", "images/cat.jpg"}, false},
		{"filter with flags", "", true, `(?i)README`, 100, []string{"readme.txt"}, false},
		{"filter matching a directory only", "", true, `z/empty`, 100, []string{}, false},
		{"filter not at the end", "", false, `a`, 100, []string{"a.txt"}, false},

		{"limit exactly reached", "", true, "", len(allFiles), allFiles, false},
		{"limit with more remaining", "", true, "", len(allFiles) - 1, allFiles[:len(allFiles)-1], true},
		{"limit of one, more remaining", "", true, "", 1, []string{"a.txt"}, true},
		{"limit exactly reached by the filter", "", true, `.*\.jpg`, 3, []string{"images/2025/a.jpg", "images/cat.jpg", "images/dog.jpg"}, false},
		{"filter and more remaining", "", true, `.*\.jpg`, 2, []string{"images/2025/a.jpg", "images/cat.jpg"}, true},
		{"limit counts files, not directories", "z", true, "", 1, []string{"z/deep/x.txt"}, false},
		{"non-matching files do not reach the limit", "", false, `r`, 1, []string{"readme.txt"}, false},
	}
	for _, pageSize := range []int{1, 2, fakeworkspace.MaxPageSize} {
		fw := startTree(t, fakeworkspace.WithPageSize(pageSize))
		checker := newChecker(t, testOptions(fw))
		for _, tt := range tests {
			t.Run(fmt.Sprintf("page size %d/%s", pageSize, tt.name), func(t *testing.T) {
				conn := connFor(fw, storage.AuthPAT)
				conn.Prefix = tt.prefix
				var filter *regexp.Regexp
				if tt.filter != "" {
					filter = regexp.MustCompile(tt.filter)
				}
				got, err := checker.ListFiles(context.Background(), conn, tt.recursive, filter, tt.limit)
				if err != nil {
					t.Fatalf("ListFiles: %v", err)
				}
				if !slices.Equal(keys(got), tt.want) || got.LimitReached != tt.wantLimit || got.TimedOut {
					t.Errorf("ListFiles = %q limit reached %v timed out %v, want %q limit reached %v",
						keys(got), got.LimitReached, got.TimedOut, tt.want, tt.wantLimit)
				}
			})
		}
	}
}

func TestListFilesEntries(t *testing.T) {
	fw := startTree(t)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = ""
	got, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{"a.txt": 5, "images/2025/a.jpg": 4, "images/2025/b.png": 0, "images/dog.jpg": 3, "z/deep/x.txt": 1}
	for _, f := range got.Files {
		if f.Size == nil || f.LastModified == nil {
			t.Errorf("%s: size %v, last modified %v", f.Key, f.Size, f.LastModified)
			continue
		}
		if f.LastModified.Location() != time.UTC {
			t.Errorf("%s: last modified in %s, want UTC", f.Key, f.LastModified.Location())
		}
		want, ok := sizes[f.Key]
		if !ok {
			continue // a file of Default, modified now
		}
		if *f.Size != want || !f.LastModified.Equal(modified) {
			t.Errorf("%s: size %d, last modified %s, want %d and %s", f.Key, *f.Size, f.LastModified, want, modified)
		}
	}
}

// TestListFilesPagination pins the requests of a listing: every page of a
// directory is asked for with the token of the one before, and the
// listing stops asking once it has found what it needs.
func TestListFilesPagination(t *testing.T) {
	fw := startTree(t, fakeworkspace.WithPageSize(1))
	checker := newChecker(t, testOptions(fw))
	vol := fakeworkspace.DefaultVolumePath
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = ""

	tests := []struct {
		recursive bool
		limit     int
		want      []string // the directory of each request; a token on each request for the one before
	}{
		// a.txt, images/, readme.txt, z/: one page each, and the last ends
		// the listing (it has no next_page_token).
		{false, 100, []string{"", "", "", ""}},
		// a.txt, then images/ and its 2025/ are entered to find a second
		// file, which reaches the limit.
		{true, 1, []string{"", "", "/images", "/images/2025"}},
	}
	for _, tt := range tests {
		fw.ResetRequests()
		if _, err := checker.ListFiles(context.Background(), conn, tt.recursive, nil, tt.limit); err != nil {
			t.Fatal(err)
		}
		reqs := fw.Requests()
		var got []string
		for i, r := range reqs {
			got = append(got, strings.TrimPrefix(r.Path, dirsAPI+vol))
			if r.Method != http.MethodGet {
				t.Errorf("request %d is a %s", i, r.Method)
			}
			continuing := i > 0 && got[i] == got[i-1]
			if hasToken := strings.Contains(r.RawQuery, "page_token="); hasToken != continuing {
				t.Errorf("request %d for %q: query %q", i, got[i], r.RawQuery)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("recursive %v limit %d: requests for %q, want %q", tt.recursive, tt.limit, got, tt.want)
		}
	}
}

// TestListFilesAuthModes lists with each auth mode and verify_tls setting:
// the same files, through the same token request as the check.
func TestListFilesAuthModes(t *testing.T) {
	fw := startTree(t, fakeworkspace.WithPageSize(2))
	untrusted := databricks.Options{Guard: hostguard.Policy{AllowPrivate: true}, AzureAuthority: fw.URL()}
	want := []string{"images/2025/a.jpg", "images/2025/b.png", "images/cat.jpg", "images/dog.jpg"}
	tokenPath := map[storage.AuthType]string{
		storage.AuthDatabricksSP: "/oidc/v1/token",
		storage.AuthAzureADSP:    "/" + fakeworkspace.DefaultAzureTenant + "/oauth2/v2.0/token",
	}
	bearer := map[storage.AuthType]string{
		storage.AuthPAT:          fakeworkspace.DefaultPAT,
		storage.AuthDatabricksSP: fw.AddServicePrincipal(fakeworkspace.DefaultSPClientID, fakeworkspace.DefaultSPClientSecret),
		storage.AuthAzureADSP:    fw.AddAzureApp(fakeworkspace.DefaultAzureTenant, fakeworkspace.DefaultAzureClientID, fakeworkspace.DefaultAzureClientSecret),
	}
	for _, mode := range []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP} {
		for _, verify := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/verify_tls=%v", mode, verify), func(t *testing.T) {
				opts := testOptions(fw)
				if !verify && mode != storage.AuthAzureADSP { // the authority is always verified
					opts = untrusted
				}
				checker := newChecker(t, opts)
				conn := connFor(fw, mode)
				conn.VerifyTLS = verify
				fw.ResetRequests()
				got, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
				if err != nil {
					t.Fatalf("ListFiles: %v", err)
				}
				if !slices.Equal(keys(got), want) || got.LimitReached || got.TimedOut {
					t.Errorf("ListFiles = %+v, want %q", got, want)
				}
				reqs := fw.Requests()
				if tp, ok := tokenPath[mode]; ok {
					if len(reqs) == 0 || reqs[0].Path != tp {
						t.Fatalf("the first request is not the token request: %+v", reqs)
					}
					reqs = reqs[1:]
				}
				for _, r := range reqs {
					if r.Path == tokenPath[mode] {
						t.Errorf("a second token request: the token is fetched once a listing")
					}
					if !strings.HasPrefix(r.Path, dirsAPI) || r.Authorization != "Bearer "+bearer[mode] {
						t.Errorf("request %s %s with %q", r.Method, r.Path, r.Authorization)
					}
				}
			})
		}
	}
	checker := newChecker(t, untrusted)
	_, err := checker.ListFiles(context.Background(), connFor(fw, storage.AuthPAT), true, nil, 100)
	assertReason(t, err, databricks.ReasonTLSVerificationFailed)
}

// TestListFilesFailures: a listing fails as the check does, with the same
// reason, when the first listing of the directory fails; later failures
// fail it too, but for timeouts and for subdirectories that vanished.
func TestListFilesFailures(t *testing.T) {
	for _, tt := range listFailures() {
		t.Run(tt.name, func(t *testing.T) {
			fw := startTree(t)
			opts := testOptions(fw)
			conn := connFor(fw, tt.mode)
			tt.setup(t, fw, &conn, &opts)
			checker := newChecker(t, opts)

			start := time.Now()
			got, err := checker.ListFiles(context.Background(), conn, tt.recursive, nil, 100)
			elapsed := time.Since(start)
			ce := assertReason(t, err, tt.wantReason)
			t.Logf("%s: %s [Err: %v]", ce.Reason, ce.Message, ce.Err)
			if len(got.Files) != 0 || got.TimedOut || got.LimitReached {
				t.Errorf("a failed listing returned %+v", got)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(ce.Message, s) {
					t.Errorf("message %q does not contain %q", ce.Message, s)
				}
			}
			if !strings.HasSuffix(ce.Message, ".") {
				t.Errorf("message %q is not a sentence", ce.Message)
			}
			if tt.requests >= 0 {
				if n := len(fw.Requests()); n != tt.requests {
					t.Errorf("%d requests, want %d: %+v", n, tt.requests, fw.Requests())
				}
			}
			if tt.wantReason == databricks.ReasonTimedOut && elapsed > 2*time.Second {
				t.Errorf("the listing took %s, beyond its %s timeout", elapsed, conn.Timeout)
			}
			assertNoSecret(t, err, conn)

			// The messages can differ: a listing's GET has an answer body,
			// with an error code, where the check's HEAD has none.
			checkErr := checker.CheckConnection(context.Background(), conn)
			if tt.checkToo {
				assertReason(t, checkErr, tt.wantReason)
			} else if checkErr != nil {
				t.Errorf("CheckConnection: %v", checkErr)
			}
		})
	}
}

// listFailure is a way a listing fails.
type listFailure struct {
	failureCase
	recursive bool
	// checkToo: the check fails with the same reason.
	checkToo bool
}

// listFailures are the ways a listing of the listTree volume fails, those
// of ListFiles and of ListPage alike.
func listFailures() []listFailure {
	vol := fakeworkspace.DefaultVolumePath
	return []listFailure{
		{failureCase{"pat refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Secrets.Token = "dapi-WRONG-secret-123"
		}, storage.AuthPAT, databricks.ReasonCredentialsRefused, []string{"personal access token", "HTTP 401"}, 1}, false, true},
		{failureCase{"sp secret refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Secrets.ClientSecret = "sp-WRONG-secret/+=&%"
		}, storage.AuthDatabricksSP, databricks.ReasonCredentialsRefused, []string{"invalid_client"}, 1}, false, true},
		{failureCase{"azure secret refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Secrets.ClientSecret = "azure-WRONG-secret~~"
		}, storage.AuthAzureADSP, databricks.ReasonCredentialsRefused, []string{"AADSTS7000215"}, 1}, false, true},
		{failureCase{"sp token not accepted by the files api", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images", http.StatusUnauthorized)
		}, storage.AuthDatabricksSP, databricks.ReasonCredentialsRefused, []string{"OAuth token", "HTTP 401"}, 2}, false, true},
		{failureCase{"volume not found", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Volume, c.Prefix = "missing", ""
		}, storage.AuthPAT, databricks.ReasonVolumeNotFound, []string{"/Volumes/main/default/missing"}, 1}, true, true},
		{failureCase{"volume not found under prefix", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Volume = "missing"
		}, storage.AuthPAT, databricks.ReasonVolumeNotFound, []string{"/Volumes/main/default/missing"}, 2}, true, true},
		{failureCase{"prefix not found", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Prefix = "videos/2024"
		}, storage.AuthPAT, databricks.ReasonPrefixNotFound, []string{`"videos/2024"`}, 3}, true, true},
		{failureCase{"prefix is a file", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Prefix = fakeworkspace.DefaultFile
		}, storage.AuthPAT, databricks.ReasonNotADirectory, []string{"is a file"}, 3}, false, true},
		{failureCase{"permission denied", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images", http.StatusForbidden)
		}, storage.AuthPAT, databricks.ReasonCredentialsRefused, []string{"HTTP 403", "READ VOLUME"}, 1}, true, true},
		{failureCase{"server error", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images", http.StatusInternalServerError)
		}, storage.AuthPAT, databricks.ReasonWorkspaceError, []string{"HTTP 500"}, 1}, true, true},
		{failureCase{"guard blocks loopback", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			o.Guard = hostguard.Policy{}
		}, storage.AuthPAT, databricks.ReasonHostNotAllowed, []string{"loopback"}, 0}, false, true},
		{failureCase{"redirect", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Host = redirector(t, http.StatusTemporaryRedirect, fw.URL()).URL
		}, storage.AuthPAT, databricks.ReasonRedirected, []string{"HTTP 307"}, 0}, false, true},
		{failureCase{"timeout before the first answer", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetDelay(3 * time.Second)
			c.Timeout = 200 * time.Millisecond
		}, storage.AuthPAT, databricks.ReasonTimedOut, []string{"200ms", "request_timeout_s"}, -1}, true, true},
		{failureCase{"timeout at the token endpoint", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetDelay(3 * time.Second)
			c.Timeout = 200 * time.Millisecond
		}, storage.AuthDatabricksSP, databricks.ReasonTimedOut, []string{"did not answer"}, -1}, true, true},
		{failureCase{"connection refused", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			c.Host = "https://" + closedAddr(t)
		}, storage.AuthPAT, databricks.ReasonWorkspaceUnreachable, []string{"refused the connection"}, 0}, false, true},

		// Failures after the directory answered: the check passes.
		{failureCase{"subdirectory forbidden", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images/2025", http.StatusForbidden)
		}, storage.AuthPAT, databricks.ReasonCredentialsRefused, []string{"HTTP 403", "a subdirectory of " + vol + "/images"}, 2}, true, false},
		{failureCase{"subdirectory server error", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images/2025", http.StatusServiceUnavailable)
		}, storage.AuthPAT, databricks.ReasonWorkspaceError, []string{"HTTP 503", "a subdirectory of " + vol + "/images"}, 2}, true, false},
		{failureCase{"subdirectory redirects", func(t *testing.T, fw *fakeworkspace.Server, c *storage.Connection, o *databricks.Options) {
			fw.SetStatus(vol+"/images/2025", http.StatusFound)
		}, storage.AuthPAT, databricks.ReasonRedirected, []string{"HTTP 302"}, 2}, true, false},
	}
}

// TestListFilesSubdirectoryNamesStayOut: the name of a subdirectory that
// fails is the workspace's text, so no error names it.
func TestListFilesSubdirectoryNamesStayOut(t *testing.T) {
	fw := startTree(t)
	vol := fakeworkspace.DefaultVolumePath
	const odd = "NAME-CHOSEN-BY-THE-WORKSPACE"
	fw.AddFile(vol+"/images/"+odd+"/f", nil)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	for _, status := range []int{http.StatusForbidden, http.StatusInternalServerError, http.StatusTemporaryRedirect} {
		fw.SetStatus(vol+"/images/"+odd, status)
		_, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
		var ce *storage.ConnectionError
		if !errors.As(err, &ce) {
			t.Fatalf("status %d: err = %v", status, err)
		}
		if all := fmt.Sprintf("%s %v %+v", ce.Message, ce.Err, ce.Err); strings.Contains(all, odd) {
			t.Errorf("status %d: the error names the subdirectory: %s", status, all)
		} else if !strings.Contains(fmt.Sprint(ce.Err), vol+"/images/…") {
			t.Errorf("status %d: Err %v does not name the listed directory", status, ce.Err)
		}
	}
}

// TestListFilesVanishedSubdirectory: a subdirectory that answers 404 was
// removed since its parent was listed, and holds no files.
func TestListFilesVanishedSubdirectory(t *testing.T) {
	fw := startTree(t)
	fw.SetStatus(fakeworkspace.DefaultVolumePath+"/images/2025", http.StatusNotFound)
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = ""
	got, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
	want := []string{"a.txt", "images/cat.jpg", "images/dog.jpg", "readme.txt", "z/deep/x.txt"}
	if err != nil || !slices.Equal(keys(got), want) {
		t.Errorf("ListFiles = %q, %v; want %q", keys(got), err, want)
	}
}

// TestListFilesTimeBudget: once the directory answered, running out of
// time ends the listing with what it found, TimedOut and no error.
func TestListFilesTimeBudget(t *testing.T) {
	vol := fakeworkspace.DefaultVolumePath
	tests := []struct {
		name   string
		slow   string // the directory that never answers in time
		filter string
		limit  int
		want   []string
	}{
		{"the last subdirectory hangs", "/z/deep", "", 100, allFiles[:len(allFiles)-1]},
		{"the first subdirectory hangs", "/images", "", 100, []string{"a.txt"}},
		{"nothing matched yet", "/images", `images/`, 100, []string{}},
		// The limit is reached, but whether one more file follows is unknown.
		{"the look for one more file hangs", "/images/2025", "", 1, []string{"a.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fw := startTree(t)
			fw.SetPathDelay(vol+tt.slow, time.Minute)
			checker := newChecker(t, testOptions(fw))
			conn := connFor(fw, storage.AuthPAT)
			conn.Prefix = ""
			warmUp(t, checker, conn)
			conn.Timeout = time.Second
			var filter *regexp.Regexp
			if tt.filter != "" {
				filter = regexp.MustCompile(tt.filter)
			}
			start := time.Now()
			got, err := checker.ListFiles(context.Background(), conn, true, filter, tt.limit)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("ListFiles: %v", err)
			}
			if !got.TimedOut || got.LimitReached || !slices.Equal(keys(got), tt.want) {
				t.Errorf("ListFiles = %q timed out %v limit reached %v, want %q timed out", keys(got), got.TimedOut, got.LimitReached, tt.want)
			}
			if elapsed < conn.Timeout || elapsed > conn.Timeout+time.Second {
				t.Errorf("the listing took %s with a %s budget", elapsed, conn.Timeout)
			}
		})
	}

	// Every answer slow: some pages come in before the budget runs out.
	t.Run("slow pages", func(t *testing.T) {
		t.Parallel()
		fw := startTree(t, fakeworkspace.WithPageSize(1))
		fw.SetDelay(200 * time.Millisecond) // some 13 pages: 2.6 s
		checker := newChecker(t, testOptions(fw))
		conn := connFor(fw, storage.AuthPAT)
		conn.Prefix = ""
		warmUp(t, checker, conn)
		conn.Timeout = 1500 * time.Millisecond
		got, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
		if err != nil {
			t.Fatalf("ListFiles: %v", err)
		}
		n := len(got.Files)
		if !got.TimedOut || n == 0 || n >= len(allFiles) || !slices.Equal(keys(got), allFiles[:n]) {
			t.Errorf("ListFiles = %q timed out %v, want a beginning of %q, timed out", keys(got), got.TimedOut, allFiles)
		}
	})
}

// warmUp opens a connection to conn's workspace with a check, so that the
// first listing request of a test with a tight budget costs no handshake.
func warmUp(t *testing.T, checker *databricks.Checker, conn storage.Connection) {
	t.Helper()
	conn.Timeout = time.Minute
	if err := checker.CheckConnection(context.Background(), conn); err != nil {
		t.Fatalf("CheckConnection: %v", err)
	}
}

// TestListFilesRateLimitAtTheDeadline: the SDK's rate limiter (100
// requests a second after a burst of 100) refuses to wait for a request the
// deadline would cut short, with an error of its own; that is the budget
// running out too.
func TestListFilesRateLimitAtTheDeadline(t *testing.T) {
	fw := startFake(t, fakeworkspace.WithPageSize(1))
	const n = 400
	for i := range n {
		fw.AddFile(fmt.Sprintf("%s/many/%03d", fakeworkspace.DefaultVolumePath, i), nil)
	}
	checker := newChecker(t, testOptions(fw))
	conn := connFor(fw, storage.AuthPAT)
	conn.Prefix = "many"
	warmUp(t, checker, conn)
	conn.Timeout = time.Second
	got, err := checker.ListFiles(context.Background(), conn, false, nil, 1000)
	if err != nil {
		t.Fatalf("ListFiles: %v", err)
	}
	if !got.TimedOut || len(got.Files) == 0 || len(got.Files) >= n || got.Files[len(got.Files)-1].Key != fmt.Sprintf("many/%03d", len(got.Files)-1) {
		t.Errorf("ListFiles: %d files, timed out %v; want some, in order, and timed out", len(got.Files), got.TimedOut)
	}
}

func TestListFilesCancelledContextIsNotAConnectionError(t *testing.T) {
	for _, slow := range []string{"", "/images/2025"} { // before and after the first answer
		fw := startTree(t)
		if slow == "" {
			fw.SetDelay(2 * time.Second)
		} else {
			fw.SetPathDelay(fakeworkspace.DefaultVolumePath+slow, 2*time.Second)
		}
		checker := newChecker(t, testOptions(fw))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		conn := connFor(fw, storage.AuthPAT)
		conn.Prefix = ""
		_, err := checker.ListFiles(ctx, conn, true, nil, 100)
		var ce *storage.ConnectionError
		if err == nil || errors.As(err, &ce) || !errors.Is(err, context.Canceled) {
			t.Errorf("slow %q: err = %v, want a plain error wrapping context.Canceled", slow, err)
		}
	}
}

func TestListFilesInvalidArgumentsArePlainErrors(t *testing.T) {
	fw := startTree(t)
	checker := newChecker(t, testOptions(fw))
	tests := []struct {
		mutate func(*storage.Connection)
		limit  int
	}{
		{func(c *storage.Connection) { c.Host = "http://" + strings.TrimPrefix(c.Host, "https://") }, 10},
		{func(c *storage.Connection) { c.Prefix = "a/../../b" }, 10},
		{func(c *storage.Connection) { c.AuthType = "basic" }, 10},
		{func(c *storage.Connection) {}, 0},
		{func(c *storage.Connection) {}, -1},
	}
	for i, tt := range tests {
		conn := connFor(fw, storage.AuthPAT)
		tt.mutate(&conn)
		_, err := checker.ListFiles(context.Background(), conn, true, nil, tt.limit)
		var ce *storage.ConnectionError
		if err == nil || errors.As(err, &ce) {
			t.Errorf("case %d: err = %v, want a plain error", i, err)
		}
	}
	if n := len(fw.Requests()); n != 0 {
		t.Errorf("%d requests for invalid arguments", n)
	}
}

func TestConcurrentListings(t *testing.T) {
	fw := startTree(t, fakeworkspace.WithPageSize(2))
	checker := newChecker(t, testOptions(fw))
	modes := []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP}
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			conn := connFor(fw, modes[i%3])
			conn.Prefix = ""
			conn.Timeout = time.Minute // not about time: the machine may be slow
			got, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
			if err == nil && !slices.Equal(keys(got), allFiles) {
				err = fmt.Errorf("listed %q", keys(got))
			}
			errs <- err
		}()
	}
	for range 30 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
