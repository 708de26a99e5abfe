package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localservice"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// The sync section's volume and bucket: one flat folder of n files per size.
const (
	syncVolume = fakeworkspace.DefaultVolumePath
	syncBucket = "bench-sync"
	// syncImportPage is the floor's page: the sync's (a Databricks listing
	// page) and the most a Label Studio import takes comfortably.
	syncImportPage = 1000
	syncPoll       = 100 * time.Millisecond
	// syncStatusPoll spaces the reads of our storage's status: each is a
	// DynamoDB read in moto, which serves one request at a time, so
	// frequent polls would slow the sync they watch. The end is the
	// storage's own meta.time_completed, not when a poll saw it.
	syncStatusPoll = time.Second
	syncConfig     = `<View><Image name="img" value="$image"/><Choices name="c" toName="img"><Choice value="a"/></Choices></View>`
)

// syncFolder is the folder (prefix) holding the n files of a size.
func syncFolder(n int) string { return fmt.Sprintf("n%d", n) }

// syncFile is the key of the i-th file of a size, below its folder.
func syncFile(i int) string { return fmt.Sprintf("%06d.png", i) }

// countingProxy is a reverse proxy that counts and times the requests it
// forwards, by route (method and path with numbers as <id>), for those
// counted says to count.
type countingProxy struct {
	server  *httptest.Server
	counted func(*http.Request) bool

	mu     sync.Mutex
	routes map[string]*routeCount
}

type routeCount struct {
	n    int
	busy time.Duration
}

var (
	numberSegment = regexp.MustCompile(`/[0-9]+(/|$)`)
	refusalDetail = regexp.MustCompile(`"detail":"([^"|]*)"`)
)

func newCountingProxy(target string, counted func(*http.Request) bool) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &countingProxy{counted: counted, routes: map[string]*routeCount{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host // S3's SigV4 signs the Host; Label Studio does not mind
	}}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		rp.ServeHTTP(w, r)
		if !p.counted(r) {
			return
		}
		route := r.Method + " " + numberSegment.ReplaceAllString(numberSegment.ReplaceAllString(r.URL.Path, "/<id>$1"), "/<id>$1")
		p.mu.Lock()
		defer p.mu.Unlock()
		c := p.routes[route]
		if c == nil {
			c = &routeCount{}
			p.routes[route] = c
		}
		c.n++
		c.busy += time.Since(began)
	}))
	return p, nil
}

func (p *countingProxy) URL() string { return p.server.URL }
func (p *countingProxy) Close()      { p.server.Close() }

// take returns the counts since the last take and starts again.
func (p *countingProxy) take() map[string]routeCount {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]routeCount{}
	for k, v := range p.routes {
		out[k] = *v
	}
	p.routes = map[string]*routeCount{}
	return out
}

func total(counts map[string]routeCount) (n int, busy time.Duration) {
	for _, c := range counts {
		n, busy = n+c.n, busy+c.busy
	}
	return n, busy
}

// describeCounts is "POST /api/projects/<id>/import 10 (7.1 s), …", the
// busiest first.
func describeCounts(counts map[string]routeCount) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return counts[b].n - counts[a].n })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("`%s` %d (%.1f s)", k, counts[k].n, counts[k].busy.Seconds())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// startS3Proxy puts a counting proxy in front of moto's S3 for Label
// Studio's S3 storage (its S3_ENDPOINT); nil without the local environment.
func (l *lab) startS3Proxy() {
	if l.envErr != nil || l.env == nil {
		return
	}
	p, err := newCountingProxy(l.env.Endpoint, func(*http.Request) bool { return true })
	if err == nil {
		l.s3 = p
	}
}

// jsonCall sends a JSON request with an Authorization header and decodes a
// 2xx answer into out; another status is an error carrying the body.
func jsonCall(ctx context.Context, hc *http.Client, method, u, authorization string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, firstLine(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, u, err)
		}
	}
	return resp.StatusCode, nil
}

// syncRun is one way of getting n files into a fresh project.
type syncRun struct {
	took     time.Duration
	requests map[string]routeCount // reaching Label Studio (ours), or S3 (Label Studio's own)
}

func (r syncRun) rate(n int) float64 { return float64(n) / r.took.Seconds() }

// syncLab is what the sync section's runs share.
type syncLab struct {
	l       *lab
	ls      *devls.Server
	hc      *http.Client
	caller  string // the bench user's Authorization
	service string // the service credential's (Label Studio's admin)
	ws      *fakeworkspace.Server
	svc     *localservice.Service
	lsProxy *countingProxy
	aws     *benchkit.LatencyProxy // the service's AWS (moto), without latency: calls counted
	s3Note  string                 // why Label Studio's storage reaches moto through S3_ENDPOINT
}

// measureSync compares, per size, in one run and each in a fresh project:
// this service's sync (POST sync to status completed) with the requests
// that reach Label Studio; Label Studio OSS's own S3 import storage
// syncing as many objects from moto's S3; and the floor, Label Studio's
// bulk import of the same tasks in pages of 1,000 with no listing.
func measureSync(l *lab) (*section, error) {
	s := &section{}
	if l.envErr != nil {
		return s, fmt.Errorf("the local environment: %w", l.envErr)
	}
	ls, _, err := l.labelStudio()
	if err != nil {
		return s, err
	}
	if l.s3 == nil {
		return s, errors.New("no S3 proxy in front of moto for Label Studio's S3 storage")
	}
	sizes, err := parseSizes(l.opts.syncSizes)
	if err != nil {
		return s, err
	}
	sl := &syncLab{l: l, ls: ls, hc: &http.Client{Timeout: 30 * time.Minute}, service: "Token " + ls.Token}
	user, err := ls.Admin().SignUp(l.ctx, fmt.Sprintf("bench-sync-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		return s, fmt.Errorf("sign up the bench's Label Studio user: %w", err)
	}
	sl.caller = "Token " + user.Token
	// Requests with the caller's token are the bench's own (its polling
	// goes through the front door, which asks Label Studio who the caller
	// is); the rest are the service's.
	if sl.lsProxy, err = newCountingProxy(ls.URL, func(r *http.Request) bool { return r.Header.Get("Authorization") != sl.caller }); err != nil {
		return s, err
	}
	defer sl.lsProxy.Close()

	logf("sync: %v files in the fake workspace and in moto's S3", sizes)
	sl.ws = fakeworkspace.New()
	sl.ws.AddPAT(fakeworkspace.DefaultPAT)
	sl.ws.SetPageSize(fakeworkspace.MaxPageSize)
	for _, n := range sizes {
		for i := range n {
			sl.ws.AddGeneratedFile(syncVolume+"/"+syncFolder(n)+"/"+syncFile(i), 16, byte(i), "image/png")
		}
	}
	if err := sl.ws.Start(); err != nil {
		return s, err
	}
	defer sl.ws.Close()
	if err := sl.fillBucket(sizes); err != nil {
		return s, fmt.Errorf("fill moto's S3 bucket: %w", err)
	}

	logf("sync: starting the service (make run's server) against Label Studio through a counting proxy")
	if sl.aws, err = benchkit.NewLatencyProxy(l.env.Endpoint); err != nil {
		return s, err
	}
	defer sl.aws.Close()
	if sl.svc, err = localservice.Launch(l.ctx, localservice.Options{
		LabelStudioURL: sl.lsProxy.URL(), LabelStudioToken: ls.Token, Workspace: sl.ws,
		Table: "bench-sync", SecretPrefix: "bench-sync/",
		// The template's visibility timeout: with the local 2 s, a page
		// that takes longer is delivered again while it runs.
		Env: []string{"AWS_LAMBDA_LOG_LEVEL=INFO", "AWS_ENDPOINT_URL=" + sl.aws.URL(), "LOCAL_SYNC_VISIBILITY_SECONDS=200"},
	}); err != nil {
		return s, err
	}
	defer func() {
		// Its log, for a closer look at the steps.
		_ = os.WriteFile(filepath.Join(l.root, "build", "local", "sync-bench-service.log"), []byte(sl.svc.Logs.String()), 0o644)
		sl.svc.Stop()
	}()

	type result struct {
		n                  int
		ours, theirs, flor syncRun
		steps              stepTimes
	}
	var results []result
	for _, n := range sizes {
		r := result{n: n}
		logf("sync: %d files: this service's sync", n)
		if r.ours, r.steps, err = sl.ours(n); err != nil {
			return s, fmt.Errorf("%d files, this service's sync: %w", n, err)
		}
		logf("sync: %d files: %.1f s; the bulk-import floor", n, r.ours.took.Seconds())
		if r.flor, err = sl.floor(n); err != nil {
			return s, fmt.Errorf("%d files, the bulk-import floor: %w", n, err)
		}
		logf("sync: %d files: %.1f s; Label Studio's S3 storage", n, r.flor.took.Seconds())
		if r.theirs, err = sl.labelStudioS3(n); err != nil {
			return s, fmt.Errorf("%d files, Label Studio's S3 sync: %w", n, err)
		}
		logf("sync: %d files: %.1f s", n, r.theirs.took.Seconds())
		results = append(results, r)
	}

	s.printf("Label Studio OSS %s (as in section 6: SQLite, no Redis, on this machine), moto for AWS and S3, the fake workspace; each run imports into a fresh project whose labeling configuration has one image (`$image`), and each run's task count is checked in Label Studio. Sizes are run one after another; per size this service first, then the floor right after it (so that both see the machine alike), then Label Studio's S3 storage.\n\n", devls.Version)
	s.printf("- **this service**: make run's server (`internal/dev/cmd/localapi`: the front door, and the sync worker behind a local SQS queue in moto polled by `internal/dev/sqspoller`, 4 at once as the template's MaximumConcurrency, with the template's visibility timeout of 200 s), reaching Label Studio through a counting proxy. A Databricks storage over a flat folder of *n* 16-byte files (the workspace's listing pages of %d), `use_blob_urls: true`; timed from sending `POST /api/storages/databricks/<id>/sync` to the storage's `meta.time_completed` (its `status` polled every %s through the front door, rarely: each read is a DynamoDB read in moto, which serves one request at a time), `last_sync_count` = *n*. Label Studio requests are those with the service's credential (the bench's polling uses another user's token and is not counted).\n", fakeworkspace.MaxPageSize, syncStatusPoll)
	s.printf("- **Label Studio's S3 storage**: `POST /api/storages/s3` (bucket in moto with *n* 16-byte objects under the prefix, `use_blob_urls: true`, keys `local`/`local`, us-east-1), then `POST /api/storages/s3/<id>/sync`, which without Redis runs the whole sync inside the request: timed from sending it until the storage's status is `completed`. %s Its requests are those reaching moto's S3.\n", sl.s3Note)
	s.printf("- **floor**: the same *n* tasks as the sync makes (the file's URL under `image`, the origin in `meta`) sent by `internal/labelstudio`'s `ImportTasks` — `POST /api/projects/<id>/import?return_task_ids=true` — in pages of %d, one after another, nothing listed or recorded.\n\n", syncImportPage)
	s.printf("| files | this service | Label Studio's S3 sync | floor (bulk import) | ours ÷ LS S3 (speed) | ours ÷ floor (time) | Label Studio requests per 1,000 files: ours / floor | S3 requests per 1,000 objects (LS) |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		on, _ := total(r.ours.requests)
		fn, _ := total(r.flor.requests)
		tn, _ := total(r.theirs.requests)
		s.printf("| %d | %.1f s, %.0f files/s | %.1f s, %.0f files/s | %.1f s, %.0f files/s | %.2f× | %.2f× | %.1f / %.1f | %.1f |\n", r.n,
			r.ours.took.Seconds(), r.ours.rate(r.n), r.theirs.took.Seconds(), r.theirs.rate(r.n), r.flor.took.Seconds(), r.flor.rate(r.n),
			r.ours.rate(r.n)/r.theirs.rate(r.n), r.ours.took.Seconds()/r.flor.took.Seconds(),
			per1000(on, r.n), per1000(fn, r.n), per1000(tn, r.n))
	}
	s.printf("\nWhere the time goes (this service; the worker's `sync message` log lines, each one SQS message, and the counting proxy's time inside Label Studio):\n\n")
	s.printf("| files | sync wall time | messages | worker busy (sum of `duration_ms`) | longest message | inside Label Studio | inside AWS (moto) | Label Studio requests (route, count, time inside) | AWS calls (operation, count, time inside) |\n|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range results {
		_, busy := total(r.ours.requests)
		_, inAWS := total(r.steps.aws)
		s.printf("| %d | %.1f s | %d | %.1f s | %.2f s | %.1f s | %.1f s | %s | %s |\n", r.n, r.ours.took.Seconds(), r.steps.n, r.steps.sum.Seconds(), r.steps.max.Seconds(),
			busy.Seconds(), inAWS.Seconds(), describeCounts(r.ours.requests), describeCounts(r.steps.aws))
	}
	s.printf("\nFor the floor, Label Studio's import alone took: %s. Times inside are sums over requests, some of which overlap (messages run up to 4 at once), so they can exceed the wall time; the AWS calls include the front door's (the bench's status polls) and the local poller's receives (an empty one, then 100 ms before the next), which in AWS are Lambda's event source mapping's and off the sync's path but here share moto with it; what the worker does outside Label Studio is the listing (the fake workspace), DynamoDB (the storage, its step lease and links, in moto, which serves one request at a time) and SQS.\n", floorNotes(results, func(r result) (int, syncRun) { return r.n, r.flor }))
	for _, r := range results {
		s.target(fmt.Sprintf("sync of %d files: speed vs Label Studio's own S3 sync", r.n),
			fmt.Sprintf("%.2f× (%.0f vs %.0f files/s)", r.ours.rate(r.n)/r.theirs.rate(r.n), r.ours.rate(r.n), r.theirs.rate(r.n)), "≥ 3×", r.ours.rate(r.n) >= 3*r.theirs.rate(r.n))
		s.target(fmt.Sprintf("sync of %d files: time vs the bulk-import floor", r.n),
			fmt.Sprintf("%.2f× (%.1f vs %.1f s)", r.ours.took.Seconds()/r.flor.took.Seconds(), r.ours.took.Seconds(), r.flor.took.Seconds()), "≤ 1.3×", r.ours.took <= r.flor.took*13/10)
		on, _ := total(r.ours.requests)
		s.info(fmt.Sprintf("sync of %d files: Label Studio requests per 1,000 files (floor)", r.n), fmt.Sprintf("%.1f (%.1f)", per1000(on, r.n), per1000(r.n/syncImportPage+min(1, r.n%syncImportPage), r.n)))
	}
	return s, nil
}

func floorNotes[R any](rs []R, f func(R) (int, syncRun)) string {
	var parts []string
	for _, r := range rs {
		n, run := f(r)
		_, busy := total(run.requests)
		parts = append(parts, fmt.Sprintf("%.1f s of %.1f s for %d tasks", busy.Seconds(), run.took.Seconds(), n))
	}
	return strings.Join(parts, "; ")
}

func per1000(requests, n int) float64 { return 1000 * float64(requests) / float64(n) }

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sync-files %q: want positive numbers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// project creates a fresh project of the bench user's.
func (sl *syncLab) project(title string) (int64, error) {
	var p struct {
		ID int64 `json:"id"`
	}
	_, err := jsonCall(sl.l.ctx, sl.hc, http.MethodPost, sl.ls.URL+"/api/projects", sl.caller, map[string]any{"title": title, "label_config": syncConfig}, &p)
	return p.ID, err
}

// taskCount is the project's number of tasks.
func (sl *syncLab) taskCount(project int64) (int, error) {
	var p struct {
		TaskNumber int `json:"task_number"`
	}
	_, err := jsonCall(sl.l.ctx, sl.hc, http.MethodGet, fmt.Sprintf("%s/api/projects/%d", sl.ls.URL, project), sl.caller, nil, &p)
	return p.TaskNumber, err
}

func (sl *syncLab) checkCount(project int64, n int) error {
	got, err := sl.taskCount(project)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("the project holds %d tasks, want %d", got, n)
	}
	return nil
}

// ours syncs n files with this service.
func (sl *syncLab) ours(n int) (syncRun, stepTimes, error) {
	ctx := sl.l.ctx
	project, err := sl.project(fmt.Sprintf("bench sync %d (this service)", n))
	if err != nil {
		return syncRun{}, stepTimes{}, err
	}
	var st struct {
		ID int64 `json:"id"`
	}
	base := sl.svc.URL + "/api/storages/databricks/"
	if _, err := jsonCall(ctx, sl.hc, http.MethodPost, base, sl.caller, map[string]any{
		"project": project, "host": sl.ws.URL(), "catalog": "main", "schema": "default", "volume": "landing",
		"token": fakeworkspace.DefaultPAT, "prefix": syncFolder(n), "use_blob_urls": true,
	}, &st); err != nil {
		return syncRun{}, stepTimes{}, err
	}
	type storageState struct {
		Status        string         `json:"status"`
		LastSyncJob   string         `json:"last_sync_job"`
		LastSyncCount int            `json:"last_sync_count"`
		Traceback     string         `json:"traceback"`
		Meta          map[string]any `json:"meta"`
	}
	logMark := len(sl.svc.Logs.String())
	sl.lsProxy.take()
	sl.aws.Reset()
	began := time.Now()
	var queued storageState
	if _, err := jsonCall(ctx, sl.hc, http.MethodPost, fmt.Sprintf("%s%d/sync", base, st.ID), sl.caller, nil, &queued); err != nil {
		return syncRun{}, stepTimes{}, err
	}
	deadline := began.Add(20 * time.Minute)
	var got storageState
	for {
		if _, err := jsonCall(ctx, sl.hc, http.MethodGet, fmt.Sprintf("%s%d", base, st.ID), sl.caller, nil, &got); err != nil {
			return syncRun{}, stepTimes{}, err
		}
		if got.LastSyncJob == queued.LastSyncJob && (got.Status == "completed" || got.Status == "completed_with_errors" || got.Status == "failed") {
			break
		}
		if time.Now().After(deadline) {
			return syncRun{}, stepTimes{}, fmt.Errorf("not settled in 20 minutes: %s", got.Status)
		}
		time.Sleep(syncStatusPoll)
	}
	run := syncRun{took: time.Since(began), requests: sl.lsProxy.take()}
	if done, err := time.Parse("2006-01-02 15:04:05.999999-07:00", fmt.Sprint(got.Meta["time_completed"])); err == nil && done.After(began) {
		run.took = done.Sub(began) // same machine, same clock
	}
	if got.Status != "completed" || got.LastSyncCount != n {
		return run, stepTimes{}, fmt.Errorf("status %s, last_sync_count %d, want completed and %d (%s)", got.Status, got.LastSyncCount, n, got.Traceback)
	}
	steps := parseSteps(sl.svc.Logs.String()[logMark:], st.ID)
	steps.aws = awsCounts(sl.aws.Calls())
	return run, steps, sl.checkCount(project, n)
}

// fillBucket creates the bucket in moto and puts each size's objects under
// its folder, straight to moto in path-style requests, four at a time.
// Moto does not check signatures but routes by the credential scope of the
// Authorization header, so the header names S3 and signs nothing.
func (sl *syncLab) fillBucket(sizes []int) error {
	ctx, endpoint := sl.l.ctx, sl.l.env.Endpoint
	put := func(path, body string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+"/"+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := sl.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT %s: %d", path, resp.StatusCode)
		}
		return nil
	}
	if err := put(syncBucket, ""); err != nil {
		return err
	}
	keys := make(chan string)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for k := range keys {
				if err := put(syncBucket+"/"+k, "0123456789abcdef"); err != nil {
					errs <- err
					for range keys { // drain
					}
					return
				}
			}
		})
	}
	for _, n := range sizes {
		for i := range n {
			keys <- syncFolder(n) + "/" + syncFile(i)
		}
	}
	close(keys)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// labelStudioS3 syncs n objects with Label Studio's own S3 storage.
func (sl *syncLab) labelStudioS3(n int) (syncRun, error) {
	ctx := sl.l.ctx
	project, err := sl.project(fmt.Sprintf("bench sync %d (Label Studio's S3 storage)", n))
	if err != nil {
		return syncRun{}, err
	}
	body := map[string]any{
		"project": project, "title": "bench", "bucket": syncBucket, "prefix": syncFolder(n) + "/", "use_blob_urls": true,
		"aws_access_key_id": "local", "aws_secret_access_key": "local", "region_name": "us-east-1",
		"s3_endpoint": sl.l.s3.URL(),
	}
	var st struct {
		ID int64 `json:"id"`
	}
	status, err := jsonCall(ctx, sl.hc, http.MethodPost, sl.ls.URL+"/api/storages/s3", sl.caller, body, &st)
	if status == http.StatusForbidden || status == http.StatusBadRequest {
		// Label Studio refuses a loopback s3_endpoint (SSRF protection:
		// 403 "URL resolves to a reserved network address");
		// its operator's S3_ENDPOINT, which the bench set to the same
		// proxy when it started Label Studio, is trusted.
		detail := "refused"
		if m := refusalDetail.FindStringSubmatch(err.Error()); m != nil {
			detail = m[1]
		}
		sl.s3Note = fmt.Sprintf("Label Studio refuses `s3_endpoint` at moto's loopback address (SSRF protection: %d \"%s\"), so the storage is created without it and Label Studio reaches moto through its operator setting `S3_ENDPOINT` (trusted, the same address), set when the bench started it.", status, detail)
		delete(body, "s3_endpoint")
		_, err = jsonCall(ctx, sl.hc, http.MethodPost, sl.ls.URL+"/api/storages/s3", sl.caller, body, &st)
	} else if err == nil {
		sl.s3Note = "The storage's `s3_endpoint` is moto's address (through the counting proxy)."
	}
	if err != nil {
		return syncRun{}, err
	}
	sl.l.s3.take()
	began := time.Now()
	var got struct {
		Status    string `json:"status"`
		Traceback string `json:"traceback"`
	}
	if _, err := jsonCall(ctx, sl.hc, http.MethodPost, fmt.Sprintf("%s/api/storages/s3/%d/sync", sl.ls.URL, st.ID), sl.caller, nil, &got); err != nil {
		return syncRun{}, err
	}
	for got.Status != "completed" && got.Status != "failed" && got.Status != "completed_with_errors" {
		if time.Since(began) > 30*time.Minute {
			return syncRun{}, fmt.Errorf("not settled in 30 minutes: %s", got.Status)
		}
		time.Sleep(syncPoll)
		if _, err := jsonCall(ctx, sl.hc, http.MethodGet, fmt.Sprintf("%s/api/storages/s3/%d", sl.ls.URL, st.ID), sl.caller, nil, &got); err != nil {
			return syncRun{}, err
		}
	}
	run := syncRun{took: time.Since(began), requests: sl.l.s3.take()}
	if got.Status != "completed" {
		return run, fmt.Errorf("status %s: %s", got.Status, firstLine(got.Traceback))
	}
	return run, sl.checkCount(project, n)
}

// floor imports the same n tasks as the sync, with the sync's client, in
// pages of syncImportPage, one after another.
func (sl *syncLab) floor(n int) (syncRun, error) {
	ctx := sl.l.ctx
	project, err := sl.project(fmt.Sprintf("bench sync %d (floor)", n))
	if err != nil {
		return syncRun{}, err
	}
	key, err := filecap.NewKey()
	if err != nil {
		return syncRun{}, err
	}
	// The tasks as the sync builds them: the file route's URL (a
	// capability per file) under the data key, the origin in meta.
	const storageID = 1
	tasks := make([]core.NewTask, n)
	for i := range tasks {
		p := syncFolder(n) + "/" + syncFile(i)
		capability, err := filecap.Sign(key, storageID, p)
		if err != nil {
			return syncRun{}, err
		}
		tasks[i] = core.NewTask{Data: map[string]any{"image": sl.svc.URL + filecap.URLPath(storageID, capability, p)},
			Origin: core.TaskOrigin{Storage: storageID, Key: p}}
	}
	client := labelstudio.Tasks{Client: &labelstudio.Client{BaseURL: sl.lsProxy.URL(), Service: labelstudio.StaticCredential(sl.service)}}
	sl.lsProxy.take()
	began := time.Now()
	for page := range slices.Chunk(tasks, syncImportPage) {
		ids, err := client.ImportTasks(ctx, project, page)
		if err != nil {
			return syncRun{}, err
		}
		if len(ids) != len(page) {
			return syncRun{}, fmt.Errorf("import: %d ids for %d tasks", len(ids), len(page))
		}
	}
	run := syncRun{took: time.Since(began), requests: sl.lsProxy.take()}
	return run, sl.checkCount(project, n)
}

// stepTimes sums the worker's "sync message" lines of one storage.
type stepTimes struct {
	n        int
	sum, max time.Duration
	aws      map[string]routeCount // the service's AWS calls meanwhile, by operation
}

// awsCounts groups AWS calls by operation.
func awsCounts(calls []benchkit.Call) map[string]routeCount {
	out := map[string]routeCount{}
	for _, c := range calls {
		op := c.Operation
		if op == "" {
			op = "(S3 or other)"
		}
		rc := out[op]
		rc.n++
		rc.busy += c.End.Sub(c.Start)
		out[op] = rc
	}
	return out
}

func parseSteps(logs string, storage int64) stepTimes {
	var st stepTimes
	lines := bufio.NewScanner(strings.NewReader(logs))
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		var e struct {
			Msg        string  `json:"msg"`
			StorageID  int64   `json:"storage_id"`
			DurationMS float64 `json:"duration_ms"`
		}
		if json.Unmarshal(lines.Bytes(), &e) != nil || e.Msg != "sync message" || e.StorageID != storage {
			continue
		}
		d := time.Duration(e.DurationMS * float64(time.Millisecond))
		st.n++
		st.sum += d
		st.max = max(st.max, d)
	}
	return st
}
