"""Drives the local API with Label Studio's own Python client: create, list, get,
update, validate(id=...) and delete.

Environment: LS_BASE_URL, LS_API_KEY, WORKSPACE_HOST. Prints one JSON line per
created storage (as the SDK parsed it) and exits non-zero on any surprise.
"""
import json
import os
import sys

from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

client = LabelStudio(base_url=os.environ["LS_BASE_URL"], api_key=os.environ["LS_API_KEY"])
host = os.environ["WORKSPACE_HOST"]
common = dict(host=host, catalog="main", schema="default", volume="landing", project=11)

created = [
    client.import_storage.databricks.create(
        **common, prefix="images", token="dapi-local-test-token", title="PAT storage",
        regex_filter=r".*\.jpg", recursive_scan=True, use_blob_urls=False, verify_tls=True,
        request_timeout_s=5, stream_chunk_bytes=1048576, description="made by the SDK",
    ),
    client.import_storage.databricks.create(
        **common, auth_type="dbx_sp", client_id="local-sp-client", client_secret="local-sp-secret",
    ),
    client.import_storage.databricks.create(
        **common, auth_type="azure_ad_sp", tenant_id="local-tenant",
        client_id="local-azure-client", client_secret="local-azure-secret",
    ),
]

for storage in created:
    assert isinstance(storage.id, int) and storage.id > 0, storage
    assert storage.type == "databricks", storage.type
    assert storage.created_at is not None and storage.created_at.tzinfo is not None
    assert storage.project == 11 and storage.catalog == "main" and storage.schema_ == "default"
    assert storage.volume == "landing" and storage.host == host
    dumped = storage.dict() if hasattr(storage, "dict") else storage.model_dump()
    assert "token" not in dumped and "client_secret" not in dumped, dumped
    print(json.dumps({"id": storage.id, "auth_type": storage.auth_type, "title": storage.title,
                      "prefix": storage.prefix, "verify_tls": storage.verify_tls,
                      "client_id": storage.client_id, "tenant_id": storage.tenant_id,
                      "created_at": storage.created_at.isoformat()}))

assert created[0].title == "PAT storage" and created[0].prefix == "images"
assert created[0].request_timeout_s == 5 and created[0].recursive_scan is True
assert created[1].auth_type == "dbx_sp" and created[1].client_id == "local-sp-client"
assert created[2].tenant_id == "local-tenant"

# A refused request surfaces as the SDK's ApiError carrying Label Studio's body.
try:
    client.import_storage.databricks.create(**{**common, "volume": "missing"}, token="dapi-local-test-token")
except ApiError as err:
    assert err.status_code == 400, err.status_code
    assert err.body["status_code"] == 400 and "detail" in err.body and "id" in err.body, err.body
    print(json.dumps({"refused": err.status_code, "detail": err.body["detail"]}))
else:
    sys.exit("a create of a missing volume was not refused")

# The rest of a storage's life, through the same client.
pat = created[0]
listed = client.import_storage.databricks.list(project=11, ordering="-id")
assert [s.id for s in listed] == sorted((s.id for s in created), reverse=True), [s.id for s in listed]
for storage in listed:
    dumped = storage.dict() if hasattr(storage, "dict") else storage.model_dump()
    assert "token" not in dumped and "client_secret" not in dumped, dumped

got = client.import_storage.databricks.get(id=pat.id)
assert got.id == pat.id and got.title == "PAT storage" and got.prefix == "images", got

updated = client.import_storage.databricks.update(id=pat.id, title="Renamed by the SDK", recursive_scan=False)
assert updated.id == pat.id and updated.title == "Renamed by the SDK" and updated.recursive_scan is False, updated
assert updated.prefix == "images" and updated.request_timeout_s == 5, updated
assert client.import_storage.databricks.get(id=pat.id).title == "Renamed by the SDK"

# validate(id=...) checks the stored storage with its stored token.
client.import_storage.databricks.validate(id=pat.id, **common)
try:
    client.import_storage.databricks.validate(id=pat.id, **{**common, "volume": "missing"})
except ApiError as err:
    assert err.status_code == 400, err.status_code
else:
    sys.exit("validate(id=...) of a missing volume was not refused")

client.import_storage.databricks.delete(id=pat.id)
try:
    client.import_storage.databricks.get(id=pat.id)
except ApiError as err:
    assert err.status_code == 404, err.status_code
else:
    sys.exit("a deleted storage can still be read")
print(json.dumps({"listed": len(listed), "updated": updated.id, "deleted": pat.id}))
