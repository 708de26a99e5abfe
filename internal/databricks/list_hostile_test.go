package databricks_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// TestHostileServersCannotEchoSecretsIntoListings is
// TestHostileServersCannotEchoSecrets for ListFiles, whose GET, unlike the
// check's HEAD, reads an answer body.
func TestHostileServersCannotEchoSecretsIntoListings(t *testing.T) {
	behaviors := []string{"json", "code", "status", "ok-error", "not-json", "garbage", "wrong-type", "bad-gzip", "malformed", "redirect"}
	modes := []storage.AuthType{storage.AuthPAT, storage.AuthDatabricksSP, storage.AuthAzureADSP}
	for _, behavior := range behaviors {
		for _, mode := range modes {
			t.Run(behavior+"/"+string(mode), func(t *testing.T) {
				e, checker, conn, secret := hostileTarget(t, behavior, mode)

				got, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
				if !e.sawSecret(secret) {
					t.Fatalf("the echo server never received the secret; err = %v", err)
				}
				t.Logf("listing %+v, err %v", got, err)
				if err == nil && mode == storage.AuthPAT && behavior == "ok-error" {
					// A 200 whose JSON has no contents: an empty directory.
					if len(got.Files) != 0 {
						t.Errorf("files from an error: %+v", got)
					}
					return
				}
				var ce *storage.ConnectionError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v (%T), want a *storage.ConnectionError", err, err)
				}
				t.Logf("%s: %s [Err: %v]", ce.Reason, ce.Message, ce.Err)
				if !strings.HasSuffix(ce.Message, ".") {
					t.Errorf("message %q is not a sentence", ce.Message)
				}
				if strings.Contains(ce.Message, "example.invalid") || strings.Contains(fmt.Sprintf("%+v", ce.Err), "example.invalid") {
					t.Errorf("a redirect host holding the secret was reported")
				}
				assertNoSecret(t, err, conn)
			})
		}
	}
}

// hostileLister is a workspace whose first listing of the volume answers
// well, with the token it was sent as the next page's token or as the name
// of a subdirectory, and whose next request gets the echoServer's answer.
type hostileLister struct {
	echo       *echoServer
	subdirName bool // the token names a subdirectory, else the next page
}

const hostileRoot = "/Volumes/main/default/landing"

func (h *hostileLister) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cred := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.URL.Path != "/api/2.0/fs/directories"+hostileRoot || r.URL.Query().Get("page_token") != "" {
		h.echo.ServeHTTP(w, r)
		return
	}
	contents := []map[string]any{{"path": hostileRoot + "/f.txt", "name": "f.txt", "file_size": 1, "last_modified": 1}}
	page := map[string]any{"contents": contents}
	if h.subdirName {
		page["contents"] = append(contents, map[string]any{"path": hostileRoot + "/" + cred + "/", "name": cred, "is_directory": true})
	} else {
		page["next_page_token"] = cred
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// TestHostileListingsAfterProgress: a workspace that answers the first
// listing and then echoes the token, after sending it back as a page token
// or a subdirectory name, gets nothing of it into the error.
func TestHostileListingsAfterProgress(t *testing.T) {
	behaviors := []string{"json", "code", "status", "ok-error", "not-json", "garbage", "wrong-type", "bad-gzip", "malformed", "redirect"}
	for _, behavior := range behaviors {
		for _, subdir := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/subdirectory=%v", behavior, subdir), func(t *testing.T) {
				h := &hostileLister{echo: &echoServer{behavior: behavior}, subdirName: subdir}
				ts := httptest.NewUnstartedServer(h) // HTTP/1.1, for the hijacking answers
				ts.StartTLS()
				t.Cleanup(ts.Close)
				pool := x509.NewCertPool()
				pool.AddCert(ts.Certificate())
				checker := newChecker(t, databricks.Options{Guard: hostguard.Policy{AllowPrivate: true}, RootCAs: pool})
				conn := storage.Connection{
					Host: ts.URL, AuthType: storage.AuthPAT, Secrets: storage.Secrets{Token: hostilePAT},
					Catalog: "main", Schema: "default", Volume: "landing", VerifyTLS: true, Timeout: 5 * time.Second,
				}
				got, err := checker.ListFiles(context.Background(), conn, true, nil, 100)
				if !h.echo.sawSecret(hostilePAT) {
					t.Fatalf("the follow-up request never reached the echo; listing %+v, err %v", got, err)
				}
				if behavior == "ok-error" {
					// A 200 without contents ends the directory.
					if err != nil || !slices.Equal(keys(got), []string{"f.txt"}) {
						t.Errorf("ListFiles = %+v, %v; want f.txt", got, err)
					}
					return
				}
				var ce *storage.ConnectionError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v (%T), want a *storage.ConnectionError", err, err)
				}
				t.Logf("%s: %s [Err: %v]", ce.Reason, ce.Message, ce.Err)
				if len(got.Files) != 0 {
					t.Errorf("a failed listing returned %+v", got)
				}
				if subdir && !strings.Contains(fmt.Sprint(ce.Err), hostileRoot+"/…") {
					t.Errorf("Err %v does not name the listed directory in place of the subdirectory", ce.Err)
				}
				if !strings.HasSuffix(ce.Message, ".") {
					t.Errorf("message %q is not a sentence", ce.Message)
				}
				assertNoSecret(t, err, conn)
			})
		}
	}
}
