"""One label-studio-sdk client, one Label Studio user's token, one base URL
(the front door): a project made in Label Studio, then a Databricks storage
for it made, listed, read, updated, validated and deleted by this service.
Also the refusals Label Studio would answer: a project that does not exist,
a token it refuses.

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

project = client.projects.create(title="Databricks via the front door")
print(json.dumps({"project": project.id}))
common = dict(host=host, catalog="main", schema="default", volume="landing", project=project.id)

storage = client.import_storage.databricks.create(**common, prefix="images", token="dapi-local-test-token", title="Front door")
assert storage.project == project.id and storage.title == "Front door", storage
listed = client.import_storage.databricks.list(project=project.id)
assert [s.id for s in listed] == [storage.id], listed
assert client.import_storage.databricks.get(id=storage.id).title == "Front door"
updated = client.import_storage.databricks.update(id=storage.id, title="Renamed")
assert updated.title == "Renamed", updated
client.import_storage.databricks.validate(id=storage.id, **common)
client.import_storage.databricks.delete(id=storage.id)
print(json.dumps({"created": storage.id, "deleted": storage.id}))


def refused(call, status):
    try:
        call()
    except ApiError as err:
        assert err.status_code == status, (err.status_code, err.body)
        return err.body
    sys.exit(f"not refused, want {status}")


body = refused(lambda: client.import_storage.databricks.create(**{**common, "project": 424242}, token="dapi-local-test-token"), 400)
assert body["validation_errors"] == {"project": ['Invalid pk "424242" - object does not exist.']}, body
print(json.dumps({"missing_project_create": body["validation_errors"]}))
body = refused(lambda: client.import_storage.databricks.list(project=424242), 404)
print(json.dumps({"missing_project_list": body["detail"]}))

stranger = LabelStudio(base_url=base, api_key="not-a-label-studio-token-0123456789")
body = refused(lambda: stranger.import_storage.databricks.list(project=project.id), 401)
assert body["status_code"] == 401 and body["detail"] == "Invalid token.", body
print(json.dumps({"refused_token": body["detail"]}))
