//go:build integration

package localenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
)

// TestCreateInTheLocalEnvironment starts its own moto (a missing one is a
// failure) and creates a storage through the service built in this process
// from the exported environment, with the seeded token and the fake
// workspace.
func TestCreateInTheLocalEnvironment(t *testing.T) {
	ctx := context.Background()
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // OwnAWS ignores it
	e, err := localenv.Start(ctx, localenv.Options{Table: "localenv-test", SecretPrefix: "localenv-test/", OwnAWS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Moto == nil || e.Endpoint != e.Moto.URL {
		t.Fatalf("endpoint %s: want a moto of its own", e.Endpoint)
	}
	for k := range e.Vars() {
		t.Setenv(k, os.Getenv(k)) // restored after the test
	}
	e.Export()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), e.AppOptions())
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"project": 7, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "token": %q}`,
		e.WorkspaceURL(), fakeworkspace.DefaultPAT)
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/api/storages/databricks/", Body: body,
		Headers: map[string]string{"authorization": "Token " + e.Token, "content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/api/storages/databricks/"},
		},
	})
	out, err := a.Dispatcher.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %s (%v)", out, err)
	}
}
