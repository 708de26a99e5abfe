// Command create-storage is the Lambda function behind
// POST /api/storages/databricks/ and the SQS, EventBridge and direct
// creates. Its role may create secrets but never read one, so it builds the
// create-only service.
package main

import "github.com/lsdbx/databricks-storage/internal/app"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { app.RunLambda(version, app.Options{Role: app.RoleCreate}) }
