// Command files is the Lambda function behind the file route,
// GET|HEAD|OPTIONS /data/databricks/<storage id>/<capability>/<path>: it
// streams a storage's file from its Databricks workspace to the holder of
// a signed link, through a function URL in response-streaming mode. Its
// role reads storage records and storage secrets, nothing else.
package main

import "github.com/lsdbx/databricks-storage/internal/filesapp"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { filesapp.RunFiles(version) }
