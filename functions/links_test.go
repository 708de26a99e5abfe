// Package functions_test pins what each Lambda function links of this
// module: the packages that ship. Development tooling (internal/dev/…:
// the local environment, fakes, emulator drivers, fault injection) never
// does; a new package in a function is a decision this test makes visible.
package functions_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/lsdbx/databricks-storage/"

// shipped lists, per function, the module's packages it links.
var shipped = map[string][]string{
	// No SQS client: the create function sends no message (syncmsg only
	// decodes, for the shared event handlers).
	"create-storage": {"internal/apierror", "internal/app", "internal/auth", "internal/awsclients", "internal/boot", "internal/config", "internal/core", "internal/databricks",
		"internal/dynamostore", "internal/dynamostore/tokenstore", "internal/eventsource", "internal/filecap", "internal/hostguard",
		"internal/httpapi", "internal/labelstudio", "internal/logging", "internal/metrics", "internal/secretstore", "internal/storage", "internal/syncmsg", "openapi"},
	"manage-storage": {"internal/apierror", "internal/app", "internal/auth", "internal/awsclients", "internal/boot", "internal/config", "internal/core", "internal/databricks",
		"internal/dynamostore", "internal/dynamostore/tokenstore", "internal/eventsource", "internal/filecap", "internal/hostguard",
		"internal/httpapi", "internal/labelstudio", "internal/logging", "internal/metrics", "internal/secretstore", "internal/storage", "internal/syncmsg", "internal/syncqueue", "openapi"},
	// The file route links no API-key, Label Studio, storage-API or
	// event-source code.
	"files": {"internal/apierror", "internal/awsclients", "internal/boot", "internal/config", "internal/core",
		"internal/databricks", "internal/dynamostore", "internal/filecap", "internal/fileproxy", "internal/filesapp",
		"internal/hostguard", "internal/logging", "internal/metrics", "internal/secretstore", "internal/storage"},
	// The sync worker links no HTTP API, token or storage-API code.
	"sync-worker": {"internal/apierror", "internal/auth", "internal/awsclients", "internal/boot", "internal/config", "internal/core", "internal/databricks",
		"internal/dynamostore", "internal/eventsource", "internal/filecap", "internal/hostguard", "internal/labelstudio", "internal/logging",
		"internal/metrics", "internal/secretstore", "internal/storage", "internal/syncapp", "internal/syncmsg", "internal/syncqueue"},
	// The export writer links no HTTP API, token or storage-API code.
	"export-writer": {"internal/apierror", "internal/auth", "internal/awsclients", "internal/boot", "internal/config", "internal/core", "internal/databricks",
		"internal/dynamostore", "internal/eventsource", "internal/exportapp", "internal/filecap", "internal/hostguard", "internal/labelstudio", "internal/logging",
		"internal/metrics", "internal/secretstore", "internal/storage", "internal/syncmsg", "internal/syncqueue"},
	// The sweep links no HTTP, token or event-source code.
	"sweep": {"internal/awsclients", "internal/boot", "internal/config", "internal/core", "internal/dynamostore", "internal/filecap", "internal/hostguard",
		"internal/logging", "internal/metrics", "internal/secretstore", "internal/storage", "internal/sweep"},
}

func TestFunctionsLinkOnlyShippedPackages(t *testing.T) {
	for fn, want := range shipped {
		t.Run(fn, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "./"+fn).Output()
			if err != nil {
				t.Fatalf("go list -deps ./%s: %v", fn, err)
			}
			var got []string
			for _, p := range strings.Fields(string(out)) {
				rel, ok := strings.CutPrefix(p, module)
				if !ok || strings.HasPrefix(rel, "functions/") {
					continue
				}
				if strings.HasPrefix(rel, "internal/dev/") {
					t.Errorf("%s links the development package %s", fn, rel)
				}
				got = append(got, rel)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s links\n  %v\nwant\n  %v", fn, got, want)
			}
		})
	}
}
