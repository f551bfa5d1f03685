"""Images through openstacksdk: upload, download, import via glance-direct."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid


def _name() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


def _wait(conn, image_id: str, status: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while True:
        image = conn.image.get_image(image_id)
        if image.status == status or time.monotonic() > deadline:
            return image
        time.sleep(0.2)


def test_create_and_download(cloud):
    conn = cloud.conn("pocketstack")
    data = os.urandom(5 * 1024 * 1024 + 3)
    image = conn.image.create_image(name=_name(), data=data, disk_format="raw",
                                    container_format="bare", validate_checksum=True)
    image = _wait(conn, image.id, "active")
    assert image.status == "active" and image.size == len(data)
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.hash_algo == "sha512" and image.hash_value == hashlib.sha512(data).hexdigest()
    got = conn.image.download_image(image)
    assert got.content == data if hasattr(got, "content") else got == data
    out = io.BytesIO()
    conn.image.download_image(image, output=out)
    assert out.getvalue() == data
    conn.image.delete_image(image)
    assert conn.image.find_image(image.id) is None


def test_glance_direct_import(cloud):
    conn = cloud.conn("pocketstack")
    methods = conn.image.get_import_info().import_methods["value"]
    assert "glance-direct" in methods
    data = os.urandom(2 * 1024 * 1024)
    image = conn.image.create_image(name=_name(), disk_format="raw", container_format="bare")
    assert image.status == "queued"
    conn.image.stage_image(image, data=data)
    assert conn.image.get_image(image.id).status == "uploading"
    conn.image.import_image(image, method="glance-direct")
    image = _wait(conn, image.id, "active")
    assert image.status == "active" and image.checksum == hashlib.md5(data).hexdigest()
    assert conn.image.download_image(image).content == data
    conn.image.delete_image(image)


def test_sdk_use_import(cloud):
    conn = cloud.conn("pocketstack")
    data = os.urandom(1024 * 1024)
    image = conn.image.create_image(name=_name(), data=data, disk_format="raw",
                                    container_format="bare", use_import=True, wait=True,
                                    timeout=60)
    image = _wait(conn, image.id, "active")
    assert image.status == "active" and image.size == len(data)


def test_members_and_tags_sdk(cloud):
    conn = cloud.conn("pocketstack")
    alt = cloud.conn("pocketstack-alt")
    image = conn.image.create_image(name=_name(), disk_format="raw", container_format="bare")
    conn.image.add_tag(image, "red")
    assert conn.image.get_image(image.id).tags == ["red"]
    conn.image.remove_tag(image, "red")
    assert conn.image.get_image(image.id).tags == []
    member = conn.image.add_member(image, member_id=alt.current_project_id)
    assert member.status == "pending"
    alt.image.update_member(alt.current_project_id, image, status="accepted")
    assert [m.status for m in conn.image.members(image)] == ["accepted"]
    assert alt.image.get_member(alt.current_project_id, image).status == "accepted"
    assert alt.image.get_image(image.id).id == image.id
    conn.image.remove_member(alt.current_project_id, image)
    assert list(conn.image.members(image)) == []
    assert alt.image.find_image(image.id) is None


def test_stores_and_schemas(cloud):
    conn = cloud.conn("pocketstack")
    stores = list(conn.image.stores())
    assert [(s.id, s.is_default) for s in stores] == [("file", True)]
    schema = conn.image.get_images_schema()
    assert "images" in schema.properties
    assert conn.image.get_image_schema().properties["os_hash_algo"]["readOnly"] is True
    assert conn.image.get_member_schema().properties["status"]["enum"] == [
        "pending", "accepted", "rejected"]
