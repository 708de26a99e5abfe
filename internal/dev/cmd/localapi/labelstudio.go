package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// labelStudio is the Label Studio of a local run: started here, or the one
// LABEL_STUDIO_URL names; none with LABEL_STUDIO=off.
type labelStudio struct {
	url    *url.URL
	server *devls.Server // nil unless started here
	token  string        // the token printed: the admin's, when started here
}

func (l *labelStudio) stop() {
	if l.server != nil {
		fmt.Println("Stopping Label Studio.")
		l.server.Stop()
	}
}

// startLabelStudio picks the mode: LABEL_STUDIO=off keeps the standalone
// service (its own API keys); LABEL_STUDIO_URL uses that Label Studio with
// LABEL_STUDIO_TOKEN as the service credential; otherwise Label Studio OSS
// from .venv-ls is started. The service credential goes into the local
// Secrets Manager and the service is pointed at it (LABEL_STUDIO_URL,
// LABEL_STUDIO_TOKEN_SECRET), as the template does in AWS.
func startLabelStudio(ctx context.Context, env *localenv.Env) (*labelStudio, error) {
	l := &labelStudio{}
	if os.Getenv("LABEL_STUDIO") == "off" {
		os.Unsetenv("LABEL_STUDIO_URL")
		return l, nil
	}
	base, token := os.Getenv("LABEL_STUDIO_URL"), os.Getenv("LABEL_STUDIO_TOKEN")
	// The service reads the credential from the secret only.
	os.Unsetenv("LABEL_STUDIO_TOKEN")
	if base == "" {
		logPath := filepath.Join("build", "local", "label-studio.log")
		_ = os.MkdirAll(filepath.Dir(logPath), 0o755)
		logFile, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		fmt.Printf("Label Studio's output goes to %s (LABEL_STUDIO=off runs without Label Studio).\n", logPath)
		l.server, err = devls.Start(ctx, devls.Options{Venv: cmp.Or(os.Getenv("LABEL_STUDIO_VENV"), devls.DefaultVenv), Log: logFile, Progress: os.Stdout})
		if err != nil {
			return nil, err
		}
		base, token = l.server.URL, l.server.Token
	} else if token == "" {
		return nil, errors.New("LABEL_STUDIO_URL needs LABEL_STUDIO_TOKEN: the API token of a Label Studio account the service uses to check projects")
	}
	u, err := url.Parse(base)
	if err != nil {
		l.stop()
		return nil, fmt.Errorf("LABEL_STUDIO_URL: %w", err)
	}
	arn, err := devls.PutServiceToken(ctx, env.AWS, devls.ServiceTokenSecret, token)
	if err != nil {
		l.stop()
		return nil, err
	}
	os.Setenv("LABEL_STUDIO_URL", base)
	os.Setenv("LABEL_STUDIO_TOKEN_SECRET", arn)
	l.url, l.token = u, token
	return l, nil
}

// describe prints the one address, the login and a token.
func (l *labelStudio) describe(addr, workspace string) {
	front := "http://" + addr
	fmt.Printf("\nLabel Studio and the Databricks storage API, one address: %s\n", front)
	if l.server != nil {
		fmt.Printf("  Label Studio %s (at %s behind it); log in as %s / %s\n", devls.Version, l.server.URL, l.server.Email, l.server.Password)
		fmt.Printf("  API token (legacy): %s\n", l.token)
	} else {
		fmt.Printf("  Label Studio at %s behind it; use your own Label Studio token.\n", l.url.Redacted())
	}
	tok := labelstudio.AuthorizationFor(l.token)
	if l.server == nil {
		tok = "Token <your token>"
	}
	fmt.Printf(`Try, with label-studio-sdk (.venv/bin/python):
  from label_studio_sdk import LabelStudio
  ls = LabelStudio(base_url=%q, api_key=%q)
  p = ls.projects.create(title="Databricks")
  s = ls.import_storage.databricks.create(project=p.id, host=%q, catalog="main",
        schema="default", volume="landing", prefix="images", token=%q)
or curl -H 'Authorization: %s' %s/api/storages/databricks/?project=1
Press Ctrl+C to stop.
`, front, tokenOnly(l.token, l.server != nil), workspace, fakeworkspace.DefaultPAT, tok, front)
}

func tokenOnly(token string, known bool) string {
	if !known {
		return "<your token>"
	}
	return token
}
