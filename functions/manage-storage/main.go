// Command manage-storage is the Lambda function behind the rest of a
// storage's life: GET (list, get), PATCH, PUT and DELETE of
// /api/storages/databricks/, POST …/validate, …/files and …/{id}/sync, and
// direct get, update, delete and sync invocations. Its role may read, version and delete the
// storage secrets; it creates none.
package main

import (
	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/syncqueue"
	"github.com/lsdbx/databricks-storage/openapi"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app.RunLambda(version, app.Options{Role: app.RoleManage, OpenAPI: openapi.Document, Sync: syncqueue.Parts, Export: syncqueue.ExportParts})
}
