package app

import (
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
)

// newLabelStudio builds the Label Studio authenticator and project access
// for cfg; the service credential is read on first need, not here, so a
// cold start waits for no secret.
func newLabelStudio(cfg config.Config, sm secretstore.ValueGetter) *labelstudio.Authenticator {
	a := labelstudio.NewAuthenticator(labelstudio.NewServiceClient(cfg.LabelStudio.URL, secretstore.Text(sm, cfg.LabelStudio.TokenSecret)))
	a.CacheTTL = cfg.TokenCacheTTL
	return a
}
