package storage_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// secretRequests are requests carrying both secrets, decoded as a client
// would send them.
func secretRequests(t *testing.T) map[string]storage.Request {
	t.Helper()
	cs := jsonString(testClientSecret)
	return map[string]storage.Request{
		"pat with both": mustDecode(t, baseFields().with("client_secret", cs).body()),
		"dbx_sp": mustDecode(t, baseFields().without("token").with(
			"auth_type", `"dbx_sp"`, "client_id", `"sp-client"`, "client_secret", cs).body()),
	}
}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{testToken, testClientSecret} {
		if strings.Contains(out, s) {
			t.Errorf("%s leaks a secret: %s", what, out)
		}
	}
}

func TestSecretsNeverRenderedByFmt(t *testing.T) {
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.3v"}
	for name, req := range secretRequests(t) {
		values := map[string]any{
			"Request":         req,
			"*Request":        &req,
			"Secrets":         req.Secrets,
			"*Secrets":        &req.Secrets,
			"Connection":      storage.Connection{Host: req.Host, Secrets: req.Secrets},
			"[]Request":       []storage.Request{req},
			"map of Request":  map[string]storage.Request{"r": req},
			"struct of field": struct{ Inner storage.Request }{req},
		}
		for vname, v := range values {
			for _, verb := range verbs {
				out := fmt.Sprintf(verb, v)
				assertNoSecret(t, fmt.Sprintf("%s: %s of %s", name, verb, vname), out)
			}
			assertNoSecret(t, name+": Sprint of "+vname, fmt.Sprint(v))
			assertNoSecret(t, name+": Sprintln of "+vname, fmt.Sprintln(v))
		}
		// The renderings still show the request itself, so the test above
		// is not passing on empty output.
		if out := fmt.Sprintf("%+v", req); !strings.Contains(out, req.Host) || !strings.Contains(out, "[REDACTED]") {
			t.Errorf("%s: %%+v = %s, want the host and a redaction marker", name, out)
		}
		if out := req.Secrets.String(); out != "[REDACTED]" {
			t.Errorf("Secrets.String() = %q", out)
		}
		if out := req.Secrets.GoString(); out != "[REDACTED]" {
			t.Errorf("Secrets.GoString() = %q", out)
		}
	}
}

func TestSecretsNeverRenderedByJSON(t *testing.T) {
	for name, req := range secretRequests(t) {
		for vname, v := range map[string]any{
			"Request":    req,
			"*Request":   &req,
			"Secrets":    req.Secrets,
			"Connection": storage.Connection{Host: req.Host, Secrets: req.Secrets},
			"Storage":    storage.Storage{ID: 1, Type: storage.StorageType, Settings: req.Settings},
			"Record":     storage.Record{Storage: storage.Storage{ID: 1, Settings: req.Settings}, SecretARN: "arn:aws:secretsmanager:x"},
		} {
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s: json.Marshal(%s): %v", name, vname, err)
			}
			assertNoSecret(t, name+": JSON of "+vname, string(out))
			for _, key := range []string{`"token"`, `"client_secret"`} {
				if bytes.Contains(out, []byte(key)) {
					t.Errorf("%s: JSON of %s has the key %s: %s", name, vname, key, out)
				}
			}
		}
		// A Request renders its settings at the top level.
		out, _ := json.Marshal(req)
		if !bytes.Contains(out, []byte(`"catalog":"main"`)) {
			t.Errorf("%s: JSON of Request = %s, want its settings", name, out)
		}
	}
}

func TestSecretsNeverRenderedBySlog(t *testing.T) {
	for name, req := range secretRequests(t) {
		for hname, mk := range map[string]func(*bytes.Buffer) slog.Handler{
			"json": func(b *bytes.Buffer) slog.Handler {
				return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
			},
			"text": func(b *bytes.Buffer) slog.Handler {
				return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
			},
		} {
			var buf bytes.Buffer
			log := slog.New(mk(&buf))
			log.Debug("request", "request", req)
			log.Info("request", slog.Any("request", &req))
			log.Warn("secrets", slog.Any("secrets", req.Secrets))
			log.Error("connection", slog.Any("conn", storage.Connection{Host: req.Host, Secrets: req.Secrets}))
			log.With("req", req).Info("with")
			log.Info("group", slog.Group("g", slog.Any("r", req)))
			assertNoSecret(t, name+": slog "+hname, buf.String())
			if !strings.Contains(buf.String(), "landing") {
				t.Errorf("%s: slog %s output does not show the request: %s", name, hname, buf.String())
			}
		}
	}
}
