package syncmsg_test

import (
	"errors"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/syncmsg"
)

func TestMessagesRoundTrip(t *testing.T) {
	for _, m := range []core.SyncMessage{{Storage: 3, Job: "j", Step: 7}, {Storage: 3, Purge: true}} {
		got, err := syncmsg.Decode(syncmsg.Encode(m))
		if err != nil || got != m {
			t.Errorf("Decode(Encode(%+v)) = %+v, %v", m, got, err)
		}
	}
	for _, m := range []core.ExportMessage{{Storage: 3, Annotation: 9, Deleted: true}, {Storage: 3, Job: "j", Step: 2}} {
		got, err := syncmsg.DecodeExport(syncmsg.EncodeExport(m))
		if err != nil || got != m {
			t.Errorf("DecodeExport(EncodeExport(%+v)) = %+v, %v", m, got, err)
		}
	}
}

func TestMalformedMessages(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"storage": 0, "job": "j"}`, `{"storage": 1}`, `{"storage": 1, "job": "j", "step": -1}`,
		`{"storage": 1, "job": "j", "token": "x"}`, `[1]`} {
		if _, err := syncmsg.Decode(body); !errors.Is(err, syncmsg.ErrMalformed) {
			t.Errorf("Decode(%s) = %v, want ErrMalformed", body, err)
		}
	}
	for _, body := range []string{`{}`, `{"export_storage": 1}`, `{"export_storage": 1, "annotation": -1}`, `{"storage": 1, "annotation": 2}`} {
		if _, err := syncmsg.DecodeExport(body); !errors.Is(err, syncmsg.ErrMalformed) {
			t.Errorf("DecodeExport(%s) = %v, want ErrMalformed", body, err)
		}
	}
}
