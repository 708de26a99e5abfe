"""label-studio-sdk 2.1.2's export_storage.databricks, unchanged, through the
front door with one Label Studio user's token: a project made in Label
Studio, then a Databricks export storage for it created, listed, read,
updated, validated and deleted by this service, with can_delete_objects;
beside an import storage of the same project, which the export calls never
show or touch.

Environment: LS_BASE_URL, LS_API_KEY, WORKSPACE_HOST. Prints JSON lines and
exits non-zero on any surprise.
"""
import json
import os
import sys

from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

base, key, host = os.environ["LS_BASE_URL"], os.environ["LS_API_KEY"], os.environ["WORKSPACE_HOST"]
client = LabelStudio(base_url=base, api_key=key)
exports = client.export_storage.databricks

project = client.projects.create(title="Databricks export via the front door")
print(json.dumps({"project": project.id}))
common = dict(host=host, catalog="main", schema="default", volume="landing", project=project.id)

imported = client.import_storage.databricks.create(**common, prefix="images", token="dapi-local-test-token", title="Import")
assert exports.list(project=project.id) == [], "the export list shows an import storage"

exports.validate(**common, prefix="images", token="dapi-local-test-token", can_delete_objects=True)
storage = exports.create(**common, prefix="images", token="dapi-local-test-token", title="Annotations", can_delete_objects=True)
assert storage.project == project.id and storage.title == "Annotations" and storage.can_delete_objects is True, storage
assert storage.type == "databricks" and storage.prefix == "images", storage
wire = storage.dict() if hasattr(storage, "dict") else storage.model_dump()
for absent in ("presign", "presign_ttl", "recursive_scan", "token", "client_secret"):
    assert absent not in wire, (absent, wire)
plain = exports.create(**common, prefix="images", token="dapi-local-test-token")
assert plain.can_delete_objects is False, plain

listed = exports.list(project=project.id)
assert [s.id for s in listed] == [storage.id, plain.id], listed
assert [s.id for s in client.import_storage.databricks.list(project=project.id)] == [imported.id]
got = exports.get(id=storage.id)
assert got.title == "Annotations" and got.can_delete_objects is True, got

updated = exports.update(id=storage.id, title="Renamed", can_delete_objects=False)
assert updated.title == "Renamed" and updated.can_delete_objects is False, updated
assert exports.get(id=storage.id).can_delete_objects is False
# validate with the stored credentials (no token sent), as Label Studio's UI does.
exports.validate(id=storage.id, **common)


def refused(call, status):
    try:
        call()
    except ApiError as err:
        assert err.status_code == status, (err.status_code, err.body)
        return err.body
    sys.exit(f"not refused, want {status}")


body = refused(lambda: exports.create(**common, token="dapi-local-test-token", request_timeout_s=99), 400)
assert list(body["validation_errors"]) == ["request_timeout_s"], body
body = refused(lambda: exports.create(**{**common, "project": 424242}, token="dapi-local-test-token"), 400)
assert body["validation_errors"] == {"project": ['Invalid pk "424242" - object does not exist.']}, body
print(json.dumps({"missing_project_create": body["validation_errors"]}))

exports.delete(id=storage.id)
refused(lambda: exports.get(id=storage.id), 404)
# The import storage is untouched, whatever its id.
assert client.import_storage.databricks.get(id=imported.id).title == "Import"
exports.delete(id=plain.id)
assert exports.list(project=project.id) == []
client.import_storage.databricks.delete(id=imported.id)
print(json.dumps({"created": [storage.id, plain.id], "deleted": [storage.id, plain.id], "import": imported.id}))
