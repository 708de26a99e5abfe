//go:build integration

package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localservice"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/filecap"
)

// TestMain starts the moto the service under test uses.
func TestMain(m *testing.M) { testenv.Main(m) }

const (
	volume = "/Volumes/main/default/landing"
	// imageWidth is what the browser must decode: the picture's own width.
	imageWidth, imageHeight = 320, 200
	// audioSeconds makes a WAV (10.6 MB) larger than the file route's
	// 8 MB cap on a range: a player that seeks past 8 MB must ask again.
	audioSeconds = 60
	imageConfig  = `<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image"><Label value="Card"/></RectangleLabels></View>`
	audioConfig  = `<View><Audio name="audio" value="$audio"/><Labels name="sound" toName="audio"><Label value="Tone"/></Labels></View>`
	// imagePath and audioPath are the files' keys under the volume, each
	// alone under its storage's prefix.
	imagePath, audioPath = "media/images/card.png", "media/audio/tone.wav"
)

// TestLabelingPageLoadsFilesFromTheFileRoute: Debian's headless Chromium
// logs in to a real Label Studio through make run's front door and opens
// the labeling page of tasks a sync of this service created (their data
// are file-route links); the image is decoded at its own width from bytes
// this service served, and an audio seek is answered with 206 (a Range
// request).
func TestLabelingPageLoadsFilesFromTheFileRoute(t *testing.T) {
	began := time.Now()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium (make test installs Debian's package): %v", err)
	}
	ls, err := devls.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	annotator, err := ls.Admin().SignUp(ctx, fmt.Sprintf("annotator-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}

	ws := fakeworkspace.New()
	ws.AddPAT(fakeworkspace.DefaultPAT)
	// One prefix per project: each sync imports its one file.
	ws.AddFile(volume+"/"+imagePath, PNG(imageWidth, imageHeight))
	wav := WAV(audioSeconds)
	ws.AddFile(volume+"/"+audioPath, wav)
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)

	// The browser's one address is the recording door, so the synced
	// links must name it: it exists before the service, which it then
	// forwards to.
	door := newRecordingDoor(t)
	svc := localservice.Start(t, localservice.Options{LabelStudioURL: ls.URL, LabelStudioToken: ls.Token, Workspace: ws,
		Env: []string{"FILES_BASE_URL=" + door.URL}})
	door.forwardTo(t, svc.URL)
	lsAPI := devls.Client{URL: door.URL, Authorization: "Token " + annotator.Token}
	t.Logf("service started: %s", time.Since(began).Round(100*time.Millisecond))

	imageProject := createProject(t, lsAPI, "Images from Databricks", imageConfig)
	audioProject := createProject(t, lsAPI, "Audio from Databricks", audioConfig)
	imageStorage := createStorage(t, lsAPI, imageProject, ws.URL(), "media/images")
	audioStorage := createStorage(t, lsAPI, audioProject, ws.URL(), "media/audio")
	syncStorage(t, lsAPI, imageStorage)
	syncStorage(t, lsAPI, audioStorage)
	imageTask := syncedTask(t, lsAPI, imageProject, "image", door.URL, imageStorage, imagePath)
	audioTask := syncedTask(t, lsAPI, audioProject, "audio", door.URL, audioStorage, audioPath)
	t.Logf("set-up (service, projects, storages, synced tasks): %s", time.Since(began).Round(100*time.Millisecond))

	bctx := newBrowser(t, chromium)
	login(t, bctx, door.URL, annotator)
	t.Logf("browser logged in: %s", time.Since(began).Round(100*time.Millisecond))

	t.Run("the image is rendered from the file route", func(t *testing.T) {
		door.reset()
		open(t, bctx, fmt.Sprintf("%s/projects/%d/data?task=%d", door.URL, imageProject, imageTask))
		// Label Studio's image tag reads the file with an XHR and shows it
		// from a blob URL in .lsf-image; the canvas above it is drawn
		// once the picture is decoded.
		width := poll[int](t, bctx, fmt.Sprintf(`(() => { const i = document.querySelector('.lsf-image > img'); return i && i.complete && i.naturalWidth === %d && document.querySelector('.konvajs-content canvas') ? i.naturalWidth : 0 })()`, imageWidth), 2*time.Minute)
		shot := screenshot(t, bctx, "labeling-from-proxy.png")
		t.Logf("image rendered %d px wide after %s; screenshot %s", width, time.Since(began).Round(100*time.Millisecond), shot)
		got := door.find(imageStorage, imagePath)
		size := int64(len(PNG(imageWidth, imageHeight)))
		if !slicesAny(got, func(r request) bool {
			return r.Method == http.MethodGet && r.FetchMode == "cors" && r.Status == http.StatusOK && r.Bytes == size
		}) {
			t.Fatalf("the file route served the picture to no XHR of the labeling page: %v", brief(got))
		}
		for _, r := range got {
			if !r.corsAllowed() {
				t.Errorf("a request of the picture from an origin the route does not allow: %v", brief([]request{r}))
			}
		}
	})

	t.Run("an audio seek is a range request answered 206", func(t *testing.T) {
		door.reset()
		open(t, bctx, fmt.Sprintf("%s/projects/%d/data?task=%d", door.URL, audioProject, audioTask))
		duration := poll[float64](t, bctx, `(() => { const a = document.querySelector('audio'); return a && a.readyState >= 1 && isFinite(a.duration) ? a.duration : 0 })()`, 2*time.Minute)
		src, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('audio').currentSrc`))
		if err != nil {
			t.Fatal(err)
		}
		// Seek past the first 8 MB: the bytes there come from a range.
		target := duration * 0.9
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[float64](fmt.Sprintf(`document.querySelector('audio').currentTime = %f`, target))); err != nil {
			t.Fatal(err)
		}
		// The player's seek reads from past the first answer's 8 MB: a
		// range request, which must be answered 206 from there.
		seek := int64(float64(len(wav)) * 0.85)
		seen := door.wait(2*time.Minute, func(r request) bool {
			return r.StorageID == audioStorage && r.Path == audioPath && r.Range != "" && r.rangeFirst() >= seek
		})
		shot := screenshot(t, bctx, "labeling-audio-from-proxy.png")
		got := door.find(audioStorage, audioPath)
		var ranged []request
		for _, r := range got {
			if r.Status == http.StatusPartialContent && r.first() >= seek {
				ranged = append(ranged, r)
			}
		}
		t.Logf("audio (%s, %.0f s) sought to %.0f s after %s; %d requests of it (%+v), %d ranges past byte %d answered 206; screenshot %s",
			src[:min(len(src), 30)], duration, target, time.Since(began).Round(100*time.Millisecond), len(got), brief(got), len(ranged), seek, shot)
		if !seen {
			t.Fatalf("the seek made no range request past byte %d", seek)
		}
		if len(ranged) == 0 {
			t.Fatalf("no range request past the seek point answered 206: %v", brief(got))
		}
		for _, r := range got {
			if !r.corsAllowed() {
				t.Errorf("a request of the audio from an origin the route does not allow: %v", brief([]request{r}))
			}
		}
		if !strings.Contains(svc.Logs.String(), `"range":"`+ranged[0].Range+`"`) {
			t.Errorf("the service's log has no line of the range %q", ranged[0].Range)
		}
	})

	t.Run("no capability in the service's log", func(t *testing.T) {
		logs := svc.Logs.String()
		if !strings.Contains(logs, `"path":"`+imagePath+`"`) {
			t.Fatalf("no file request line in the service's log")
		}
		for _, r := range door.all() {
			if strings.Contains(logs, r.capability) {
				t.Fatalf("the service's log holds a capability")
			}
		}
	})
	t.Logf("whole test: %s", time.Since(began).Round(100*time.Millisecond))
}

func slicesAny[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if f(v) {
			return true
		}
	}
	return false
}

// request is what the front door saw of one file-route request: the
// storage id and the path, never the capability (kept apart, for the
// log check only).
type request struct {
	Method, Path, Range, Origin, FetchSite, FetchMode, UserAgent string
	StorageID                                                    int64
	Status                                                       int
	ContentRange, AllowOrigin                                    string
	Bytes                                                        int64
	capability                                                   string
	host                                                         string
	ifRange                                                      bool
}

// corsAllowed: the browser may read the answer — a same-origin request
// (the front door serves Label Studio's pages and the files from one
// host), or a cross-origin one whose Origin the route allows.
func (r request) corsAllowed() bool {
	if r.FetchSite == "same-origin" && (r.Origin == "" || r.Origin == "http://"+r.host) {
		return true
	}
	return r.Origin != "" && r.Origin == r.AllowOrigin
}

// rangeFirst is the first byte a Range header asks for, -1 for none or a
// suffix range.
func (r request) rangeFirst() int64 {
	m := regexp.MustCompile(`^bytes=(\d+)-`).FindStringSubmatch(r.Range)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// brief is what a failure message says of requests: no capability.
func brief(rs []request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %q (If-Range %v, %s) → %d %q %d bytes", r.Method, r.Range, r.ifRange, r.FetchMode, r.Status, r.ContentRange, r.Bytes))
	}
	return out
}

// first is the first byte of a 206's Content-Range, -1 without one.
func (r request) first() int64 {
	m := regexp.MustCompile(`^bytes (\d+)-`).FindStringSubmatch(r.ContentRange)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// recordingDoor is the browser's one address: it forwards everything to
// make run's front door (keeping Host, so Label Studio's CSRF check sees
// the browser's origin) and records the file route's requests.
type recordingDoor struct {
	URL     string
	proxy   atomic.Pointer[httputil.ReverseProxy] // set by forwardTo
	mu      sync.Mutex
	seen    []request
	changed chan struct{} // closed at each new request
}

// newRecordingDoor listens at once (its URL goes into the service's
// environment); it forwards once forwardTo has named the front door.
func newRecordingDoor(t *testing.T) *recordingDoor {
	t.Helper()
	d := &recordingDoor{changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy := d.proxy.Load()
		if proxy == nil {
			http.Error(w, "the recording door has no front door yet", http.StatusServiceUnavailable)
			return
		}
		id, capability, p, err := filecap.ParseURLPath(r.URL.EscapedPath())
		if err != nil {
			proxy.ServeHTTP(w, r)
			return
		}
		rw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(rw, r)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.seen = append(d.seen, request{
			Method: r.Method, StorageID: id, Path: p, Range: r.Header.Get("Range"), Origin: r.Header.Get("Origin"),
			FetchSite: r.Header.Get("Sec-Fetch-Site"), FetchMode: r.Header.Get("Sec-Fetch-Mode"), UserAgent: r.UserAgent(),
			Status: rw.status, ContentRange: rw.Header().Get("Content-Range"), AllowOrigin: rw.Header().Get("Access-Control-Allow-Origin"),
			Bytes: rw.n, capability: capability, host: r.Host, ifRange: r.Header.Get("If-Range") != "",
		})
		close(d.changed)
		d.changed = make(chan struct{})
	}))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

func (d *recordingDoor) forwardTo(t *testing.T, target string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	d.proxy.Store(httputil.NewSingleHostReverseProxy(u))
}

func (d *recordingDoor) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen = nil
}

func (d *recordingDoor) all() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]request(nil), d.seen...)
}

// wait waits until a request for which match holds has been answered,
// at most timeout.
func (d *recordingDoor) wait(timeout time.Duration, match func(request) bool) bool {
	deadline := time.After(timeout)
	for {
		d.mu.Lock()
		found, changed := slicesAny(d.seen, match), d.changed
		d.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

func (d *recordingDoor) find(storageID int64, path string) []request {
	var out []request
	for _, r := range d.all() {
		if r.StorageID == storageID && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// Unwrap lets the reverse proxy flush through (http.ResponseController).
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func createProject(t *testing.T, c devls.Client, title, config string) int64 {
	t.Helper()
	var p struct {
		ID int64 `json:"id"`
	}
	if err := post(c, "/api/projects", map[string]any{"title": title, "label_config": config}, &p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// createStorage creates a Databricks storage of the project through this
// service's API (the front door) over the volume's prefix, whose files the
// sync imports one task each (use_blob_urls).
func createStorage(t *testing.T, c devls.Client, project int64, host, prefix string) int64 {
	t.Helper()
	var s struct {
		ID int64 `json:"id"`
	}
	body := map[string]any{"project": project, "host": host, "catalog": "main", "schema": "default", "volume": "landing",
		"prefix": prefix, "use_blob_urls": true, "token": fakeworkspace.DefaultPAT, "title": prefix}
	if err := post(c, "/api/storages/databricks/", body, &s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// syncStorage starts the storage's sync, as Label Studio's "Sync Storage"
// button does, and polls the storage until that sync has completed.
func syncStorage(t *testing.T, c devls.Client, id int64) {
	t.Helper()
	type storage struct {
		Status        string         `json:"status"`
		LastSyncJob   string         `json:"last_sync_job"`
		LastSyncCount int            `json:"last_sync_count"`
		Traceback     string         `json:"traceback"`
		Meta          map[string]any `json:"meta"`
	}
	var queued storage
	if err := post(c, fmt.Sprintf("/api/storages/databricks/%d/sync", id), nil, &queued); err != nil {
		t.Fatal(err)
	}
	if queued.LastSyncJob == "" {
		t.Fatalf("the sync answered no last_sync_job: %+v", queued)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var s storage
		if err := get(c, fmt.Sprintf("/api/storages/databricks/%d", id), &s); err != nil {
			t.Fatal(err)
		}
		if s.LastSyncJob == queued.LastSyncJob {
			switch s.Status {
			case "completed":
				if s.LastSyncCount != 1 {
					t.Fatalf("the sync of storage %d created %d tasks, want 1: %+v", id, s.LastSyncCount, s)
				}
				return
			case "completed_with_errors", "failed":
				t.Fatalf("the sync of storage %d ended %s: %+v", id, s.Status, s)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync of storage %d did not complete in 2 minutes: %+v", id, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// syncedTask returns the id of the project's one task, which the sync
// created with the file link of path under field: a link of the storage
// at the browser's address.
func syncedTask(t *testing.T, c devls.Client, project int64, field, base string, storage int64, path string) int64 {
	t.Helper()
	var tasks struct {
		Tasks []struct {
			ID   int64             `json:"id"`
			Data map[string]string `json:"data"`
		} `json:"tasks"`
	}
	if err := get(c, fmt.Sprintf("/api/tasks?project=%d", project), &tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks.Tasks) != 1 {
		t.Fatalf("project %d holds %d tasks after the sync, want 1: %+v", project, len(tasks.Tasks), tasks)
	}
	task := tasks.Tasks[0]
	id, _, p, err := filecap.ParseURLPath(strings.TrimPrefix(task.Data[field], base))
	if !strings.HasPrefix(task.Data[field], base+"/data/databricks/") || err != nil || id != storage || p != path {
		t.Fatalf("the synced task's data %v: want under %q a file link at %s of storage %d for %s (%v)", task.Data, field, base, storage, path, err)
	}
	return task.ID
}

func post(c devls.Client, path string, body, out any) error {
	return call(c, http.MethodPost, path, body, out)
}

func get(c devls.Client, path string, out any) error { return call(c, http.MethodGet, path, nil, out) }

func call(c devls.Client, method, path string, body, out any) error {
	return c.Do(context.Background(), method, path, body, out)
}

// newBrowser starts Debian's headless Chromium with a fresh profile and
// no background traffic (this machine reaches no outside host).
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root here
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// login signs in through Label Studio's login form, as a person does.
func login(t *testing.T, bctx context.Context, base string, u devls.User) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/user/login/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), u.Email),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), u.Password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	)
	if err != nil {
		t.Fatalf("log in as %s: %v", u.Email, err)
	}
	poll[bool](t, bctx, `!location.pathname.startsWith('/user/login') && document.readyState === 'complete'`, time.Minute)
}

func open(t *testing.T, bctx context.Context, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
}

// poll waits until expr is truthy and returns its value (no sleeps: the
// browser evaluates it every 100 ms until the deadline).
func poll[T any](t *testing.T, bctx context.Context, expr string, timeout time.Duration) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, timeout+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	for {
		v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil {
			return v
		}
		// A navigation ends the page the predicate ran in (the protocol
		// says so in several words): poll the next one until the deadline.
		if time.Now().Before(deadline) && ctx.Err() == nil {
			continue
		}
		page, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ''`))
		shot := screenshot(t, bctx, "browser-failure.png")
		t.Fatalf("waiting for %s: %v\npage text: %s\nscreenshot: %s", expr, err, page, shot)
	}
}

// screenshot saves the page as build/<name> at the repository root.
func screenshot(t *testing.T, bctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return ""
	}
	dir := filepath.Join("..", "..", "..", "build")
	_ = os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	abs, _ := filepath.Abs(p)
	return abs
}
