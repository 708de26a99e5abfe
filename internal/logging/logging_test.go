package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/logging"
)

func TestParseLevel(t *testing.T) {
	cases := map[string]slog.Level{
		"TRACE": slog.LevelDebug, "DEBUG": slog.LevelDebug, "debug": slog.LevelDebug,
		"INFO": slog.LevelInfo, "info": slog.LevelInfo,
		"WARN": slog.LevelWarn, "warning": slog.LevelWarn, " Warn ": slog.LevelWarn,
		"ERROR": slog.LevelError, "FATAL": slog.LevelError, "error": slog.LevelError,
		"": slog.LevelInfo, "verbose": slog.LevelInfo, "5": slog.LevelInfo,
	}
	for in, want := range cases {
		if got := logging.ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNewWritesJSONAtTheLevel(t *testing.T) {
	cases := []struct {
		level string
		want  []string // levels that get through
	}{
		{"DEBUG", []string{"DEBUG", "INFO", "WARN", "ERROR"}},
		{"", []string{"INFO", "WARN", "ERROR"}},
		{"WARN", []string{"WARN", "ERROR"}},
		{"ERROR", []string{"ERROR"}},
	}
	for _, c := range cases {
		t.Run(c.level, func(t *testing.T) {
			var buf bytes.Buffer
			log := logging.New(&buf, c.level)
			log.Debug("m", "k", 1)
			log.Info("m", "k", 1)
			log.Warn("m", "k", 1)
			log.Error("m", "k", 1)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if line == "" {
					continue
				}
				var entry struct {
					Level string  `json:"level"`
					Msg   string  `json:"msg"`
					K     float64 `json:"k"`
					Time  string  `json:"time"`
				}
				if err := json.Unmarshal([]byte(line), &entry); err != nil {
					t.Fatalf("not a JSON line: %v: %s", err, line)
				}
				if entry.Msg != "m" || entry.K != 1 || entry.Time == "" {
					t.Errorf("entry = %+v", entry)
				}
				got = append(got, entry.Level)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("levels logged = %v, want %v", got, c.want)
			}
		})
	}
}
