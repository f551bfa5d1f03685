"""A volume-backed server's snapshot image (Nova's: its volumes snapshotted in Block
Storage, an image of no data whose block_device_mapping maps the snapshots), a server
booted from that image, and Block Storage's volume-extended event, over HTTP with
openstacksdk, the ``openstack`` CLI and raw calls (the fake driver)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from compute_helpers import api, boot_from_volume, name, wait


@pytest.fixture(scope="module")
def raw_image(cloud: Any, tmp_path_factory: Any) -> str:
    path = tmp_path_factory.mktemp("img") / "disk.raw"
    path.write_bytes(b"\0" * 4096)
    return str(cloud.cli("image", "create", name("img"), "--file", str(path), "--disk-format",
                         "raw", "--container-format", "bare", "--public", "-f", "json")["id"])


def _events(cloud: Any, sid: str) -> list[str]:
    out = []
    for action in api(cloud, "GET", f"/servers/{sid}/os-instance-actions",
                      version="2.79").json()["instanceActions"]:
        detail = api(cloud, "GET", f"/servers/{sid}/os-instance-actions/"
                     f"{action['request_id']}", version="2.79").json()["instanceAction"]
        out += [e["event"] for e in detail.get("events") or []]
    return out


def test_snapshot_of_a_volume_backed_server_boots_on_a_volume_from_it(cloud: Any,
                                                                       raw_image: str) -> None:
    sid = boot_from_volume(cloud, raw_image, name("vbs"))
    conn = cloud.conn("pocketstack-admin")
    root = api(cloud, "GET", f"/servers/{sid}", version="2.79").json()["server"][
        "os-extended-volumes:volumes_attached"][0]["id"]
    image_name = name("vbs-image")
    image_id = cloud.cli("server", "image", "create", "--name", image_name, "-f", "json",
                         sid)["id"]
    image = conn.image.get_image(image_id)
    assert (image.status, image.size, image.name) == ("active", 0, image_name)
    assert image.properties["bdm_v2"] == "True"
    assert image.properties["root_device_name"] == "/dev/vda"
    [bdm] = json.loads(image.properties["block_device_mapping"])
    assert (bdm["source_type"], bdm["destination_type"], bdm["boot_index"],
            bdm["delete_on_termination"]) == ("snapshot", "volume", 0, True)
    snap = conn.block_storage.get_snapshot(bdm["snapshot_id"])
    assert snap.volume_id == root and snap.name == f"snapshot for {image_name}"
    assert snap.status == "available"

    r = api(cloud, "POST", f"/servers/{sid}/action", version="2.79", json={"createBackup": {
        "name": "b", "backup_type": "daily", "rotation": 1}})
    assert r.status_code == 400 and "volume-backed" in r.json()["badRequest"]["message"]

    # Block Storage 3.46: a volume "from the image" is made from its snapshot
    from_image = cloud.cli("--os-volume-api-version", "3.46", "volume", "create", "--image",
                           image_id, "--size", "1", "-f", "json", name("from-image"))
    assert from_image["snapshot_id"] == bdm["snapshot_id"], from_image
    shown = conn.block_storage.wait_for_status(conn.block_storage.get_volume(
        from_image["id"]), "available", interval=0.1, wait=30)
    assert shown.is_bootable and shown.volume_image_metadata["image_id"] == raw_image
    conn.block_storage.delete_volume(shown)

    # a server booted from the image: its root is a volume made from the snapshot
    r = api(cloud, "POST", "/servers", version="2.79", json={"server": {
        "name": name("from-vbs"), "flavorRef": "1", "imageRef": image_id,
        "networks": "none"}})
    assert r.status_code == 202, r.text
    second = r.json()["server"]["id"]
    body = wait(cloud, second, "ACTIVE")
    [attached] = body["os-extended-volumes:volumes_attached"]
    assert attached["delete_on_termination"] is True
    made = conn.block_storage.get_volume(attached["id"])
    assert made.snapshot_id == bdm["snapshot_id"] and made.is_bootable
    assert made.volume_image_metadata["image_id"] == raw_image  # as its origin's
    assert made.attachments[0]["server_id"] == second
    assert body["image"]["id"] == image_id  # (Nova keeps the image it was asked for)
    # volume-backed: shelving offloads it at once (nothing to snapshot)
    assert api(cloud, "POST", f"/servers/{second}/action", version="2.79",
               json={"shelve": None}).status_code == 202
    assert wait(cloud, second, "SHELVED_OFFLOADED")["status"] == "SHELVED_OFFLOADED"

    # the image's mapping replaced by the request's own boot volume
    r = api(cloud, "POST", "/servers", version="2.79", json={"server": {
        "name": name("own-root"), "flavorRef": "1", "imageRef": image_id,
        "networks": "none", "block_device_mapping_v2": [{
            "uuid": raw_image, "source_type": "image", "destination_type": "volume",
            "volume_size": 1, "boot_index": 0, "delete_on_termination": True}]}})
    assert r.status_code == 202, r.text
    third = r.json()["server"]["id"]
    [own] = wait(cloud, third, "ACTIVE")["os-extended-volumes:volumes_attached"]
    assert conn.block_storage.get_volume(own["id"]).snapshot_id is None

    for server in (second, third, sid):
        cloud.cli("server", "delete", "--wait", server)
    deadline = time.monotonic() + 30  # (delete_on_termination: they go with them)
    while any(conn.block_storage.find_volume(v) for v in (attached["id"], own["id"])):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    conn.block_storage.delete_snapshot(bdm["snapshot_id"])
    conn.image.delete_image(image_id)


def test_image_with_a_bad_block_device_mapping_is_refused(cloud: Any) -> None:
    conn = cloud.conn("pocketstack-admin")
    image = conn.image.create_image(name=name("bad-bdm"), disk_format="raw",
                                    container_format="bare", data=b"x",
                                    block_device_mapping="not json", bdm_v2="True")
    r = api(cloud, "POST", "/servers", version="2.79", json={"server": {
        "name": name("bad"), "flavorRef": "1", "imageRef": image.id, "networks": "none"}})
    assert r.status_code == 400 and "block_device_mapping" in \
        r.json()["badRequest"]["message"], r.text
    conn.image.delete_image(image.id)


def test_extending_an_attached_volume_tells_compute(cloud: Any, raw_image: str) -> None:
    """Block Storage 3.42's extend of an in-use volume sends Nova's volume-extended event
    (tag: the volume), recorded on the server's latest action."""
    sid = boot_from_volume(cloud, raw_image, name("ext"))
    root = api(cloud, "GET", f"/servers/{sid}", version="2.79").json()["server"][
        "os-extended-volumes:volumes_attached"][0]["id"]
    cloud.cli("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", root)
    deadline = time.monotonic() + 30
    while f"volume-extended-{root}" not in _events(cloud, sid):
        assert time.monotonic() < deadline, _events(cloud, sid)
        time.sleep(0.1)
    assert cloud.cli("volume", "show", root, "-f", "json")["size"] == 2
    cloud.cli("server", "delete", "--wait", sid)
