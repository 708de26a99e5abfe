package databricks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// TestSubdirectoryFailureOfUnknownCause: an error fail cannot classify
// keeps its text, redacted, in a plain error; for a subdirectory, whose
// path the workspace chose, that text names the listed directory instead,
// in every encoding the SDK or net/url would give the path.
func TestSubdirectoryFailureOfUnknownCause(t *testing.T) {
	const root = "/Volumes/main/default/landing"
	dir := root + "/chosen by the workspace/ünïcode#?"
	ck := &check{
		op:      "files listing",
		conn:    storage.Connection{AuthType: storage.AuthPAT, Secrets: storage.Secrets{Token: "dapi-secret"}},
		host:    "example.invalid",
		volume:  root,
		target:  root,
		timeout: time.Second,
		parent:  context.Background(),
		ctx:     context.Background(),
	}
	l := &walker{ck: ck}
	escaped := "/Volumes/main/default/landing/chosen%20by%20the%20workspace/%C3%BCn%C3%AFcode%23%3F"
	cause := errors.New("odd failure of GET https://example.invalid/api/2.0/fs/directories" + escaped + " (" + dir + ") with dapi-secret")
	err := l.failure(cause, dir)
	var ce *storage.ConnectionError
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("err = %v, want a plain error", err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, s := range []string{"chosen", "workspace/", "code", "dapi-secret"} {
		if strings.Contains(msg, s) {
			t.Errorf("the error holds %q: %s", s, msg)
		}
	}
	if !strings.Contains(msg, "a subdirectory of "+root) || !strings.Contains(msg, root+"/…") {
		t.Errorf("the error does not name the listed directory: %s", msg)
	}
}
