package storage_test

import (
	"reflect"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// An empty patch over a stored storage decodes back to the same settings
// and secrets, for every field the sample events set.
func TestEmptyPatchRoundTrips(t *testing.T) {
	for name, body := range eventBodies(t) {
		req, err := storage.Decoder{}.DecodeRequest([]byte(body))
		if err != nil {
			continue // the invalid samples
		}
		t.Run(name, func(t *testing.T) {
			merged, err := storage.Decoder{}.DecodeRequest(storage.Patch{}.Apply(req.Settings, req.Secrets))
			if err != nil {
				t.Fatalf("decode merged: %v", err)
			}
			if !reflect.DeepEqual(merged.Settings, req.Settings) || merged.Secrets != req.Secrets {
				t.Errorf("round trip changed the storage:\n got %+v\nwant %+v", merged.Settings, req.Settings)
			}
		})
	}
}

func TestPatchReplacesOnlyItsFields(t *testing.T) {
	req := mustDecode(t, baseFields().with("title", `"Old"`, "prefix", `"a/b"`).body())
	p, err := storage.DecodePatch([]byte(`{"title": null, "verify_tls": false}`))
	if err != nil {
		t.Fatal(err)
	}
	merged := mustDecode(t, p.Apply(req.Settings, req.Secrets))
	if merged.Title != nil || merged.VerifyTLS || *merged.Prefix != "a/b" || merged.Secrets.Token != testToken {
		t.Errorf("merged = %+v", merged.Settings)
	}
	if !merged.NeedsCheck(req.Settings, req.Secrets) {
		t.Errorf("verify_tls changed, but no check is needed")
	}
	title, _ := storage.DecodePatch([]byte(`{"title": "x", "request_timeout_s": 3}`))
	if mustDecode(t, title.Apply(req.Settings, req.Secrets)).NeedsCheck(req.Settings, req.Secrets) {
		t.Errorf("only title and timeout changed, yet a check is needed")
	}
}

func TestDecodePatchRefusesNonObjects(t *testing.T) {
	for _, body := range []string{"", "[]", "null", `"x"`, "{} {}", "{"} {
		if _, err := storage.DecodePatch([]byte(body)); err == nil {
			t.Errorf("DecodePatch(%q) succeeded", body)
		}
	}
}
