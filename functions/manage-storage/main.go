// Command manage-storage is the Lambda function behind the rest of a
// storage's life: GET (list, get), PATCH, PUT and DELETE of
// /api/storages/databricks/, POST …/validate and …/files, and direct get,
// update and delete invocations. Its role may read, version and delete the
// storage secrets; it creates none.
package main

import "github.com/lsdbx/databricks-storage/internal/app"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { app.RunLambda(version, app.Options{Role: app.RoleManage}) }
