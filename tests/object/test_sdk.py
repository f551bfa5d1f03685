"""Object storage through openstacksdk, including SLO large-object uploads."""

from __future__ import annotations

import hashlib
import os
import uuid


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_create_download_metadata(cloud):
    conn = cloud.conn("pocketstack")
    container = _name("sdk")
    conn.object_store.create_container(name=container)
    conn.object_store.create_object(container, "hello.bin", data=b"\x00\x01binary",
                                    metadata={"kind": "test"})
    assert conn.object_store.download_object("hello.bin", container=container) == \
        b"\x00\x01binary"
    meta = conn.object_store.get_object_metadata("hello.bin", container=container)
    assert meta.content_length == 8
    assert meta.etag == hashlib.md5(b"\x00\x01binary").hexdigest()
    assert meta.metadata.get("kind") == "test" or meta.metadata.get("Kind") == "test"
    names = [o.name for o in conn.object_store.objects(container)]
    assert names == ["hello.bin"]
    cmeta = conn.object_store.get_container_metadata(container)
    assert cmeta.object_count == 1 and cmeta.bytes_used == 8
    conn.object_store.delete_object("hello.bin", container=container)
    conn.object_store.delete_container(container)


def test_large_object_slo(cloud, tmp_path):
    conn = cloud.conn("pocketstack")
    container = _name("big")
    conn.object_store.create_container(name=container)
    data = os.urandom(300 * 1024 + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    conn.create_object(container, "big.bin", filename=str(path), segment_size=64 * 1024)
    head = conn.object_store.get_object_metadata("big.bin", container=container)
    assert head.content_length == len(data)
    assert conn.object_store.download_object("big.bin", container=container) == data
    names = [o.name for o in conn.object_store.objects(container)]
    assert "big.bin" in names and "big.bin/000000" in names and len(names) == 6
    # the sdk deletes the segments with the manifest
    conn.delete_object(container, "big.bin")
    assert list(conn.object_store.objects(container)) == []
    conn.object_store.delete_container(container)


def test_account_metadata(cloud):
    conn = cloud.conn("pocketstack")
    conn.object_store.set_account_metadata(project="x")
    acct = conn.object_store.get_account_metadata()
    assert acct.metadata.get("Project") == "x" or acct.metadata.get("project") == "x"
    conn.object_store.delete_account_metadata(["project"])
