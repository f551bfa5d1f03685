"""Helpers of the metadata tests: boot an instance through the CLI, ask as the proxy would."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import time
import uuid
from typing import Any

import requests


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def image(cloud: Any, tmp_path: Any) -> str:
    found = cloud.cli("image", "list", "--name", "md-tiny", "-f", "json")
    if found:
        return found[0]["ID"]
    path = tmp_path / "tiny.img"
    path.write_bytes(os.urandom(1024))
    return cloud.cli("image", "create", "--file", str(path), "--disk-format", "raw",
                     "--container-format", "bare", "--public", "md-tiny", "-f", "json")["id"]


def keypair(cloud: Any, tmp_path: Any, user: str) -> tuple[str, str]:
    key = tmp_path / name("key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                   check=True)
    kname = name("kp")
    cloud.cli("keypair", "create", "--public-key", f"{key}.pub", kname, cloud=user)
    return kname, (tmp_path / f"{key.name}.pub").read_text()


def boot(cloud: Any, tmp_path: Any, user: str = "pocketstack", **props: str
         ) -> dict[str, Any]:
    """A server on ``private`` with a key, user data and properties, and its port."""
    img = image(cloud, tmp_path)
    kname, pub = keypair(cloud, tmp_path, user)
    ud = tmp_path / name("ud")
    ud.write_text("#cloud-config\nhostname: from-user-data\n")
    sname = name("vm")
    args = ["server", "create", "--image", img, "--flavor", "m1.tiny", "--key-name", kname,
            "--user-data", str(ud), *[a for k, v in props.items()
                                       for a in ("--property", f"{k}={v}")]]
    proc = cloud.cli(*args, "--nic", "net-id=private", sname, "-f", "json", cloud=user,
                     check=False)
    if proc.returncode != 0 and "no Network service" in proc.stderr:
        # compute does not attach ports yet: attach one the way Nova would
        server = cloud.cli(*args, "--nic", "none", sname, "-f", "json", cloud=user)
        cloud.cli("port", "create", "--network", "private", "--device", server["id"],
                  "--device-owner", "compute:nova", name("port"), cloud=user)
    else:
        assert proc.returncode == 0, proc.stderr
        import json

        server = json.loads(proc.stdout)
    ports = cloud.cli("port", "list", "--device-id", server["id"], "--long", "-f", "json",
                      cloud="pocketstack-admin")
    assert ports, "the server has no port"
    port = cloud.cli("port", "show", ports[0]["ID"], "-f", "json")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = cloud.cli("server", "show", server["id"], "-f", "json", cloud=user)
        if shown["status"] in ("ACTIVE", "ERROR"):
            break
        time.sleep(0.2)
    return {"id": server["id"], "name": sname, "key_name": kname, "public_key": pub,
            "user_data": ud.read_bytes(), "port": port,
            "ip": port["fixed_ips"][0]["ip_address"], "network_id": port["network_id"],
            "project_id": shown.get("project_id")}


def secret(cloud: Any) -> bytes:
    with open(os.path.join(cloud.data_dir, "metadata-proxy-secret"), encoding="utf-8") as f:
        return f.read().strip().encode()


def sign(cloud: Any, instance_id: str) -> str:
    return hmac.new(secret(cloud), instance_id.encode(), hashlib.sha256).hexdigest()


def by_network(vm: dict[str, Any]) -> dict[str, str]:
    return {"X-Forwarded-For": vm["ip"], "X-Neutron-Network-ID": vm["network_id"]}


def signed(cloud: Any, vm: dict[str, Any], project_id: str) -> dict[str, str]:
    return {"X-Instance-ID": vm["id"], "X-Tenant-ID": project_id,
            "X-Instance-ID-Signature": sign(cloud, vm["id"])}


def get(cloud: Any, path: str, headers: dict[str, str], method: str = "GET",
        **kwargs: Any) -> requests.Response:
    return requests.request(method, cloud.url(8775, path), headers=headers, timeout=30,
                            **kwargs)
