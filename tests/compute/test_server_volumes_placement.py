"""Compute with Placement (providers, claims) and Block Storage (attachments, boot from
volume), through the real CLI and raw HTTP."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))
from compute_helpers import api, boot, boot_from_volume, name, wait  # noqa: E402


def placement(cloud: Any, path: str) -> requests.Response:
    return requests.get(cloud.url(8778, path), timeout=30,
                        headers={"X-Auth-Token": cloud.token("pocketstack-admin"),
                                 "OpenStack-API-Version": "placement 1.28"})


def volume_status(cloud: Any, vid: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    vol: dict[str, Any] = {}
    while time.monotonic() < deadline:
        vol = cloud.cli("volume", "show", vid, "-f", "json")
        if vol["status"] == wanted:
            return vol
        time.sleep(0.2)
    raise AssertionError(f"volume {vid} never {wanted}: {vol}")


@pytest.fixture(scope="module")
def image(cloud: Any, tmp_path_factory: Any) -> str:
    path = tmp_path_factory.mktemp("img") / "disk.raw"
    path.write_bytes(b"\0" * 4096)
    img = cloud.cli("image", "create", name("img"), "--file", str(path), "--disk-format",
                    "raw", "--container-format", "bare", "--public", "-f", "json")
    return img["id"]


def test_hosts_are_resource_providers_and_servers_allocate(cloud: Any) -> None:
    rps = cloud.cli("resource", "provider", "list", "-f", "json")
    hypervisors = cloud.cli("hypervisor", "list", "-f", "json")
    names = {rp["name"]: rp["uuid"] for rp in rps}
    for hv in hypervisors:
        assert hv["Hypervisor Hostname"] in names
    rp = names[hypervisors[0]["Hypervisor Hostname"]]
    inv = placement(cloud, f"/resource_providers/{rp}/inventories").json()["inventories"]
    assert set(inv) >= {"VCPU", "MEMORY_MB", "DISK_GB"}
    assert inv["VCPU"]["allocation_ratio"] == 16.0

    sid = boot(cloud, name("alloc"))
    server = wait(cloud, sid, "ACTIVE")
    allocs = placement(cloud, f"/allocations/{sid}").json()
    assert allocs["project_id"] == server["tenant_id"]
    assert allocs["user_id"] == server["user_id"]
    (host_rp, res), = allocs["allocations"].items()
    assert res["resources"]["VCPU"] == server["flavor"]["vcpus"]
    assert res["resources"]["MEMORY_MB"] == server["flavor"]["ram"]
    usage = cloud.cli("resource", "provider", "usage", "show", host_rp, "-f", "json")
    assert {u["resource_class"]: u["usage"] for u in usage}["VCPU"] >= 1

    assert api(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait(cloud, sid, "DELETED")
    deadline = time.monotonic() + 10
    while placement(cloud, f"/allocations/{sid}").json()["allocations"]:
        assert time.monotonic() < deadline, "allocations never released"
        time.sleep(0.1)


def test_attach_and_detach_with_the_cli(cloud: Any) -> None:
    vol = cloud.cli("volume", "create", "--size", "1", name("vol"), "-f", "json")
    volume_status(cloud, vol["id"], "available")
    sid = boot(cloud, name("att"))
    wait(cloud, sid, "ACTIVE")
    cloud.cli("server", "add", "volume", sid, vol["id"])
    shown = volume_status(cloud, vol["id"], "in-use")
    assert shown["attachments"][0]["server_id"] == sid
    listed = cloud.cli("server", "volume", "list", sid, "-f", "json")
    assert [(a["Volume ID"], a["Device"]) for a in listed] == [(vol["id"], "/dev/vdb")]
    server = api(cloud, "GET", f"/servers/{sid}", version="2.79").json()["server"]
    assert server["os-extended-volumes:volumes_attached"] == [
        {"id": vol["id"], "delete_on_termination": False}]

    # attaching it again: 400, as Nova; an unknown volume: 404
    again = api(cloud, "POST", f"/servers/{sid}/os-volume_attachments",
                json={"volumeAttachment": {"volumeId": vol["id"]}})
    assert again.status_code == 400, again.text
    assert "badRequest" in again.json()
    missing = api(cloud, "POST", f"/servers/{sid}/os-volume_attachments",
                  json={"volumeAttachment": {"volumeId": "0" * 32}})
    assert missing.status_code == 404, missing.text
    bad = api(cloud, "POST", f"/servers/{sid}/os-volume_attachments", json={"x": 1})
    assert bad.status_code == 400

    cloud.cli("server", "remove", "volume", sid, vol["id"])
    volume_status(cloud, vol["id"], "available")
    gone = api(cloud, "GET", f"/servers/{sid}/os-volume_attachments/{vol['id']}")
    assert gone.status_code == 404
    assert api(cloud, "DELETE", f"/servers/{sid}").status_code == 204


def test_locked_server_refuses_attach(cloud: Any) -> None:
    vol = cloud.cli("volume", "create", "--size", "1", name("vol"), "-f", "json",
                    cloud="pocketstack")
    volume_status(cloud, vol["id"], "available")
    sid = boot(cloud, name("locked"), user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    assert api(cloud, "POST", f"/servers/{sid}/action", json={"lock": None}).status_code == 202
    r = api(cloud, "POST", f"/servers/{sid}/os-volume_attachments", user="pocketstack",
            json={"volumeAttachment": {"volumeId": vol["id"]}})
    assert r.status_code == 409, r.text
    assert r.json()["conflictingRequest"]["code"] == 409
    api(cloud, "POST", f"/servers/{sid}/action", json={"unlock": None})
    api(cloud, "DELETE", f"/servers/{sid}")


def test_boot_from_volume_cli_and_delete_on_termination(cloud: Any, image: str) -> None:
    root = cloud.cli("volume", "create", "--size", "1", "--image", image, name("root"),
                     "-f", "json")
    volume_status(cloud, root["id"], "available")
    srv = cloud.cli("server", "create", "--flavor", "1", "--volume", root["id"],
                    "--nic", "none", "--wait", name("bfv"), "-f", "json")
    assert srv["status"] == "ACTIVE"
    shown = volume_status(cloud, root["id"], "in-use")
    assert shown["attachments"][0]["device"] == "/dev/vda"
    # the root volume cannot be detached
    r = api(cloud, "DELETE", f"/servers/{srv['id']}/os-volume_attachments/{root['id']}")
    assert r.status_code == 400, r.text
    cloud.cli("server", "delete", "--wait", srv["id"])
    volume_status(cloud, root["id"], "available")  # kept: not delete_on_termination

    srv2 = cloud.cli("server", "create", "--flavor", "1", "--boot-from-volume", "1",
                     "--image", image, "--nic", "none", "--wait", name("bfv2"), "-f", "json")
    attached = api(cloud, "GET", f"/servers/{srv2['id']}", version="2.79"
                   ).json()["server"]["os-extended-volumes:volumes_attached"]
    assert len(attached) == 1
    created = cloud.cli("volume", "show", attached[0]["id"], "-f", "json")
    assert created["status"] == "in-use" and created["bootable"] in ("true", True)
    cloud.cli("server", "delete", "--wait", srv2["id"])
    volume_status(cloud, attached[0]["id"], "available")


def test_block_device_mapping_errors(cloud: Any, image: str) -> None:
    def create(bdm: list[dict[str, Any]]) -> requests.Response:
        return api(cloud, "POST", "/servers", version="2.79", json={"server": {
            "name": name("bad"), "flavorRef": "1", "networks": "none",
            "block_device_mapping_v2": bdm}})

    assert create([{"uuid": "0" * 32, "source_type": "volume", "destination_type": "volume",
                    "boot_index": 0}]).status_code == 400
    assert create([{"uuid": image, "source_type": "image", "destination_type": "volume",
                    "boot_index": 0}]).status_code == 400  # no volume_size
    blank = cloud.cli("volume", "create", "--size", "1", name("blank"), "-f", "json")
    volume_status(cloud, blank["id"], "available")
    r = create([{"uuid": blank["id"], "source_type": "volume", "destination_type": "volume",
                 "boot_index": 0}])
    assert r.status_code == 400 and "not bootable" in r.text, r.text
    cloud.cli("volume", "delete", blank["id"])
    assert create([{"source_type": "nonsense", "boot_index": 0}]).status_code == 400
    sid = boot_from_volume(cloud, image, name("dot"))
    server = wait(cloud, sid, "ACTIVE")
    assert server["image"] == "" or server["image"]["id"] == ""
    vid = server["os-extended-volumes:volumes_attached"][0]["id"]
    assert server["os-extended-volumes:volumes_attached"][0]["delete_on_termination"]
    api(cloud, "DELETE", f"/servers/{sid}")
    wait(cloud, sid, "DELETED")
    deadline = time.monotonic() + 10
    while True:
        r = requests.get(cloud.url(8776, f"/v3/volumes/{vid}"), timeout=30,
                         headers={"X-Auth-Token": cloud.token("pocketstack-admin")})
        if r.status_code == 404 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 404, r.text
