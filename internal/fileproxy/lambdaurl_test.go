package fileproxy_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdaurl"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/fileproxy"
)

// Through the adapter the files function runs (lambdaurl.Wrap, function
// URL response streaming), a 7 MB file — more than a buffered Lambda
// answer holds — and a range come out byte for byte, with the headers.
// (The Lambda RIE cannot show streaming: it reads a whole answer and caps
// it at 6 MB.)
func TestFilesThroughTheFunctionURLAdapter(t *testing.T) {
	e := newEnv(t)
	e.store.addStorage(t, 1, e.ws.URL(), "media", 10)
	size := int64(7 * mb)
	e.ws.AddGeneratedFile(volumePath+"/media/clip.mp4", size, 9, "video/mp4")
	link, err := url.Parse(e.link(t, 1, "media/clip.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	handler := e.srv.Config.Handler.(*fileproxy.Handler)
	invoke := lambdaurl.Wrap(handler)
	for _, c := range []struct {
		rng         string
		status      int
		first, last int64
	}{
		{"", 200, 0, size - 1},
		{"bytes=1000-", 206, 1000, 1000 + core.MaxRangeBytes - 1},
		{"bytes=-10", 206, size - 10, size - 1},
	} {
		headers := map[string]string{"origin": testOrigin}
		if c.rng != "" {
			headers["range"] = c.rng
		}
		resp, err := invoke(context.Background(), &events.LambdaFunctionURLRequest{
			RawPath: link.EscapedPath(),
			Headers: headers,
			RequestContext: events.LambdaFunctionURLRequestContext{
				DomainName: "files.example.com",
				HTTP:       events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET", Path: link.Path},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		last := min(c.last, size-1)
		if resp.StatusCode != c.status || !bytes.Equal(body, want(9, size, c.first, last)) {
			t.Errorf("%q: status %d, %d bytes; want %d and the workspace's bytes %d-%d", c.rng, resp.StatusCode, len(body), c.status, c.first, last)
		}
		if resp.Headers["Content-Type"] != "video/mp4" || resp.Headers["Access-Control-Allow-Origin"] != testOrigin ||
			(c.status == 206 && !strings.HasPrefix(resp.Headers["Content-Range"], "bytes ")) {
			t.Errorf("%q: headers %v", c.rng, resp.Headers)
		}
	}
}
