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


def test_temp_url_generated_by_sdk(cloud):
    import requests

    conn = cloud.conn("pocketstack")
    container = _name("tmp")
    conn.object_store.create_container(name=container)
    conn.object_store.create_object(container, "file.txt", data=b"shh")
    conn.object_store.set_container_temp_url_key(container, "container-key")
    path = f"/v1/AUTH_{conn.current_project_id}/{container}/file.txt"
    for kwargs in ({}, {"iso8601": True}, {"prefix": False}):
        url = conn.object_store.generate_temp_url(path, 60, "GET",
                                                  temp_url_key="container-key", **kwargs)
        r = requests.get(cloud.url(8080, url), timeout=10)
        assert r.status_code == 200 and r.content == b"shh"
    prefix = f"/v1/AUTH_{conn.current_project_id}/{container}/fi"
    conn.object_store.set_account_temp_url_key("account-key", secondary=True)
    url = conn.object_store.generate_temp_url(prefix, 60, "GET", prefix=True)
    r = requests.get(cloud.url(8080, url.replace("/fi?", "/file.txt?")), timeout=10)
    assert r.status_code == 200 and r.content == b"shh"


def test_large_object_dlo(cloud, tmp_path):
    conn = cloud.conn("pocketstack")
    container = _name("dlo")
    conn.object_store.create_container(name=container)
    data = os.urandom(100 * 1024 + 3)
    path = tmp_path / "dlo.bin"
    path.write_bytes(data)
    conn.create_object(container, "dlo.bin", filename=str(path), segment_size=32 * 1024,
                       use_slo=False)
    head = conn.object_store.get_object_metadata("dlo.bin", container=container)
    assert head.content_length == len(data)
    assert conn.object_store.download_object("dlo.bin", container=container) == data


def test_formpost_with_sdk_signature(cloud):
    import requests

    conn = cloud.conn("pocketstack")
    container = _name("form")
    conn.object_store.create_container(name=container)
    conn.object_store.set_container_temp_url_key(container, "form-key")
    expires, sig = conn.object_store.generate_form_signature(
        container, "uploads/", "", 1024, 2, 60, temp_url_key="form-key")
    url = cloud.url(8080, f"/v1/AUTH_{conn.current_project_id}/{container}/uploads/")
    fields = {"redirect": "", "max_file_size": "1024", "max_file_count": "2",
              "expires": str(expires), "signature": sig}
    r = requests.post(url, data=fields, files={"file1": ("a.txt", b"alpha", "text/plain")},
                      timeout=10)
    assert r.status_code == 201, r.text
    assert conn.object_store.download_object("uploads/a.txt", container=container) == b"alpha"
    r = requests.post(url, data={**fields, "signature": "0" * 40},
                      files={"file1": ("b.txt", b"beta")}, timeout=10)
    assert r.status_code == 401
    r = requests.post(url, data=fields, files={"file1": ("big.bin", b"x" * 2048)}, timeout=10)
    assert r.status_code == 400
