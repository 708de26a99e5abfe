package fileproxy_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const memoryChildEnv = "FILEPROXY_MEMORY_CHILD"

// Serving a 100 MB file raises the process's resident memory by less than
// 16 MB: the file streams through a small buffer. Measured in a child
// process (this test run again), whose RSS holds nothing but this: the
// fake workspace, the route and the client, all in it.
func TestServing100MBKeepsMemoryFlat(t *testing.T) {
	if os.Getenv(memoryChildEnv) == "1" {
		memoryChild(t)
		return
	}
	if testing.Short() {
		t.Skip("serves 100 MB")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServing100MBKeepsMemoryFlat$", "-test.v")
	cmd.Env = append(os.Environ(), memoryChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`RSS_RISE=(\d+) BYTES=(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("child said nothing measurable:\n%s", out)
	}
	rise, _ := strconv.ParseInt(string(m[1]), 10, 64)
	n, _ := strconv.ParseInt(string(m[2]), 10, 64)
	t.Logf("serving %d bytes raised the RSS by %.1f MB", n, float64(rise)/(1<<20))
	if n != 100*mb {
		t.Fatalf("served %d bytes, want %d", n, 100*mb)
	}
	if rise >= 16*mb {
		t.Errorf("serving 100 MB raised the RSS by %.1f MB, want < 16 MB", float64(rise)/(1<<20))
	}
}

func memoryChild(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "big", 30)
	e.ws.AddGeneratedFile(volumePath+"/big/warm.bin", 1*mb, 1, "")
	e.ws.AddGeneratedFile(volumePath+"/big/100.bin", 100*mb, 2, "")
	warm, big := e.link(t, 1, "big/warm.bin"), e.link(t, 1, "big/100.bin")
	// Warm up: connections, TLS, buffers, the first use of every path.
	for range 3 {
		download(t, warm)
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := status(t, "VmRSS")
	// Reset the peak (VmHWM) to the current RSS where the kernel allows,
	// and sample the RSS meanwhile, to take the higher of both.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	var peak int64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if v := status(t, "VmRSS"); v > 0 {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	n, sum := download(t, big)
	close(stop)
	<-done
	peak = max(peak, status(t, "VmHWM"))
	if want := fmt.Sprintf("%x", sha256sumGenerated(2, 100*mb)); sum != want {
		t.Fatalf("the 100 MB differ from the workspace's bytes")
	}
	fmt.Printf("RSS_RISE=%d BYTES=%d\n", peak-base, n)
}

func download(t *testing.T, url string) (int64, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	return n, fmt.Sprintf("%x", h.Sum(nil))
}

func sha256sumGenerated(seed byte, size int64) []byte {
	h := sha256.New()
	_, _ = io.Copy(h, fakeworkspaceGenerated(seed, size))
	return h.Sum(nil)
}

// status reads a field of /proc/self/status in bytes.
func status(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
