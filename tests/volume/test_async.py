"""Cinder's asynchronous state machine: long work answers with the transient status and
finishes later; failures end in error with a user message (/messages); a restart settles
work that was under way."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
import requests
from volume_helpers import PORT, wait_resource

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.cloud import Cloud
from pocketstack.config import Config


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    conf = Config.load(None, {("DEFAULT", "admin_password"): "secret",
                              ("identity", "password_hash_rounds"): 1})
    cloud = Cloud(conf, str(tmp_path_factory.mktemp("async") / "data"), "127.0.0.1")
    cloud.prepare()
    yield cloud.service("volume")
    cloud.stop()


CTX = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])


def _status(svc, vid):
    return svc.get_volume(CTX, vid)["status"]


def test_transient_statuses_then_final(svc):
    vol = svc.volumes.create(CTX, {"size": 1})
    assert vol["status"] == "available"  # a blank sparse file: no reason to wait
    svc.worker.gate.clear()  # hold the jobs to see the states a client polls through
    try:
        svc.actions.extend(CTX, vol["id"], 2, in_use_ok=False)
        assert _status(svc, vol["id"]) == "extending"
        with pytest.raises(errors.BadRequest):  # busy volumes refuse other work
            svc.backups.create(CTX, {"volume_id": vol["id"]})
        other = svc.volumes.create(CTX, {"size": 1})
        backup = svc.backups.create(CTX, {"volume_id": other["id"]})
        assert svc.backups.get(CTX, backup["id"])["status"] == "creating"
        assert _status(svc, other["id"]) == "backing-up"
    finally:
        svc.worker.gate.set()
    svc.worker.drain(60)
    shown = svc.get_volume(CTX, vol["id"])
    assert shown["status"] == "available" and shown["size"] == 2
    assert svc.backups.get(CTX, backup["id"])["status"] == "available"
    assert _status(svc, other["id"]) == "available"
    svc.worker.gate.clear()
    try:
        svc.backups.restore(CTX, backup["id"], {"volume_id": vol["id"]})  # 2 GB >= 1 GB
        assert _status(svc, vol["id"]) == "restoring-backup"
        assert svc.backups.get(CTX, backup["id"])["status"] == "restoring"
        with pytest.raises(errors.BadRequest):  # one restore at a time
            svc.volumes.create(CTX, {"backup_id": backup["id"]})
    finally:
        svc.worker.gate.set()
    svc.worker.drain(60)
    assert _status(svc, vol["id"]) == "available"
    svc.worker.gate.clear()
    try:
        restored = svc.volumes.create(CTX, {"backup_id": backup["id"]})
        assert restored["status"] == "creating"
        assert svc.backups.get(CTX, backup["id"])["status"] == "restoring"
    finally:
        svc.worker.gate.set()
    svc.worker.drain(60)
    assert _status(svc, restored["id"]) == "available"
    assert svc.backups.get(CTX, backup["id"])["status"] == "available"


def test_failed_job_ends_in_error_with_a_message(svc, monkeypatch):
    vol = svc.volumes.create(CTX, {"size": 1})

    def broken(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(svc.driver, "extend_volume", broken)
    svc.actions.extend(CTX, vol["id"], 3, in_use_ok=False)
    svc.worker.drain(60)
    shown = svc.get_volume(CTX, vol["id"])
    assert shown["status"] == "error_extending" and shown["size"] == 1
    from pocketstack.volume.models import Message
    with svc.cloud.db.read() as s:
        msgs = [m for m in s.query(Message).all() if m.resource_uuid == vol["id"]]
        assert [(m.event_id, m.resource_type) for m in msgs] == [
            ("VOLUME_VOLUME_007_004", "VOLUME")]
        assert msgs[0].user_message == "extend volume: The back end has not enough space."


def test_volume_from_unreadable_image_errors_with_message(cloud, tmp_path):
    """A qcow2 image whose bytes are not qcow2: the copy fails after the answer."""
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"not a qcow2 image\n" * 100)
    img = cloud.cli("image", "create", "--disk-format", "qcow2", "--container-format",
                    "bare", "--file", str(bad), _name("bad"), "-f", "json", cloud="pocketstack")
    token = cloud.token("pocketstack")
    r = requests.post(cloud.url(PORT, "/v3/volumes"), timeout=30,
                      headers={"X-Auth-Token": token},
                      json={"volume": {"size": 1, "imageRef": img["id"]}})
    assert r.status_code == 202 and r.json()["volume"]["status"] == "creating"
    vid = r.json()["volume"]["id"]
    wait_resource(cloud, "volumes", vid, ("error",), token=token)
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.3"}
    msgs = requests.get(cloud.url(PORT, "/v3/messages"), params={"resource_uuid": vid},
                        headers=headers, timeout=30).json()["messages"]
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert m["resource_type"] == "VOLUME" and m["message_level"] == "ERROR"
    assert m["user_message"].startswith("copy image to volume: ")
    assert m["event_id"].startswith("VOLUME_VOLUME_005_")
    one = requests.get(cloud.url(PORT, f"/v3/messages/{m['id']}"), headers=headers,
                       timeout=30)
    assert one.status_code == 200 and one.json()["message"]["id"] == m["id"]
    # another project does not see it; the owner deletes it
    alt = {**headers, "X-Auth-Token": cloud.token("pocketstack-alt")}
    assert requests.get(cloud.url(PORT, f"/v3/messages/{m['id']}"), headers=alt,
                        timeout=30).status_code == 404
    assert requests.delete(cloud.url(PORT, f"/v3/messages/{m['id']}"), headers=headers,
                           timeout=30).status_code == 204
    assert requests.get(cloud.url(PORT, f"/v3/messages/{m['id']}"), headers=headers,
                        timeout=30).status_code == 404
    assert requests.get(cloud.url(PORT, "/v3/messages"), timeout=30, headers={
        **headers, "OpenStack-API-Version": "volume 3.2"}).status_code == 404
    cloud.cli("volume", "delete", vid, cloud="pocketstack")
    cloud.cli("image", "delete", img["id"], cloud="pocketstack")


def test_work_under_way_at_a_crash_ends_in_error(fresh_cloud):
    """As Cinder's init_host: creating -> error (with a message), backing-up -> its
    previous status, a backup being created -> error."""
    fresh_cloud.start()
    a = fresh_cloud.cli("volume", "create", "--size", "1", "a", "-f", "json")
    b = fresh_cloud.cli("volume", "create", "--size", "1", "b", "-f", "json")
    assert fresh_cloud.stop() == 0
    db = sqlite3.connect(f"{fresh_cloud.data_dir}/pocketstack.db")
    with db:
        db.execute("UPDATE volume_volume SET status='creating' WHERE id=?", (a["id"],))
        db.execute("UPDATE volume_volume SET status='backing-up', previous_status='available'"
                   " WHERE id=?", (b["id"],))
    db.close()
    fresh_cloud.start()
    assert fresh_cloud.cli("volume", "show", "a", "-f", "json")["status"] == "error"
    assert fresh_cloud.cli("volume", "show", "b", "-f", "json")["status"] == "available"
    msgs = fresh_cloud.cli("--os-volume-api-version", "3.3", "volume", "message", "list",
                           "-f", "json")
    assert [m["Resource UUID"] for m in msgs] == [a["id"]]
    fresh_cloud.cli("volume", "delete", "a", "b")
