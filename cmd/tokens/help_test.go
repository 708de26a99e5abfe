package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

// -h names the table's default once, whatever TABLE_NAME holds.
func TestHelpNamesTheTableDefaultOnce(t *testing.T) {
	getenv := func(k string) string {
		if k == "TABLE_NAME" {
			return "label-studio-databricks-storage-local"
		}
		return ""
	}
	for _, cmd := range []string{"create", "list", "revoke"} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{cmd, "-h"}, &stdout, &stderr, getenv); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s -h: %v", cmd, err)
		}
		help := stderr.String()
		if n := strings.Count(help, "default"); !strings.Contains(help, "(default $TABLE_NAME)") || strings.Contains(help, "storage-local") ||
			(cmd == "create" && n != 2) || (cmd != "create" && n != 1) {
			t.Errorf("%s -h:\n%s", cmd, help)
		}
	}
}
