"""Helpers shared by the compute tests."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import requests

IMAGE = "11111111-2222-3333-4444-555555555555"  # a public image made in the Image service


def start_with_conf(fresh_cloud: Any, conf: str) -> Any:
    """Start ``fresh_cloud`` with ``conf`` as its pocketstack.conf, its tiny image made."""
    os.makedirs(fresh_cloud.data_dir, exist_ok=True)
    with open(os.path.join(fresh_cloud.data_dir, "pocketstack.conf"), "w") as f:
        f.write(conf)
    fresh_cloud.start()
    fresh_cloud.tiny_image()
    return fresh_cloud


def ensure_image(cloud: Any) -> str:
    """Create IMAGE (public, active, a few bytes) in the cloud's Image service once."""
    return cloud.tiny_image()


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def api(cloud: Any, method: str, path: str, user: str = "pocketstack-admin",
        version: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"X-Auth-Token": cloud.token(user), **kwargs.pop("headers", {})}
    if version:
        headers["OpenStack-API-Version"] = f"compute {version}"
    return requests.request(method, cloud.url(8774, "/v2.1" + path), headers=headers,
                            timeout=30, **kwargs)


def new_flavor(cloud: Any, vcpus: int = 1, ram: int = 64, specs: dict[str, str] | None = None,
               prefix: str = "flavor") -> str:
    """A public flavor (1 GB of disk) with extra ``specs``, through the compute API."""
    r = api(cloud, "POST", "/flavors", json={"flavor": {
        "name": name(prefix), "ram": ram, "vcpus": vcpus, "disk": 1}})
    assert r.status_code == 200, r.text
    fid = r.json()["flavor"]["id"]
    if specs:
        r = api(cloud, "POST", f"/flavors/{fid}/os-extra_specs", json={"extra_specs": specs})
        assert r.status_code == 200, r.text
    return fid


def boot(cloud: Any, server_name: str, user: str = "pocketstack-admin", flavor: str = "1",
         version: str = "2.79", **extra: Any) -> str:
    ensure_image(cloud)
    body = {"server": {"name": server_name, "flavorRef": flavor, "imageRef": IMAGE,
                       "networks": "none", **extra.pop("server", {})}, **extra}
    r = api(cloud, "POST", "/servers", user, version, json=body)
    assert r.status_code == 202, r.text
    return r.json()["server"]["id"]


def wait(cloud: Any, server_id: str, status: str | tuple[str, ...],
         user: str = "pocketstack-admin", timeout: float = 30) -> dict[str, Any]:
    wanted = (status,) if isinstance(status, str) else status
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = api(cloud, "GET", f"/servers/{server_id}", user, "2.79")
        if r.status_code == 404 and "DELETED" in wanted:
            return {"status": "DELETED"}
        assert r.status_code == 200, r.text
        body = r.json()["server"]
        if body["status"] in wanted and body["OS-EXT-STS:task_state"] is None:
            return body
        time.sleep(0.1)
    raise AssertionError(f"server {server_id} never reached {wanted}: {body}")


def boot_from_volume(cloud: Any, image: str, server_name: str | None = None) -> str:
    """A server booted from a new 1 GiB volume made of ``image`` (deleted with it), ACTIVE."""
    r = api(cloud, "POST", "/servers", version="2.79", json={"server": {
        "name": server_name or name("bfv"), "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{"uuid": image, "source_type": "image",
                                     "destination_type": "volume", "volume_size": 1,
                                     "boot_index": 0, "delete_on_termination": True}]}})
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    wait(cloud, sid, "ACTIVE")
    return sid


def new_volume(cloud: Any, size: int = 1) -> dict[str, Any]:
    """A new volume of the Block Storage service, once it is available."""
    vol = cloud.cli("volume", "create", "--size", str(size), name("v"), "-f", "json")
    deadline = time.monotonic() + 30
    while cloud.cli("volume", "show", vol["id"], "-f", "json")["status"] != "available":
        assert time.monotonic() < deadline, vol
        time.sleep(0.1)
    return vol
