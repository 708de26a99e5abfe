"""label-studio-sdk, unchanged, against the front door: a project with an
image labeling configuration, a Databricks storage of it, then
import_storage.databricks.sync(id) and get(id) polled until the sync
settles — as a user of Label Studio Enterprise does.

Environment: LS_BASE_URL, LS_API_KEY, WORKSPACE_HOST. Prints one JSON line
per step and exits non-zero on any surprise.
"""
import json
import os
import time

from label_studio_sdk import LabelStudio

base, key, host = os.environ["LS_BASE_URL"], os.environ["LS_API_KEY"], os.environ["WORKSPACE_HOST"]
client = LabelStudio(base_url=base, api_key=key)

project = client.projects.create(
    title="Synced from Databricks",
    label_config='<View><Image name="img" value="$image"/><Choices name="c" toName="img"><Choice value="a"/></Choices></View>',
)
storage = client.import_storage.databricks.create(
    project=project.id, host=host, catalog="main", schema="default", volume="landing",
    prefix="images", regex_filter=r".*\.png$", recursive_scan=True, use_blob_urls=True,
    token="dapi-local-test-token", title="Images")
print(json.dumps({"project": project.id, "storage": storage.id}))

queued = client.import_storage.databricks.sync(id=storage.id)
assert queued.status in ("queued", "in_progress", "completed"), queued.status
assert queued.last_sync_job, queued
print(json.dumps({"sync": queued.status, "job": queued.last_sync_job}))

deadline = time.time() + 300
while True:
    got = client.import_storage.databricks.get(id=storage.id)
    if got.status in ("completed", "completed_with_errors", "failed"):
        break
    assert time.time() < deadline, f"the sync did not settle: {got.status} {got.meta}"
    time.sleep(0.5)
assert got.last_sync_job == queued.last_sync_job, (got.last_sync_job, queued.last_sync_job)
print(json.dumps({"status": got.status, "last_sync_count": got.last_sync_count, "meta": got.meta,
                  "traceback": got.traceback, "last_sync": str(got.last_sync)}))
