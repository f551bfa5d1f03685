"""Object storage through the real ``openstack`` CLI."""

from __future__ import annotations

import os
import uuid


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_catalog_has_project_url(cloud):
    catalog = cloud.cli("catalog", "list", "-f", "json", cloud="pocketstack")
    swift = [c for c in catalog if c["Type"] == "object-store"]
    assert swift and "/v1/AUTH_" in str(swift[0]["Endpoints"])
    assert "$(project_id)s" not in str(swift[0]["Endpoints"])


def test_container_lifecycle(cloud):
    name = _name("cont")
    cloud.cli("container", "create", name, cloud="pocketstack")
    names = [c["Name"] for c in cloud.cli("container", "list", "-f", "json",
                                           cloud="pocketstack")]
    assert name in names
    cloud.cli("container", "set", "--property", "color=blue", name, cloud="pocketstack")
    shown = cloud.cli("container", "show", name, "-f", "json", cloud="pocketstack")
    assert shown["container"] == name and shown["object_count"] in ("0", 0)
    assert {k.lower(): v for k, v in shown["properties"].items()} == {"color": "blue"}
    cloud.cli("container", "unset", "--property", "color", name, cloud="pocketstack")
    shown = cloud.cli("container", "show", name, "-f", "json", cloud="pocketstack")
    assert "properties" not in shown or not shown["properties"]
    cloud.cli("container", "delete", name, cloud="pocketstack")
    names = [c["Name"] for c in cloud.cli("container", "list", "-f", "json",
                                           cloud="pocketstack")]
    assert name not in names


def test_object_lifecycle(cloud, tmp_path):
    container = _name("cont")
    cloud.cli("container", "create", container, cloud="pocketstack")
    os.chdir(tmp_path)
    with open("data.txt", "w") as f:
        f.write("hello object storage\n")
    created = cloud.cli("object", "create", container, "data.txt", "-f", "json",
                        cloud="pocketstack")
    assert created[0]["object"] == "data.txt"
    listing = cloud.cli("object", "list", container, "-f", "json", cloud="pocketstack")
    assert [o["Name"] for o in listing] == ["data.txt"]
    cloud.cli("object", "set", "--property", "owner=me", container, "data.txt",
              cloud="pocketstack")
    shown = cloud.cli("object", "show", container, "data.txt", "-f", "json",
                      cloud="pocketstack")
    assert shown["content-length"] in ("21", 21) and shown["content-type"] == "text/plain"
    assert "owner" in str(shown["properties"]).lower()
    cloud.cli("object", "save", "--file", "out.txt", container, "data.txt",
              cloud="pocketstack")
    assert open("out.txt").read() == "hello object storage\n"
    # a container with objects cannot be deleted
    proc = cloud.cli("container", "delete", container, cloud="pocketstack", check=False)
    assert proc.returncode != 0 and "409" in proc.stderr
    cloud.cli("object", "delete", container, "data.txt", cloud="pocketstack")
    assert cloud.cli("object", "list", container, "-f", "json", cloud="pocketstack") == []
    cloud.cli("container", "delete", container, cloud="pocketstack")


def test_container_delete_recursive(cloud, tmp_path):
    container = _name("cont")
    cloud.cli("container", "create", container, cloud="pocketstack")
    os.chdir(tmp_path)
    for n in ("a", "b"):
        open(n, "w").write(n)
        cloud.cli("object", "create", container, n, cloud="pocketstack")
    cloud.cli("container", "delete", "--recursive", container, cloud="pocketstack")
    names = [c["Name"] for c in cloud.cli("container", "list", "-f", "json",
                                           cloud="pocketstack")]
    assert container not in names


def test_account_show_and_set(cloud):
    cloud.cli("object", "store", "account", "set", "--property", "team=blue",
              cloud="pocketstack-alt")
    shown = cloud.cli("object", "store", "account", "show", "-f", "json",
                      cloud="pocketstack-alt")
    assert shown["Account"].startswith("AUTH_")
    assert "team" in str(shown.get("properties")).lower()
    cloud.cli("object", "store", "account", "unset", "--property", "team",
              cloud="pocketstack-alt")
    shown = cloud.cli("object", "store", "account", "show", "-f", "json",
                      cloud="pocketstack-alt")
    assert "team" not in str(shown.get("properties")).lower()
