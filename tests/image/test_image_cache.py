"""The compute image cache (``_base``): images come by file with their hash checked, cleanup
is off by default and never removes an image a server uses; the doctor sees an image that
only the cache still holds, and one that has disappeared."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
import requests

from pocketstack.cloud import Cloud
from pocketstack.compute.imagecache import ImageCache, ImageFetchError
from pocketstack.config import Config
from pocketstack.image import models as _image_models  # noqa: F401
from pocketstack.compute import models as _compute_models  # noqa: F401


def _api(cloud, method, port, path, **kwargs):
    headers = {"X-Auth-Token": cloud.token("pocketstack-admin"), **kwargs.pop("headers", {})}
    return requests.request(method, cloud.url(port, path), headers=headers, timeout=60,
                            **kwargs)


def _image(cloud, data: bytes) -> str:
    r = _api(cloud, "POST", 9292, "/v2/images", json={
        "name": f"cache-{uuid.uuid4().hex[:8]}", "disk_format": "raw",
        "container_format": "bare"})
    assert r.status_code == 201, r.text
    image_id = r.json()["id"]
    r = _api(cloud, "PUT", 9292, f"/v2/images/{image_id}/file", data=data,
             headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    return image_id


def _boot(cloud, image_id: str) -> str:
    r = _api(cloud, "POST", 8774, "/v2.1/servers", headers={
        "OpenStack-API-Version": "compute 2.79"}, json={"server": {
            "name": f"cache-{uuid.uuid4().hex[:8]}", "flavorRef": "1", "imageRef": image_id,
            "networks": "none"}})
    assert r.status_code == 202, r.text
    server_id = r.json()["server"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = _api(cloud, "GET", 8774, f"/v2.1/servers/{server_id}").json()["server"]
        if body["status"] == "ACTIVE":
            return server_id
        assert body["status"] != "ERROR", body
        time.sleep(0.1)
    raise AssertionError(f"server {server_id} never became ACTIVE")


def _local_cloud(data_dir: str, **options) -> Cloud:
    conf = Config.load(None, overrides={("image_cache", k): v for k, v in options.items()})
    return Cloud(conf, data_dir)


def _doctor(data_dir: str) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "doctor", "--data-dir",
                           data_dir, "--json"], capture_output=True, text=True, timeout=120)
    return [f for f in json.loads(proc.stdout) if f["check"] == "image cache"]


def test_fetch_by_file_is_linked_and_verified(cloud, tmp_path, caplog):
    data = os.urandom(300_000)
    image_id = _image(cloud, data)
    cache = ImageCache(_local_cloud(cloud.data_dir), base=str(tmp_path / "_base"))
    with caplog.at_level(logging.INFO, logger="pocketstack.compute.imagecache"):
        path = cache.fetch(image_id)
    with open(path, "rb") as f:
        assert f.read() == data
    store_file = os.path.join(cloud.data_dir, "images", image_id)
    info = cache.entries()[0].info
    if os.stat(store_file).st_dev == os.stat(tmp_path).st_dev:
        assert info["transferred_using"] == "file (hardlink)"
        assert os.stat(path).st_ino == os.stat(store_file).st_ino
    else:
        assert info["transferred_using"].startswith("file (")
    assert info["hash_algo"] == "sha512" and info["image_id"] == image_id
    assert "Successfully transferred using file" in caplog.text
    assert cache.fetch(image_id) == path  # cached: the same entry


def test_fetch_refuses_data_whose_hash_is_wrong(cloud, tmp_path):
    image_id = _image(cloud, b"a" * 5000)
    with open(os.path.join(cloud.data_dir, "images", image_id), "r+b") as f:
        f.write(b"b")  # the store's copy rots
    cache = ImageCache(_local_cloud(cloud.data_dir), base=str(tmp_path / "_base"))
    with pytest.raises(ImageFetchError, match="sha512 mismatch"):
        cache.fetch(image_id)
    assert cache.entries() == [] and not os.path.exists(cache.path(image_id))


def test_cleanup_is_off_by_default_and_spares_images_in_use(cloud, tmp_path):
    used, unused = _image(cloud, b"used" * 1000), _image(cloud, b"unused" * 1000)
    _boot(cloud, used)
    base = str(tmp_path / "_base")
    default = ImageCache(_local_cloud(cloud.data_dir), base=base)
    for image_id in (used, unused):
        default.fetch(image_id)
    assert not default.cleanup_enabled()
    assert default.cleanup() == [] and len(default.entries()) == 2

    enabled = ImageCache(_local_cloud(cloud.data_dir, remove_unused_base_images=True,
                                      manager_interval=60), base=base)
    assert enabled.cleanup_enabled()
    assert enabled.cleanup() == []  # both are younger than the minimum age
    assert enabled.cleanup(now=time.time() + 2 * 86400) == [unused]
    assert [e.image_id for e in enabled.entries()] == [used]
    assert os.path.exists(enabled.path(used)) and not os.path.exists(enabled.path(unused))


def test_doctor_sees_the_only_copy_and_the_disappeared_image(fresh_cloud):
    fresh_cloud.start()
    data = fresh_cloud.data_dir
    assert [f["status"] for f in _doctor(data)] == ["OK"]
    image_id = _image(fresh_cloud, b"keep me" * 1000)
    server_id = _boot(fresh_cloud, image_id)
    cache = ImageCache(_local_cloud(data))  # the cloud's own _base
    path = cache.fetch(image_id)
    assert [f["status"] for f in _doctor(data)] == ["OK"]  # still in Glance

    assert _api(fresh_cloud, "DELETE", 9292, f"/v2/images/{image_id}").status_code == 204
    found = _doctor(data)
    assert [f["status"] for f in found] == ["WARN"], found
    assert image_id in found[0]["detail"] and server_id in found[0]["detail"]
    assert path in found[0]["fix"]
    with open(path, "rb") as f:  # the cache still has the bytes
        assert f.read() == b"keep me" * 1000

    # the entry goes too, on a host that boots from the cache: the image has disappeared
    os.unlink(path)
    os.unlink(path + ".info")
    conn = sqlite3.connect(os.path.join(data, "pocketstack.db"), timeout=30)
    try:
        conn.execute("UPDATE compute_node SET hypervisor_type='container' WHERE host = "
                     "(SELECT host FROM compute_instance WHERE uuid = ?)", (server_id,))
        conn.commit()
    finally:
        conn.close()
    found = _doctor(data)
    assert [f["status"] for f in found] == ["FAIL"], found
    assert "disappeared" in found[0]["detail"] and server_id in found[0]["detail"]
