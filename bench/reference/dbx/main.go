// Command dbx is the second reference Lambda of the benchmarks: package
// refkit's AWS clients plus the Databricks SDK packages the service links
// (client, config, httpclient, apierr, service/files), reachable from the
// handler, so the linker keeps them and their init work runs at start-up:
// the cold start and size floor of the chosen dependencies. The SDK is
// only called when the event names a host, which the benchmarks never do.
package main

import (
	"context"
	"os"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/httpclient"
	"github.com/databricks/databricks-sdk-go/service/files"

	"github.com/lsdbx/databricks-storage/bench/reference/refkit"
)

func main() {
	host := os.Getenv("REFERENCE_DATABRICKS_HOST")
	refkit.Main(func(ctx context.Context) error {
		if host == "" {
			return nil
		}
		cfg := &config.Config{Host: host, Token: os.Getenv("REFERENCE_DATABRICKS_TOKEN")}
		api := httpclient.NewApiClient(httpclient.ClientConfig{Host: host, AuthVisitor: cfg.Authenticate, ErrorMapper: apierr.GetAPIError})
		dbc, err := client.NewWithClient(cfg, api)
		if err != nil {
			return err
		}
		return files.NewFiles(dbc).GetDirectoryMetadataByDirectoryPath(ctx, "/Volumes/c/s/v")
	})
}
