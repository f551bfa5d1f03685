"""Volumes and the real Image service: volume from image, and os-volume_upload_image."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import uuid

import pytest
import requests

from pocketstack.volume import qcow2
from volume_helpers import wait_resource


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _vol_file(cloud, volume_id: str) -> str:
    return os.path.join(cloud.data_dir, "volumes", f"volume-{volume_id}")


def _wait(fn, want, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def _raw_image(cloud, tmp_path, name: str) -> tuple[str, bytes]:
    data = os.urandom(300_000) + bytes(2_000_000) + b"the end"
    path = tmp_path / f"{name}.raw"
    path.write_bytes(data)
    img = cloud.cli("image", "create", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(path), name, "-f", "json")
    assert img["status"] == "active"
    return img["id"], data


def test_volume_from_image_then_upload_raw_and_qcow2(cloud, tmp_path):
    image_id, data = _raw_image(cloud, tmp_path, _name("src"))
    vol = cloud.cli("volume", "create", "--image", image_id, "--size", "1", _name("fromimg"),
                    "-f", "json")
    # copied after the answer
    assert vol["status"] in ("creating", "downloading") and vol["bootable"] is True
    wait_resource(cloud, "volumes", vol["id"])
    shown = cloud.cli("volume", "show", vol["id"], "-f", "json")
    assert shown["volume_image_metadata"]["image_id"] == image_id
    with open(_vol_file(cloud, vol["id"]), "rb") as f:
        assert f.read(len(data)) == data

    # raw upload: the whole volume, byte for byte
    raw_name = _name("up-raw")
    up = cloud.cli("image", "create", "--volume", vol["id"], raw_name, "-f", "json")
    assert up["image_name"] == raw_name and up["disk_format"] == "raw"
    assert up["status"] == "uploading"
    conn = cloud.conn("pocketstack-admin")  # the CLI above acts as the admin
    status = lambda: conn.image.get_image(up["image_id"]).status  # noqa: E731
    assert _wait(status, "active") == "active"
    vstatus = lambda: conn.block_storage.get_volume(vol["id"]).status  # noqa: E731
    assert _wait(vstatus, "available") == "available"
    image = cloud.cli("image", "show", up["image_id"], "-f", "json")
    assert image["size"] == 1024 ** 3 and image["container_format"] == "bare"
    md5 = hashlib.md5(usedforsecurity=False)
    with open(_vol_file(cloud, vol["id"]), "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
    assert image["checksum"] == md5.hexdigest()

    # qcow2 upload: only the data clusters, and it reads back as the same disk
    q = cloud.cli("image", "create", "--volume", vol["id"], "--disk-format", "qcow2",
                  _name("up-qcow2"), "-f", "json")
    qstatus = lambda: conn.image.get_image(q["image_id"]).status  # noqa: E731
    assert _wait(qstatus, "active") == "active"
    assert _wait(vstatus, "available") == "available"
    qimage = cloud.cli("image", "show", q["image_id"], "-f", "json")
    assert qimage["disk_format"] == "qcow2" and qimage["virtual_size"] == 1024 ** 3
    assert qimage["size"] < 4 * 1024 ** 2
    saved = tmp_path / "saved.qcow2"
    cloud.cli("image", "save", "--file", str(saved), q["image_id"])
    assert qcow2.is_qcow2(str(saved))
    if shutil.which("qemu-img"):
        proc = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2",
                               _vol_file(cloud, vol["id"]), str(saved)], capture_output=True)
        assert proc.returncode == 0, proc.stdout
    # a volume from the qcow2 image holds the same bytes
    back = cloud.cli("volume", "create", "--image", q["image_id"], "--size", "1",
                     _name("fromq"), "-f", "json")
    wait_resource(cloud, "volumes", back["id"])
    with open(_vol_file(cloud, back["id"]), "rb") as f:
        assert f.read(len(data)) == data
    for v in (back["id"], vol["id"]):
        cloud.cli("volume", "delete", v)
    for i in (image_id, up["image_id"], q["image_id"]):
        cloud.cli("image", "delete", i)


def _action(cloud, token, vid, body, version="3.1"):
    return requests.post(cloud.url(8776, f"/v3/volumes/{vid}/action"), json=body,
                         headers={"X-Auth-Token": token,
                                  "OpenStack-API-Version": f"volume {version}"}, timeout=30)


def test_upload_errors(cloud):
    conn = cloud.conn("pocketstack")
    token = cloud.token("pocketstack")
    vol = conn.block_storage.create_volume(size=1, name=_name("err"))
    conn.block_storage.wait_for_status(vol, "available")
    for args, words in (({}, "image_name"),
                        ({"image_name": "x", "disk_format": "floppy"}, "disk-format"),
                        ({"image_name": "x", "container_format": "box"}, "container-format"),
                        ({"image_name": "x", "visibility": "everyone"}, "visibility"),
                        ({"image_name": "x", "force": "maybe"}, "force")):
        r = _action(cloud, token, vol.id, {"os-volume_upload_image": args})
        assert r.status_code == 400, (args, r.text)
        assert words in r.json()["badRequest"]["message"], r.text
    # a member may not publish: Glance's policy answers through Cinder
    r = _action(cloud, token, vol.id, {"os-volume_upload_image": {
        "image_name": "pub", "visibility": "public"}})
    assert r.status_code == 403, r.text
    r = _action(cloud, token, str(uuid.uuid4()), {"os-volume_upload_image": {
        "image_name": "x"}})
    assert r.status_code == 404 and "itemNotFound" in r.json()
    # not available: refused, and no image is left behind
    admin = cloud.conn("pocketstack-admin")
    admin.block_storage.reset_volume_status(vol, "error", None, None)
    before = len(list(conn.image.images()))
    r = _action(cloud, token, vol.id, {"os-volume_upload_image": {"image_name": "x"}})
    assert r.status_code == 400 and "status must be" in r.text
    assert len(list(conn.image.images())) == before
    admin.block_storage.reset_volume_status(vol, "available", None, None)
    conn.block_storage.delete_volume(vol)


def test_upload_answer_fields(cloud):
    conn = cloud.conn("pocketstack")
    token = cloud.token("pocketstack")
    vol = conn.block_storage.create_volume(size=1, name=_name("fields"))
    conn.block_storage.wait_for_status(vol, "available")
    r = _action(cloud, token, vol.id, {"os-volume_upload_image": {
        "image_name": "f", "disk_format": "qcow2", "protected": True}}, "3.1")
    assert r.status_code == 202, r.text
    body = r.json()["os-volume_upload_image"]
    assert body["id"] == vol.id and body["status"] == "uploading" and body["protected"] is True
    assert body["visibility"] == "private" and body["volume_type"]["name"] == "__DEFAULT__"
    image = conn.image.wait_for_status(conn.image.get_image(body["image_id"]), "active",
                                       wait=120)
    assert image.is_protected is True
    # at 3.0 the answer has no visibility/protected
    conn.block_storage.wait_for_status(vol, "available", wait=120)
    r0 = _action(cloud, token, vol.id, {"os-volume_upload_image": {"image_name": "g"}}, "3.0")
    assert r0.status_code == 202 and "visibility" not in r0.json()["os-volume_upload_image"]
    other = r0.json()["os-volume_upload_image"]["image_id"]
    conn.image.wait_for_status(conn.image.get_image(other), "active", wait=120)
    conn.block_storage.wait_for_status(vol, "available", wait=120)
    conn.image.update_image(image, is_protected=False)
    conn.image.delete_image(image)
    conn.image.delete_image(other)
    conn.block_storage.delete_volume(vol)


@pytest.mark.parametrize("holes", [True, False])
def test_qcow2_round_trip(tmp_path, holes):
    raw = tmp_path / "disk.raw"
    size = 3 * qcow2.CLUSTER * qcow2.L2_ENTRIES // 2  # 768 MiB: two L2 tables
    with open(raw, "wb") as f:
        f.truncate(size)
        f.seek(12345)
        f.write(os.urandom(200_000))
        f.seek(qcow2.CLUSTER * qcow2.L2_ENTRIES + 3)  # the second L2 table
        f.write(b"second table")
        f.seek(size - 5)
        f.write(b"last!")
        if not holes:
            f.seek(10 * qcow2.CLUSTER)
            f.write(bytes(3 * qcow2.CLUSTER))  # written zeros stay unallocated
    out = tmp_path / "disk.qcow2"
    with open(out, "wb") as f:
        n = qcow2.convert_raw(str(raw), f.write)
    assert n == os.path.getsize(out) and n < 2 * 1024 ** 2
    assert qcow2.is_qcow2(str(out)) and qcow2.virtual_size(str(out)) == size
    back = tmp_path / "back.raw"
    with open(back, "wb") as f:
        f.truncate(size)
        qcow2.to_raw(str(out), f.fileno())
    assert raw.read_bytes() == back.read_bytes()
    if shutil.which("qemu-img"):
        check = subprocess.run(["qemu-img", "check", str(out)], capture_output=True)
        assert check.returncode == 0, check.stdout


def test_qcow2_rejects_what_it_cannot_read(tmp_path):
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"not an image at all" * 10)
    with pytest.raises(ValueError):
        qcow2.to_raw(str(bad), os.open(os.devnull, os.O_WRONLY))
