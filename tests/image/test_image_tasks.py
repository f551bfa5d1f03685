"""Import tasks: glance-direct and web-download record api_image_import tasks, and the
legacy /v2/tasks API makes images from a URI (served here by a local HTTP server)."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
import uuid

import pytest
import requests

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture(scope="module")
def served():
    """A URL on a local HTTP server that returns DATA (and 404 for anything else)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/disk.img":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def call(cloud):
    tokens = {name: cloud.token(name) for name in ("pocketstack", "pocketstack-admin")}

    def request(method: str, path: str, who: str = "pocketstack", **kw) -> requests.Response:
        headers = {"X-Auth-Token": tokens[who], **kw.pop("headers", {})}
        return requests.request(method, cloud.url(9292, path), headers=headers, timeout=60,
                                **kw)

    return request


def _create(call) -> str:
    r = call("POST", "/v2/images", json={"name": f"task-{uuid.uuid4().hex[:8]}",
                                         "disk_format": "raw", "container_format": "bare"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _wait(fn, what: str):
    deadline = time.monotonic() + 30
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _done_tasks(call, image_id: str) -> list:
    tasks = call("GET", f"/v2/images/{image_id}/tasks").json()["tasks"]
    return tasks if tasks and all(t["status"] in ("success", "failure") for t in tasks) \
        else None


def test_glance_direct_import_records_a_task(call):
    image_id = _create(call)
    assert call("GET", f"/v2/images/{image_id}/tasks").json() == {"tasks": []}
    r = call("PUT", f"/v2/images/{image_id}/stage", data=b"staged bytes",
             headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 204
    r = call("POST", f"/v2/images/{image_id}/import",
             json={"method": {"name": "glance-direct"}})
    assert r.status_code == 202, r.text
    tasks = _wait(lambda: _done_tasks(call, image_id), "the import task")
    assert len(tasks) == 1
    task = tasks[0]
    assert task["status"] == "success" and task["type"] == "api_image_import"
    assert task["request_id"] == r.headers["x-openstack-request-id"]
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
    assert task["image_id"] == image_id and task["expires_at"]
    image = call("GET", f"/v2/images/{image_id}").json()
    assert image["status"] == "active" and image["stores"] == "file"
    assert image["checksum"] == hashlib.md5(b"staged bytes").hexdigest()
    assert image["os_glance_importing_to_stores"] == ""


def test_web_download_import(call, served):
    image_id = _create(call)
    r = call("POST", f"/v2/images/{image_id}/import",
             json={"method": {"name": "web-download", "uri": f"{served}/disk.img"}})
    assert r.status_code == 202, r.text
    image = _wait(lambda: (lambda i: i if i["status"] == "active" else None)(
        call("GET", f"/v2/images/{image_id}").json()), "the image to become active")
    assert image["size"] == len(DATA)
    assert image["checksum"] == hashlib.md5(DATA).hexdigest()
    assert image["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert "os_glance_failed_import" not in image
    assert call("GET", f"/v2/images/{image_id}/file").content == DATA
    tasks = _wait(lambda: _done_tasks(call, image_id), "the import task")
    assert [t["status"] for t in tasks] == ["success"]


def test_web_download_failure_is_a_failed_task(call, served):
    image_id = _create(call)
    r = call("POST", f"/v2/images/{image_id}/import",
             json={"method": {"name": "web-download", "uri": f"{served}/missing.img"}})
    assert r.status_code == 202
    tasks = _wait(lambda: _done_tasks(call, image_id), "the import task")
    assert tasks[0]["status"] == "failure" and "404" in tasks[0]["message"]
    image = call("GET", f"/v2/images/{image_id}").json()
    assert image["status"] == "queued" and image["os_glance_failed_import"] == "file"


def test_legacy_tasks_api(call, served):
    body = {"type": "import", "input": {
        "import_from": f"{served}/disk.img", "import_from_format": "raw",
        "image_properties": {"name": "from-task", "disk_format": "raw",
                             "container_format": "bare"}}}
    assert call("POST", "/v2/tasks", json=body).status_code == 403  # admin only
    assert call("GET", "/v2/tasks").status_code == 403
    admin = "pocketstack-admin"
    r = call("POST", "/v2/tasks", admin, json=body)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["status"] == "pending" and task["type"] == "import"
    assert task["self"] == f"/v2/tasks/{task['id']}"

    def finished(task_id: str):
        shown = call("GET", f"/v2/tasks/{task_id}", admin).json()
        return shown if shown["status"] in ("success", "failure") else None

    done = _wait(lambda: finished(task["id"]), "the task")
    assert done["status"] == "success", done
    image = call("GET", f"/v2/images/{done['result']['image_id']}", admin).json()
    assert image["status"] == "active" and image["name"] == "from-task"
    assert image["checksum"] == hashlib.md5(DATA).hexdigest()

    bad = {**body, "input": {**body["input"], "import_from": f"{served}/nope.qcow2"}}
    r = call("POST", "/v2/tasks", admin, json=bad)
    assert r.status_code == 201
    failed = _wait(lambda: finished(r.json()["id"]), "the failing task")
    assert failed["status"] == "failure" and failed["message"]
    listed = call("GET", "/v2/tasks", admin).json()
    ids = [t["id"] for t in listed["tasks"]]
    assert task["id"] in ids and r.json()["id"] in ids
    assert "input" not in listed["tasks"][0]

    assert call("POST", "/v2/tasks", admin, json={"type": "nope", "input": {}}
                ).status_code == 400
    assert call("POST", "/v2/tasks", admin, json={"type": "import", "input": {}}
                ).status_code == 400
    assert call("GET", f"/v2/tasks/{uuid.uuid4()}", admin).status_code == 404
    assert call("DELETE", f"/v2/tasks/{task['id']}", admin).status_code == 405
