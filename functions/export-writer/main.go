// Command export-writer is the Lambda function behind the export queue:
// each message is the write (or removal) of one annotation's file in an
// export storage's volume, taken from a Label Studio webhook delivery, or
// one step of an export sync (a page of the project's annotations
// written, the next step queued). Its role reads export storage records
// and secrets, keeps export syncs and annotation records, and sends its
// own next steps.
package main

import "github.com/lsdbx/databricks-storage/internal/exportapp"

func main() { exportapp.Run() }
