package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The sweep deletes secrets with the storage functions' configuration and
// AWS clients (packages config and awsclients) and nothing of what serves
// requests: no HTTP handler, token, event-source, workspace or wiring code
// reaches its binary, so none of it can change what the sweep does.
func TestSweepLinksNoRequestHandling(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	const module = "github.com/lsdbx/databricks-storage/"
	for _, pkg := range []string{"internal/config", "internal/awsclients", "internal/sweep"} {
		if !slices.Contains(deps, module+pkg) {
			t.Errorf("the sweep does not link %s", pkg)
		}
	}
	for _, pkg := range []string{
		"internal/httpapi", "internal/eventsource", "internal/auth", "internal/dynamostore/tokenstore",
		"internal/apierror", "internal/databricks", "internal/app", "openapi",
	} {
		if slices.Contains(deps, module+pkg) {
			t.Errorf("the sweep links %s", pkg)
		}
	}
}
