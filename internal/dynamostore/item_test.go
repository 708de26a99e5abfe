package dynamostore_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

func ptr[T any](v T) *T { return &v }

// Every field of a storage survives the trip to a DynamoDB item and back,
// whichever fields are set, and the item carries no field under another
// name than the API's.
func TestRecordItemRoundTrip(t *testing.T) {
	created := time.Date(2025, 11, 24, 22, 58, 1, 123456000, time.UTC)
	lastSync := time.Date(2025, 11, 20, 8, 15, 0, 5000, time.UTC)
	full := storage.Record{SecretARN: "arn:aws:secretsmanager:us-east-1:1:secret:x", SecretVersionID: "5f0c8f47-0a7c-4b7e-9d8e-4f3a2b1c0d9e", Revision: 3, Storage: storage.Storage{
		ID: 42, Type: storage.StorageType, CreatedAt: created,
		Settings: storage.Settings{
			Project: 7, Host: "https://h.cloud.databricks.com", Catalog: "main", Schema: "default", Volume: "landing",
			Prefix: ptr("images/2025"), RegexFilter: ptr(`.*\.jpg`), AuthType: storage.AuthAzureADSP,
			ClientID: ptr("c"), TenantID: ptr("t"), RecursiveScan: true, UseBlobURLs: true, VerifyTLS: true,
			RequestTimeoutS: 15, StreamChunkBytes: 1 << 20, Presign: true, PresignTTL: 3, Synchronizable: true,
			Status: "completed", Title: ptr("T"), Description: ptr(""), LastSync: &lastSync, LastSyncCount: ptr(int64(0)),
			LastSyncJob: ptr("job"), Meta: json.RawMessage(`{"a": [1, 2.50, {"b": null}], "c": "\u00e9"}`), Traceback: ptr("tb"),
		},
	}}
	minimal := storage.Record{SecretARN: "arn", Storage: storage.Storage{ID: 1, Type: storage.StorageType, CreatedAt: created,
		Settings: storage.Settings{Project: 1, Host: "h", Catalog: "c", Schema: "s", Volume: "v", AuthType: storage.AuthPAT}}}
	export := full
	export.Kind, export.CanDeleteObjects = storage.KindExport, true
	// An export storage has no presign, presign_ttl or recursive_scan.
	export.Presign, export.PresignTTL, export.RecursiveScan = false, 0, false
	exportMinimal := minimal
	exportMinimal.Kind = storage.KindExport
	for name, rec := range map[string]storage.Record{"every field": full, "minimal": minimal, "export": export, "minimal export": exportMinimal} {
		t.Run(name, func(t *testing.T) {
			item, err := dynamostore.RecordItem(rec)
			if err != nil {
				t.Fatal(err)
			}
			wantPK, wantKind := dynamostore.StorageKey(rec.ID), "storage"
			if rec.Kind == storage.KindExport {
				wantPK, wantKind = "EXPORT#"+strconv.FormatInt(rec.ID, 10), "export_storage"
			}
			if pk := item["pk"].(*types.AttributeValueMemberS).Value; pk != wantPK {
				t.Errorf("pk = %q, want %q", pk, wantPK)
			}
			if kind := item["kind"].(*types.AttributeValueMemberS).Value; kind != wantKind {
				t.Errorf("kind = %q, want %q", kind, wantKind)
			}
			// The project index needs numbers.
			for _, k := range []string{"project", "id"} {
				if _, ok := item[k].(*types.AttributeValueMemberN); !ok {
					t.Errorf("%s is %T, want a number", k, item[k])
				}
			}
			api, _ := json.Marshal(rec.Storage)
			var apiFields map[string]any
			_ = json.Unmarshal(api, &apiFields)
			for k := range item {
				if _, ok := apiFields[k]; !ok && k != "pk" && k != "kind" && k != "secret_arn" && k != "secret_version_id" && k != "revision" {
					t.Errorf("item attribute %q is no API field", k)
				}
			}
			for k := range apiFields {
				if _, ok := item[k]; !ok {
					t.Errorf("API field %q missing from the item", k)
				}
			}
			back, err := dynamostore.DecodeRecord(item)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, rec) {
				t.Errorf("round trip:\n got %+v\nwant %+v", back, rec)
			}
		})
	}
}
