"""label-studio-sdk 2.1.2's export_storage.databricks, unchanged, through
the front door: create an export storage (argv: create <project> <prefix>
<can_delete_objects>) or sync one and poll get until it settles (argv: sync
<id>). Environment: LS_BASE_URL, LS_API_KEY, WORKSPACE_HOST. Prints one JSON
line.
"""
import json
import os
import sys
import time

from label_studio_sdk import LabelStudio

base, key, host = os.environ["LS_BASE_URL"], os.environ["LS_API_KEY"], os.environ["WORKSPACE_HOST"]
exports = LabelStudio(base_url=base, api_key=key).export_storage.databricks

if sys.argv[1] == "create":
    project, prefix, can_delete = int(sys.argv[2]), sys.argv[3], sys.argv[4] == "true"
    s = exports.create(project=project, host=host, catalog="main", schema="default", volume="landing",
                       prefix=prefix, token="dapi-local-test-token", can_delete_objects=can_delete, title=prefix)
    assert s.can_delete_objects == can_delete, s
    print(json.dumps({"id": s.id}))
else:
    sid = int(sys.argv[2])
    queued = exports.sync(id=sid)
    assert queued.status in ("queued", "in_progress", "completed"), queued.status
    deadline = time.time() + 180
    while True:
        got = exports.get(id=sid)
        if got.last_sync_job == queued.last_sync_job and got.status in ("completed", "completed_with_errors", "failed"):
            break
        assert time.time() < deadline, f"the export sync did not settle: {got.status}"
        time.sleep(0.5)
    print(json.dumps({"status": got.status, "last_sync_count": got.last_sync_count, "traceback": got.traceback}))
