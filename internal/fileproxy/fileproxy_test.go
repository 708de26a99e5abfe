package fileproxy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

const mb = 1 << 20

// want returns bytes first..last of a generated file.
func want(seed byte, size, first, last int64) []byte {
	r := fakeworkspace.Generated(seed, size)
	if _, err := r.Seek(first, io.SeekStart); err != nil {
		panic(err)
	}
	b, err := io.ReadAll(io.LimitReader(r, last-first+1))
	if err != nil {
		panic(err)
	}
	return b
}

func digest(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// Every size and every range form a browser sends: the bytes are the
// workspace's, byte for byte, through the real handler over loopback.
func TestFilesByteForByte(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "media", 10)
	sizes := []int64{0, 1, 5 * mb, 7 * mb, 100 * mb}
	if testing.Short() {
		sizes = sizes[:4]
	}
	for i, size := range sizes {
		seed := byte(i + 1)
		name := "media/f" + strconv.FormatInt(size, 10) + ".bin"
		e.ws.AddGeneratedFile(volumePath+"/"+name, size, seed, "")
		link := e.link(t, 1, name)
		t.Run(strconv.FormatInt(size, 10)+" bytes", func(t *testing.T) {
			resp, body := e.get(t, http.MethodGet, link, nil)
			if resp.StatusCode != http.StatusOK || int64(len(body)) != size || resp.ContentLength != size {
				t.Fatalf("whole file: status %d, %d bytes (Content-Length %d), want 200 and %d", resp.StatusCode, len(body), resp.ContentLength, size)
			}
			if size > 0 && digest(body) != digest(want(seed, size, 0, size-1)) {
				t.Fatal("whole file: the bytes differ from the workspace's")
			}
			type rng struct {
				header      string
				first, last int64 // expected; first < 0: 416
			}
			capped := func(first, last int64) int64 { return min(last, first+core.MaxRangeBytes-1, size-1) }
			cases := []rng{
				{"bytes=0-", 0, capped(0, size-1)},
				{"bytes=-1", max(size-1, 0), size - 1},
				{fmt.Sprintf("bytes=%d-", size), -1, 0},
			}
			if size > 2 {
				cases = append(cases,
					rng{fmt.Sprintf("bytes=1-%d", size-2), 1, capped(1, size-2)},
					rng{fmt.Sprintf("bytes=%d-", size/2), size / 2, capped(size/2, size-1)},
					rng{fmt.Sprintf("bytes=-%d", size/3), size - size/3, capped(size-size/3, size-1)},
					rng{fmt.Sprintf("bytes=%d-%d", size-2, size+100), size - 2, size - 1})
			}
			if size == 0 {
				// The workspace (net/http's ServeContent, as the fake)
				// answers a range of an empty file with the whole, empty,
				// file; so does the route.
				for _, h := range []string{"bytes=0-", "bytes=-1"} {
					resp, body := e.get(t, http.MethodGet, link, map[string]string{"Range": h})
					if resp.StatusCode != http.StatusOK || len(body) != 0 {
						t.Errorf("%s of an empty file: status %d, %d bytes; want 200, none", h, resp.StatusCode, len(body))
					}
				}
				return
			}
			for _, c := range cases {
				resp, body := e.get(t, http.MethodGet, link, map[string]string{"Range": c.header})
				if c.first < 0 {
					if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
						t.Errorf("%s: status %d Content-Range %q, want 416 bytes */%d", c.header, resp.StatusCode, resp.Header.Get("Content-Range"), size)
					}
					assertLSError(t, body, http.StatusRequestedRangeNotSatisfiable)
					continue
				}
				wantRange := fmt.Sprintf("bytes %d-%d/%d", c.first, c.last, size)
				if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantRange {
					t.Errorf("%s: status %d Content-Range %q, want 206 %q", c.header, resp.StatusCode, resp.Header.Get("Content-Range"), wantRange)
					continue
				}
				if !bytes.Equal(body, want(seed, size, c.first, c.last)) || resp.ContentLength != c.last-c.first+1 {
					t.Errorf("%s: %d bytes (Content-Length %d) differ from the workspace's bytes %d-%d", c.header, len(body), resp.ContentLength, c.first, c.last)
				}
			}
		})
	}
}

func assertLSError(t *testing.T, body []byte, status int) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	for _, k := range []string{"id", "status_code", "version", "detail", "exc_info"} {
		if _, ok := got[k]; !ok {
			t.Errorf("error body %s lacks %q (Label Studio's format)", body, k)
		}
	}
	if got["status_code"] != float64(status) {
		t.Errorf("status_code %v, want %d", got["status_code"], status)
	}
	return got
}

// What a browser relies on: type, validators, caching, CORS, HEAD, 304.
func TestFileHeaders(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "images", 10)
	e.ws.AddGeneratedFile(volumePath+"/images/cat.png", 1000, 7, "image/png")
	link := e.link(t, 1, "images/cat.png")

	resp, body := e.get(t, http.MethodGet, link, map[string]string{"Origin": testOrigin})
	h := resp.Header
	checks := map[string]string{
		"Content-Type":                  "image/png",
		"Accept-Ranges":                 "bytes",
		"Cache-Control":                 "private, max-age=3600",
		"Access-Control-Allow-Origin":   testOrigin,
		"Access-Control-Expose-Headers": "Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified",
		"X-Content-Type-Options":        "nosniff",
		"Content-Length":                "1000",
	}
	for k, v := range checks {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if resp.StatusCode != 200 || len(body) != 1000 || h.Get("ETag") == "" || h.Get("Last-Modified") == "" {
		t.Fatalf("status %d, %d bytes, ETag %q, Last-Modified %q", resp.StatusCode, len(body), h.Get("ETag"), h.Get("Last-Modified"))
	}
	etag := h.Get("ETag")

	head, hbody := e.get(t, http.MethodHead, link, nil)
	if head.StatusCode != 200 || len(hbody) != 0 || head.Header.Get("Content-Length") != "1000" || head.Header.Get("ETag") != etag || head.Header.Get("Content-Type") != "image/png" {
		t.Errorf("HEAD: status %d, %d body bytes, headers %v", head.StatusCode, len(hbody), head.Header)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag} {
		nm, nbody := e.get(t, http.MethodGet, link, map[string]string{"If-None-Match": inm})
		if nm.StatusCode != http.StatusNotModified || len(nbody) != 0 || nm.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: status %d, %d bytes, ETag %q; want 304", inm, nm.StatusCode, len(nbody), nm.Header.Get("ETag"))
		}
	}
	if other, _ := e.get(t, http.MethodGet, link, map[string]string{"If-None-Match": `"other"`}); other.StatusCode != 200 {
		t.Errorf("If-None-Match of another tag: status %d, want 200", other.StatusCode)
	}

	pre, _ := e.get(t, http.MethodOptions, link, map[string]string{"Origin": testOrigin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"})
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != testOrigin ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Range") || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: status %d, headers %v", pre.StatusCode, pre.Header)
	}
	post, pbody := e.get(t, http.MethodPost, link, nil)
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", post.StatusCode)
	}
	assertLSError(t, pbody, http.StatusMethodNotAllowed)
}

// A link opens its one file of its one storage: every other link is
// refused in Label Studio's format, and the workspace never hears of it.
func TestRefusedLinksNeverReachTheWorkspace(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "images", 10)
	e.store.addStorage(t, 2, e.ws.URL(), "images", 10)
	e.store.addStorage(t, 3, e.ws.URL(), "images", 10)
	e.ws.AddGeneratedFile(volumePath+"/images/a.jpg", 10, 1, "")
	e.ws.AddGeneratedFile(volumePath+"/images/b.jpg", 10, 2, "")
	e.ws.AddGeneratedFile(volumePath+"/secret.txt", 10, 3, "")
	good := e.link(t, 1, "images/a.jpg")
	capOf := func(link string) string {
		return strings.Split(strings.TrimPrefix(link, e.srv.URL+filecap.RoutePrefix), "/")[1]
	}
	capA := capOf(good)
	capB := capOf(e.link(t, 1, "images/b.jpg"))
	capOther := capOf(e.link(t, 2, "images/a.jpg"))
	_ = e.link(t, 3, "images/a.jpg") // storage 3 has a key
	// A capability the storage's key would give a path outside the prefix.
	values, _, _ := e.store.ReadSecret(context.Background(), "", mustRecord(t, e, 1).SecretVersionID)
	capOutside, err := filecap.Sign(values[filecap.SecretValue], 1, "secret.txt")
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(capA)
	tampered[3] ^= 1
	if tampered[3] == '-' || tampered[3] == '_' {
		tampered[3] = 'A'
	}
	base := e.srv.URL + filecap.RoutePrefix
	rotated := e.link(t, 3, "images/a.jpg")
	if err := e.manager.RotateFileKey(context.Background(), core.TrustedSource("test"), 3); err != nil {
		t.Fatal(err)
	}
	deleted := e.link(t, 2, "images/a.jpg")
	if err := e.manager.Delete(context.Background(), core.TrustedSource("test"), 2); err != nil {
		t.Fatal(err)
	}

	e.ws.ResetRequests()
	cases := []struct {
		name   string
		url    string
		status int
	}{
		{"tampered capability", base + "1/" + string(tampered) + "/images/a.jpg", 403},
		{"no capability", base + "1/-/images/a.jpg", 403},
		{"another path's capability", base + "1/" + capB + "/images/a.jpg", 403},
		{"another storage's capability", base + "1/" + capOther + "/images/a.jpg", 403},
		{"a capability under another storage's id", base + "2/" + capA + "/images/a.jpg", 404},
		{"a storage id it was not signed for", base + "3/" + capA + "/images/a.jpg", 403},
		{"signed but outside the prefix", base + "1/" + capOutside + "/secret.txt", 403},
		{"dot-dot", base + "1/" + capA + "/images/../secret.txt", 403},
		{"encoded dot-dot", base + "1/" + capA + "/images/%2e%2e/secret.txt", 403},
		{"encoded dot-dot upper case", base + "1/" + capA + "/images/%2E%2E/secret.txt", 403},
		{"encoded slash", base + "1/" + capA + "/images%2F..%2Fsecret.txt", 403},
		{"backslash", base + "1/" + capA + "/images/..%5Csecret.txt", 403},
		{"empty segment", base + "1/" + capA + "/images//a.jpg", 403},
		{"dot segment", base + "1/" + capA + "/images/./a.jpg", 403},
		{"NUL", base + "1/" + capA + "/images/a.jpg%00", 403},
		{"rotated key", rotated, 403},
		{"deleted storage", deleted, 404},
		{"not a storage id", base + "x/" + capA + "/images/a.jpg", 404},
		{"no path", base + "1/" + capA, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			// As sent: no client-side cleaning of dot segments.
			req.URL.Opaque = strings.TrimPrefix(c.url, e.srv.URL)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, c.status, body)
			}
			assertLSError(t, body, c.status)
		})
	}
	if n := e.fileRequests(); n != 0 {
		t.Errorf("the workspace got %d file requests for refused links, want 0", n)
	}
	// The good link still works, and the workspace sees exactly it.
	if resp, _ := e.get(t, http.MethodGet, good, nil); resp.StatusCode != 200 || e.fileRequests() != 1 {
		t.Errorf("the good link: status %d, %d workspace requests", resp.StatusCode, e.fileRequests())
	}
}

func mustRecord(t *testing.T, e *env, id int64) (r struct{ SecretVersionID string }) {
	t.Helper()
	rec, err := e.store.GetStorage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	r.SecretVersionID = rec.SecretVersionID
	return r
}

// An update of the credentials (a new secret version) keeps the file
// key: links made before keep working.
func TestUpdateKeepsFileLinks(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "images", 10)
	e.ws.AddGeneratedFile(volumePath+"/images/a.jpg", 10, 1, "")
	link := e.link(t, 1, "images/a.jpg")
	before, _ := e.store.GetStorage(context.Background(), 1)
	e.ws.AddPAT("dapi-new-token")
	changes, err := storage.Decoder{Hosts: hostguard.Policy{AllowPrivate: true}}.DecodeUpdate([]byte(`{"token": "dapi-new-token"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.manager.Update(context.Background(), core.TrustedSource("test"), 1, changes); err != nil {
		t.Fatal(err)
	}
	after, _ := e.store.GetStorage(context.Background(), 1)
	values, _, _ := e.store.ReadSecret(context.Background(), "", after.SecretVersionID)
	if after.SecretVersionID == before.SecretVersionID || values["token"] != "dapi-new-token" {
		t.Fatalf("the update wrote no new version with the new token")
	}
	if resp, body := e.get(t, http.MethodGet, link, nil); resp.StatusCode != 200 {
		t.Errorf("after an update of the token: status %d (%s), want 200", resp.StatusCode, body)
	}
	if got := e.ws.Requests(); len(got) == 0 || got[len(got)-1].Authorization != "Bearer dapi-new-token" {
		t.Errorf("the file was not read with the new token")
	}
}

// The workspace's failures become clear answers with none of its words.
func TestWorkspaceErrorsAreMapped(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "images", 1)
	e.ws.AddGeneratedFile(volumePath+"/images/a.jpg", 10, 1, "")
	link := e.link(t, 1, "images/a.jpg")
	cases := []struct {
		name    string
		set     func()
		status  int
		retry   bool
		missing bool
	}{
		{"404", func() { e.ws.SetStatus(volumePath+"/images/a.jpg", 404) }, 404, false, false},
		{"missing file", func() {}, 404, false, true},
		{"403", func() { e.ws.SetStatus(volumePath+"/images/a.jpg", 403) }, 502, false, false},
		{"429", func() { e.ws.SetStatus(volumePath+"/images/a.jpg", 429) }, 503, true, false},
		{"500", func() { e.ws.SetStatus(volumePath+"/images/a.jpg", 500) }, 502, false, false},
		{"503", func() { e.ws.SetStatus(volumePath+"/images/a.jpg", 503) }, 502, false, false},
		{"timeout", func() { e.ws.SetPathDelay(volumePath+"/images/a.jpg", 3*time.Second) }, 504, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.ws.SetStatus(volumePath+"/images/a.jpg", 0)
			e.ws.SetPathDelay(volumePath+"/images/a.jpg", 0)
			c.set()
			u := link
			if c.missing {
				u = e.link(t, 1, "images/none.jpg")
			}
			start := time.Now()
			resp, body := e.get(t, http.MethodGet, u, nil)
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, c.status, body)
			}
			got := assertLSError(t, body, c.status)
			if d, _ := got["detail"].(string); strings.Contains(d, "Forced") || strings.Contains(string(body), "PERMISSION_DENIED") {
				t.Errorf("the workspace's text is echoed: %s", body)
			}
			if c.retry && resp.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			if c.name == "timeout" && time.Since(start) > 2500*time.Millisecond {
				t.Errorf("answered after %s, want about request_timeout_s (1 s)", time.Since(start))
			}
		})
	}
}

// The capability is in no log line, raw or decoded, whatever happened.
func TestCapabilityNeverLogged(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "images", 1)
	e.ws.AddGeneratedFile(volumePath+"/images/a b+c.jpg", 100, 1, "")
	link := e.link(t, 1, "images/a b+c.jpg")
	capability := strings.Split(strings.TrimPrefix(link, e.srv.URL+filecap.RoutePrefix), "/")[1]
	e.get(t, http.MethodGet, link, nil)
	e.get(t, http.MethodGet, link, map[string]string{"Range": "bytes=5-"})
	e.get(t, http.MethodHead, link, nil)
	e.get(t, http.MethodGet, strings.Replace(link, "/images/", "/images/../", 1), nil)
	e.get(t, http.MethodGet, strings.Replace(link, capability, capability[:10]+"x"+capability[11:], 1), nil)
	e.ws.SetStatus(volumePath+"/images/a b+c.jpg", 500)
	e.get(t, http.MethodGet, link, nil)
	logs := e.logs.String()
	decoded, _ := url.PathUnescape(logs)
	for _, text := range []string{logs, decoded} {
		if strings.Contains(text, capability) || strings.Contains(text, capability[:20]) || strings.Contains(text, testPAT) {
			t.Fatalf("a log line holds the capability or the token:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"storage_id":1`) || !strings.Contains(logs, `"path":"images/a b+c.jpg"`) {
		t.Errorf("the log lines do not name the storage and the path:\n%s", logs)
	}
}

// A media player's later ranges carry If-Range with the validator of its
// first answer (Chromium does, seeking an <audio>): while the file is
// unchanged they are served as ranges (206), not as the whole file from
// byte 0 — which would re-send up to the whole file for each seek and
// break past a function URL's 200 MB answer. A validator the file no
// longer has gets the whole, current file (200), as HTTP asks.
func TestIfRangeServesTheRangeWhileTheFileIsUnchanged(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "media", 10)
	const size = 10 * mb
	e.ws.AddGeneratedFile(volumePath+"/media/tone.wav", size, 9, "audio/wav")
	link := e.link(t, 1, "media/tone.wav")
	first, _ := e.get(t, http.MethodGet, link, map[string]string{"Range": "bytes=0-"})
	etag, modified := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	if first.StatusCode != http.StatusPartialContent || etag == "" || modified == "" {
		t.Fatalf("first range: status %d, ETag %q, Last-Modified %q", first.StatusCode, etag, modified)
	}
	seek := int64(9 * mb)
	cases := []struct {
		name, ifRange string
		status        int
	}{
		{"its entity tag", etag, http.StatusPartialContent},
		{"its date", modified, http.StatusPartialContent},
		{"another entity tag", `"other"`, http.StatusOK},
		{"a weak entity tag (never matches)", "W/" + etag, http.StatusOK},
		{"another date", time.Unix(1, 0).UTC().Format(http.TimeFormat), http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.get(t, http.MethodGet, link, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", seek, size-1), "If-Range": c.ifRange})
			if resp.StatusCode != c.status {
				t.Fatalf("status %d (%d bytes), want %d", resp.StatusCode, len(body), c.status)
			}
			wantFirst := seek
			if c.status == http.StatusOK {
				wantFirst = 0
			}
			if !bytes.Equal(body, want(9, size, wantFirst, size-1)) {
				t.Errorf("%d bytes differ from the workspace's bytes %d-%d", len(body), wantFirst, size-1)
			}
		})
	}
}
