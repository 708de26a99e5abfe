// Command sync-worker is the Lambda function behind the sync queue: each
// message is one step of a storage's sync (a page of the volume listed,
// its new files imported into the Label Studio project, their links
// written, the next step queued) or the removal of a deleted storage's
// links. Its role reads storage records and secrets, keeps syncs and
// links, and sends its own next steps.
package main

import "github.com/lsdbx/databricks-storage/internal/syncapp"

func main() { syncapp.Run() }
