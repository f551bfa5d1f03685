"""Images through the real ``openstack`` CLI."""

from __future__ import annotations

import hashlib
import os
import uuid


def _name(prefix: str = "img") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _file(tmp_path, size: int, name: str = "data.raw") -> str:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return str(path)


def _create(cloud, tmp_path, size: int = 1024 * 1024, cloud_name: str = "pocketstack",
            *extra: str) -> dict:
    name = _name()
    return cloud.cli("image", "create", "--file", _file(tmp_path, size), "--disk-format", "raw",
                     "--container-format", "bare", *extra, name, "-f", "json", cloud=cloud_name)


def test_create_list_show_save(cloud, tmp_path):
    path = _file(tmp_path, 3 * 1024 * 1024 + 17)
    name = _name()
    image = cloud.cli("image", "create", "--file", path, "--disk-format", "raw",
                      "--container-format", "bare", name, "-f", "json", cloud="pocketstack")
    data = open(path, "rb").read()
    assert image["status"] == "active"
    assert image["size"] == len(data) and image["virtual_size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["properties"]["os_hash_algo"] == "sha512"
    assert image["properties"]["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert image["visibility"] == "shared"
    rows = cloud.cli("image", "list", "-f", "json", cloud="pocketstack")
    assert name in [r["Name"] for r in rows]
    shown = cloud.cli("image", "show", name, "-f", "json", cloud="pocketstack")
    assert shown["id"] == image["id"]
    out = tmp_path / "out.raw"
    cloud.cli("image", "save", "--file", str(out), name, cloud="pocketstack")
    assert out.read_bytes() == data
    cloud.cli("image", "delete", name, cloud="pocketstack")
    assert name not in [r["Name"] for r in cloud.cli("image", "list", "-f", "json",
                                                     cloud="pocketstack")]


def test_large_upload_200mb(cloud, tmp_path):
    path = tmp_path / "big.raw"
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(200):
            chunk = block[:-1] + bytes([i])
            f.write(chunk)
            md5.update(chunk)
    name = _name("big")
    image = cloud.cli("image", "create", "--file", str(path), "--disk-format", "raw",
                      "--container-format", "bare", name, "-f", "json", cloud="pocketstack")
    assert image["status"] == "active" and image["size"] == 200 * 1024 * 1024
    assert image["checksum"] == md5.hexdigest()
    cloud.cli("image", "delete", name, cloud="pocketstack")


def test_properties_tags(cloud, tmp_path):
    image = _create(cloud, tmp_path)
    cloud.cli("image", "set", "--property", "k=v", "--property", "os_distro=cirros",
              "--tag", "t1", "--min-ram", "64", image["id"], cloud="pocketstack")
    shown = cloud.cli("image", "show", image["id"], "-f", "json", cloud="pocketstack")
    assert shown["properties"]["k"] == "v" and shown["properties"]["os_distro"] == "cirros"
    assert shown["tags"] == ["t1"] and shown["min_ram"] == 64
    cloud.cli("image", "unset", "--property", "k", "--tag", "t1", image["id"],
              cloud="pocketstack")
    shown = cloud.cli("image", "show", image["id"], "-f", "json", cloud="pocketstack")
    assert "k" not in shown["properties"] and shown["tags"] == []
    rows = cloud.cli("image", "list", "--property", "os_distro=cirros", "-f", "json",
                     cloud="pocketstack")
    assert [r["ID"] for r in rows] == [image["id"]]


def test_members_share_and_accept(cloud, tmp_path):
    image = _create(cloud, tmp_path)
    alt = cloud.conn("pocketstack-alt").current_project_id
    cloud.cli("image", "add", "project", image["id"], alt, cloud="pocketstack")
    members = cloud.cli("image", "member", "list", image["id"], "-f", "json",
                        cloud="pocketstack")
    assert [(m["Member ID"], m["Status"]) for m in members] == [(alt, "pending")]
    # pending shares are not listed by default; they are with --member-status
    ids = [r["ID"] for r in cloud.cli("image", "list", "-f", "json", cloud="pocketstack-alt")]
    assert image["id"] not in ids
    ids = [r["ID"] for r in cloud.cli("image", "list", "--member-status", "pending", "-f",
                                      "json", cloud="pocketstack-alt")]
    assert image["id"] in ids
    cloud.cli("image", "set", "--accept", image["id"], cloud="pocketstack-alt")
    ids = [r["ID"] for r in cloud.cli("image", "list", "-f", "json", cloud="pocketstack-alt")]
    assert image["id"] in ids
    members = cloud.cli("image", "member", "list", image["id"], "-f", "json",
                        cloud="pocketstack-alt")
    assert [(m["Member ID"], m["Status"]) for m in members] == [(alt, "accepted")]
    # the member may not change the image
    proc = cloud.cli("image", "set", "--name", "stolen", image["id"], cloud="pocketstack-alt",
                     check=False)
    assert proc.returncode != 0
    cloud.cli("image", "remove", "project", image["id"], alt, cloud="pocketstack")
    ids = [r["ID"] for r in cloud.cli("image", "list", "-f", "json", cloud="pocketstack-alt")]
    assert image["id"] not in ids


def test_deactivate_activate(cloud, tmp_path):
    image = _create(cloud, tmp_path)
    cloud.cli("image", "set", "--deactivate", image["id"], cloud="pocketstack")
    assert cloud.cli("image", "show", image["id"], "-f", "json",
                     cloud="pocketstack")["status"] == "deactivated"
    out = tmp_path / "o"
    proc = cloud.cli("image", "save", "--file", str(out), image["id"], cloud="pocketstack",
                     check=False)
    assert proc.returncode != 0
    cloud.cli("image", "set", "--activate", image["id"], cloud="pocketstack")
    assert cloud.cli("image", "show", image["id"], "-f", "json",
                     cloud="pocketstack")["status"] == "active"


def test_protected_refuses_delete(cloud, tmp_path):
    image = _create(cloud, tmp_path)
    cloud.cli("image", "set", "--protected", image["id"], cloud="pocketstack")
    proc = cloud.cli("image", "delete", image["id"], cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr + proc.stdout
    cloud.cli("image", "set", "--unprotected", image["id"], cloud="pocketstack")
    cloud.cli("image", "delete", image["id"], cloud="pocketstack")


def test_public_needs_admin(cloud, tmp_path):
    proc = cloud.cli("image", "create", "--public", _name(), cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr + proc.stdout
    image = cloud.cli("image", "create", "--public", _name(), "-f", "json")
    assert image["visibility"] == "public"
    ids = [r["ID"] for r in cloud.cli("image", "list", "-f", "json", cloud="pocketstack-alt")]
    assert image["id"] in ids


def test_create_with_import_and_stores(cloud, tmp_path):
    path = _file(tmp_path, 1024 * 1024 + 5)
    image = cloud.cli("image", "create", "--import", "--file", path, "--disk-format", "raw",
                      "--container-format", "bare", _name("imp"), "-f", "json",
                      cloud="pocketstack")
    import time

    deadline = time.monotonic() + 60
    while image["status"] != "active" and time.monotonic() < deadline:
        time.sleep(0.5)
        image = cloud.cli("image", "show", image["id"], "-f", "json", cloud="pocketstack")
    assert image["status"] == "active" and image["size"] == 1024 * 1024 + 5
    stores = cloud.cli("image", "stores", "list", "-f", "json", cloud="pocketstack")
    assert [(s["ID"], s["Default"]) for s in stores] == [("file", True)]
