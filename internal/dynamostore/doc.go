// Package dynamostore is the one place that knows the service's DynamoDB
// table: its item types, keys, conditions and time to live. It keeps storage
// records, the storage id counter, idempotency keys and failure records;
// its subpackage tokenstore keeps API tokens in the same table.
//
// Single table, partition key "pk" (S) only. Item types, by key:
//
//	STORAGE#<id>                  a storage record: the storage's fields under
//	                              their API names (see recordItem), "kind"
//	                              "storage", "secret_arn", the ARN of the
//	                              secret that holds its credentials, and
//	                              "secret_version_id", the version of that
//	                              secret it goes with (absent in records
//	                              written before: AWSCURRENT).
//	EXPORT#<id>                   an export storage's record: as STORAGE#, "kind"
//	                              "export_storage", with "can_delete_objects"
//	                              and without "presign", "presign_ttl" and
//	                              "recursive_scan" (Store with Kind export).
//	COUNTER#storage-id            the id counter ("value" N), advanced in blocks
//	COUNTER#export-storage-id     (see IDBlocks); the second numbers the export
//	                              storages, apart.
//	IDEMPOTENCY#<scope>:<key>     an idempotency key (EXPORT-IDEMPOTENCY#… of an
//	                              export storage's create): "fingerprint" of the
//	                              request, "storage_id" N it created, and
//	                              "expires_at"; written with its storage record
//	                              in one transaction.
//	FAILURE#<source>#<message>    a permanent failure of an SQS message or
//	                              EventBridge event: "error_kind", "status_code",
//	                              "detail", "validation_errors" (a map of
//	                              lists), "expires_at".
//	TOKEN#<sha256 hex of token>   an API token (package tokenstore): "token_id",
//	                              "user", "organization", "all_projects",
//	                              "projects" NS, "created_at", "expires_at",
//	                              "revoked_at". The plaintext is never stored.
//	SYNC#<id>                     a storage's sync (type Syncs): its job, status,
//	                              times and counts (what the storage shows), the
//	                              next step and its listing cursor, the lease of
//	                              the step running, "unsettled"/"settled_below"
//	                              (an import whose tasks may lack links) and
//	                              "revision" (conditional writes).
//	LINK#<id>#<sha256 hex of key> a file imported by a sync: "link_storage" N,
//	                              "key" (the path under the volume), "tasks" (a
//	                              list of task ids, one per row of the file).
//	WEBHOOK#<id>                  the Label Studio webhook of export storage <id>:
//	                              "webhook" N, its id there (its secret is in
//	                              the storage's secret, never here).
//
// "expires_at" (epoch seconds) is the table's time-to-live attribute
// (TTLAttribute); code checks expiry itself, because DynamoDB deletes late.
// The global secondary index "by-project" (hash "project" N, range "id" N)
// lists a project's storages in id order; only storage records (of both
// kinds: ListProject filters on "kind") carry "project", so the index holds
// nothing else. The index "by-id" (hash
// "kind" S, range "id" N, keys only) gives the highest storage id of a
// kind, from which a lost id counter is rebuilt; only storage records carry "id". The
// index "by-link-storage" (hash "link_storage" N, range "pk", keys only)
// finds a deleted storage's links; only links carry "link_storage".
package dynamostore

// TokenKey is the partition key of the API token whose SHA-256 is hash.
func TokenKey(hash string) string { return tokenKeyPrefix + hash }

const tokenKeyPrefix = "TOKEN#"

// TokenHashFromKey returns the hash of a token item's partition key.
func TokenHashFromKey(pk string) string { return pk[len(tokenKeyPrefix):] }
