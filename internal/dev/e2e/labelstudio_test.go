//go:build integration

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localservice"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
)

// cacheSeconds is the service's TOKEN_CACHE_SECONDS in these tests: short,
// so that a revocation is seen within the test.
const cacheSeconds = 8

// lsCalls counts the service's questions to Label Studio: whoami and
// project reads, which only the service asks.
type lsCalls struct{ whoami, projects atomic.Int64 }

func (c *lsCalls) total() int64 { return c.whoami.Load() + c.projects.Load() }

var projectPath = regexp.MustCompile(`^/api/projects/\d+/?$`)

// frontDoorService is make run's server in Label Studio mode, against the
// Label Studio withls started, through a counting proxy.
type frontDoorService struct {
	*localservice.Service
	calls *lsCalls
}

func startFrontDoor(t *testing.T, ls *devls.Server) *frontDoorService {
	t.Helper()
	target, _ := url.Parse(ls.URL)
	calls := &lsCalls{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/current-user/whoami":
			calls.whoami.Add(1)
		case r.Method == http.MethodGet && projectPath.MatchString(r.URL.Path):
			calls.projects.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)
	svc := localservice.Start(t, localservice.Options{LabelStudioURL: counting.URL, LabelStudioToken: ls.Token,
		Env: []string{fmt.Sprintf("TOKEN_CACHE_SECONDS=%d", cacheSeconds)}})
	return &frontDoorService{Service: svc, calls: calls}
}

// answer is a status and a parsed body.
type answer struct {
	status int
	body   map[string]any
	raw    string
}

func call(t *testing.T, method, url, authorization, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// TestLabelStudioIsTheSystemOfRecord: with a real Label Studio OSS behind
// the front door, its users' tokens and its projects decide, as Label
// Studio itself would answer; warm requests cost it nothing; a deactivated
// user is refused within the cache time; no Label Studio token is in any
// log line, answer or item.
func TestLabelStudioIsTheSystemOfRecord(t *testing.T) {
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	python := filepath.Join(wd, "..", "..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the project virtualenv is missing (make venv): %v", err)
	}
	ctx := context.Background()
	admin := ls.Admin()
	stamp := time.Now().UnixNano()
	alice, err := admin.SignUp(ctx, fmt.Sprintf("alice-%d@example.com", stamp))
	if err != nil {
		t.Fatal(err)
	}
	svc := startFrontDoor(t, ls)
	var answers []string

	// One client, one token, one base URL.
	script := exec.Command(python, "testdata/sdk_labelstudio.py")
	script.Env = append(os.Environ(), "LS_BASE_URL="+svc.URL, "LS_API_KEY="+alice.Token, "WORKSPACE_HOST="+svc.Workspace)
	out, err := script.CombinedOutput()
	if err != nil {
		t.Fatalf("label-studio-sdk script failed: %v\n%s\nservice log:\n%s", err, out, svc.Logs.String())
	}
	answers = append(answers, string(out))
	var project int64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var row map[string]any
		if json.Unmarshal([]byte(line), &row) == nil && row["project"] != nil {
			project = int64(row["project"].(float64))
		}
	}
	if project == 0 {
		t.Fatalf("no project in the script's output:\n%s", out)
	}
	aliceAuth := "Token " + alice.Token
	listURL := fmt.Sprintf("%s/api/storages/databricks/?project=%d", svc.URL, project)

	t.Run("warm requests do not ask Label Studio", func(t *testing.T) {
		if a := call(t, http.MethodGet, listURL, aliceAuth, ""); a.status != http.StatusOK {
			t.Fatalf("list: %d %s", a.status, a.raw)
		}
		before := svc.calls.total()
		for range 5 {
			if a := call(t, http.MethodGet, listURL, aliceAuth, ""); a.status != http.StatusOK {
				t.Fatalf("list: %d %s", a.status, a.raw)
			}
		}
		if got := svc.calls.total() - before; got != 0 {
			t.Errorf("5 warm requests asked Label Studio %d times", got)
		}
	})

	// What a cold verification adds to a request: Label Studio's whoami
	// and project read, one after the other (reported, never failed on).
	t.Run("cost of a cold verification", func(t *testing.T) {
		var cold, warm []time.Duration
		for range 7 {
			began := time.Now()
			call(t, http.MethodGet, ls.URL+"/api/current-user/whoami", aliceAuth, "")
			call(t, http.MethodGet, fmt.Sprintf("%s/api/projects/%d", ls.URL, project), aliceAuth, "")
			cold = append(cold, time.Since(began))
			began = time.Now()
			call(t, http.MethodGet, listURL, aliceAuth, "")
			warm = append(warm, time.Since(began))
		}
		slices.Sort(cold)
		slices.Sort(warm)
		t.Logf("cold verification (whoami + project, Label Studio OSS %s on this machine): median %s, min %s, max %s; a warm list through the front door: median %s",
			devls.Version, cold[3].Round(time.Millisecond), cold[0].Round(time.Millisecond), cold[6].Round(time.Millisecond), warm[3].Round(time.Millisecond))
	})

	t.Run("the same answers as Label Studio", func(t *testing.T) {
		// Label Studio's own storage API (S3 in OSS) is the reference.
		for _, c := range []struct{ name, ours, theirs, method, body, auth string }{
			{"missing project, create", svc.URL + "/api/storages/databricks/", ls.URL + "/api/storages/s3",
				http.MethodPost, `{"project": 424242, "host": "` + svc.Workspace + `", "catalog": "main", "schema": "default", "volume": "landing", "token": "dapi-local-test-token"}`, aliceAuth},
			{"missing project, list", svc.URL + "/api/storages/databricks/?project=424242", ls.URL + "/api/storages/s3?project=424242", http.MethodGet, "", aliceAuth},
			{"refused token", listURL, fmt.Sprintf("%s/api/storages/s3?project=%d", ls.URL, project), http.MethodGet, "", "Token not-a-token-0123456789"},
			{"no token", listURL, fmt.Sprintf("%s/api/storages/s3?project=%d", ls.URL, project), http.MethodGet, "", ""},
		} {
			ours, theirs := call(t, c.method, c.ours, c.auth, c.body), call(t, c.method, c.theirs, c.auth, c.body)
			answers = append(answers, ours.raw)
			if ours.status != theirs.status || fmt.Sprint(ours.body["detail"]) != fmt.Sprint(theirs.body["detail"]) ||
				fmt.Sprint(ours.body["validation_errors"]) != fmt.Sprint(theirs.body["validation_errors"]) {
				t.Errorf("%s: ours %d %s, Label Studio's %d %s", c.name, ours.status, ours.raw, theirs.status, theirs.raw)
			}
		}
	})

	t.Run("a member removed from the organisation is refused within the cache time", func(t *testing.T) {
		bob, err := admin.SignUp(ctx, fmt.Sprintf("bob-%d@example.com", stamp))
		if err != nil {
			t.Fatal(err)
		}
		bobAuth := "Token " + bob.Token
		if a := call(t, http.MethodGet, listURL, bobAuth, ""); a.status != http.StatusOK {
			t.Fatalf("bob, a member, lists: %d %s", a.status, a.raw)
		}
		var me struct {
			ActiveOrganization int64 `json:"active_organization"`
		}
		raw := call(t, http.MethodGet, ls.URL+"/api/current-user/whoami", "Token "+ls.Token, "")
		_ = json.Unmarshal([]byte(raw.raw), &me)
		if err := admin.RemoveMember(ctx, me.ActiveOrganization, bob.ID); err != nil {
			t.Fatal(err)
		}
		theirs := call(t, http.MethodGet, fmt.Sprintf("%s/api/storages/s3?project=%d", ls.URL, project), bobAuth, "")
		time.Sleep(cacheSeconds * time.Second)
		ours := call(t, http.MethodGet, listURL, bobAuth, "")
		answers = append(answers, ours.raw)
		if ours.status != theirs.status || ours.status != http.StatusForbidden {
			t.Errorf("removed member: ours %d %s, Label Studio's %d %s", ours.status, ours.raw, theirs.status, theirs.raw)
		}
	})

	t.Run("a deactivated user's token stops working within the cache time", func(t *testing.T) {
		carol, err := admin.SignUp(ctx, fmt.Sprintf("carol-%d@example.com", stamp))
		if err != nil {
			t.Fatal(err)
		}
		carolAuth := "Token " + carol.Token
		if a := call(t, http.MethodGet, listURL, carolAuth, ""); a.status != http.StatusOK {
			t.Fatalf("carol lists: %d %s", a.status, a.raw)
		}
		if err := ls.Deactivate(ctx, carol.Email); err != nil {
			t.Fatal(err)
		}
		deactivated := time.Now()
		for {
			a := call(t, http.MethodGet, listURL, carolAuth, "")
			answers = append(answers, a.raw)
			if a.status == http.StatusUnauthorized {
				break
			}
			if time.Since(deactivated) > (cacheSeconds+2)*time.Second {
				t.Fatalf("still %d %s %s after deactivation", a.status, a.raw, time.Since(deactivated))
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("no Label Studio token anywhere", func(t *testing.T) {
		items, err := dynamodb.NewFromConfig(testenv.AWSConfig(t)).Scan(ctx, &dynamodb.ScanInput{TableName: &svc.Table})
		if err != nil {
			t.Fatal(err)
		}
		dump, _ := json.Marshal(items.Items)
		haystack := svc.Logs.String() + "\n" + strings.Join(answers, "\n") + "\n" + string(dump)
		if !strings.Contains(svc.Logs.String(), `"route":"list"`) {
			t.Fatalf("no request lines in the service's log:\n%s", svc.Logs.String())
		}
		for name, token := range map[string]string{"the service's": ls.Token, "alice's": alice.Token} {
			for _, enc := range []string{token, base64.StdEncoding.EncodeToString([]byte(token)), base64.RawURLEncoding.EncodeToString([]byte(token)),
				base64.StdEncoding.EncodeToString([]byte("Token " + token))} {
				if strings.Contains(haystack, enc) {
					t.Errorf("%s token is in the logs, answers or items (%q)", name, enc)
				}
			}
		}
	})
}
