"""A cloud with ``--driver container`` and helpers to boot, inspect and delete servers.

Skips (with the reason) when this machine cannot run container instances: not root,
no namespaces/overlayfs, no iproute2/dnsmasq, or no static busybox for the image.
When nothing serves the metadata API on port 8775, a small stub does, so that the
metadata proxy and the image's init are exercised end to end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest


def _skip_reason() -> str | None:
    try:
        from pocketstack.compute.drivers.container.driver import requirements
        from pocketstack.image.seed import find_busybox
    except Exception as exc:  # pragma: no cover
        return f"container driver not importable: {exc}"
    missing = requirements()
    if missing:
        return "container driver needs " + ", ".join(missing)
    if find_busybox() is None:
        return "no static busybox (apt-get install busybox-static) for the seeded image"
    return None


class StubMetadata:
    """Answers like Nova's metadata API for the addresses the test registers."""

    def __init__(self, addr: str) -> None:
        self.requests: list[dict[str, str]] = []
        self.by_ip: dict[str, dict[str, Any]] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                ip = self.headers.get("X-Forwarded-For", "")
                stub.requests.append({"path": self.path, "xff": ip,
                                      "network": self.headers.get("X-Neutron-Network-ID", "")})
                md = stub.by_ip.get(ip) or stub.default(ip)
                if self.path.endswith("/meta_data.json"):
                    body = json.dumps(md["meta"]).encode()
                elif self.path.endswith("/user_data") and md.get("user_data"):
                    body = md["user_data"].encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.public_key = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPocketstackStubKeyForTests "
                           "stub@pocketstack")
        self.server = ThreadingHTTPServer((addr, 8775), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def default(self, ip: str) -> dict[str, Any]:
        name = "vm-" + ip.replace(".", "-")
        return {"meta": {"uuid": name, "name": name, "hostname": name,
                         "public_keys": {"stub": self.public_key + "\n"}},
                "user_data": "#!/bin/sh\necho user-data-ran-on-$(hostname)\n"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _listening(addr: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((addr, port)) == 0


class ContainerCloud:
    def __init__(self, handle: Any, stub: StubMetadata | None) -> None:
        self.handle = handle
        self.stub = stub
        self.instances = os.path.join(handle.data_dir, "instances")

    def cli(self, *args: str, **kw: Any) -> Any:
        return self.handle.cli(*args, **kw)

    def boot(self, name: str, key: str | None = None) -> dict[str, Any]:
        """server create on private --wait; returns {id, ip, mac}."""
        extra = ["--key-name", key] if key else []
        proc = self.cli("server", "create", "--image", "pocketstack-busybox", "--flavor",
                        "m1.nano", "--network", "private", *extra, "--wait", "-f", "json", name,
                        cloud="pocketstack", check=False)
        if proc.returncode == 0:
            server = json.loads(proc.stdout)
        elif "no Network service" in proc.stderr:
            # compute does not allocate ports yet on this branch: create the server without
            # a network, give it a port on private and hard-reboot (the driver plugs the
            # instance's ports at every start)
            server = self.cli("server", "create", "--image", "pocketstack-busybox",
                              "--flavor", "m1.nano", "--nic", "none", *extra, "--wait", "-f",
                              "json", name, cloud="pocketstack")
            self.cli("port", "create", "--network", "private", "--device", server["id"],
                     "--device-owner", "compute:nova", "-f", "json", f"{name}-port",
                     cloud="pocketstack")
            self.cli("server", "reboot", "--hard", "--wait", server["id"], cloud="pocketstack")
        else:
            raise AssertionError(proc.stderr)
        assert server["status"] == "ACTIVE", server
        ports = self.cli("port", "list", "--device-id", server["id"], "-f", "json",
                         "-c", "ID", "-c", "MAC Address", "-c", "Fixed IP Addresses",
                         cloud="pocketstack")
        assert len(ports) == 1, ports
        fixed = ports[0]["Fixed IP Addresses"]
        ip = fixed[0]["ip_address"] if isinstance(fixed, list) else \
            str(fixed).split("ip_address='")[1].split("'")[0]
        return {"id": server["id"], "ip": ip, "mac": ports[0]["MAC Address"], "name": name}

    def inst_dir(self, uuid: str) -> str:
        return os.path.join(self.instances, uuid)

    def console(self, uuid: str) -> str:
        text = ""
        for name in ("console.log.1", "console.log"):
            try:
                with open(os.path.join(self.inst_dir(uuid), name), errors="replace") as f:
                    text += f.read()
            except FileNotFoundError:
                pass
        return text

    def wait_console(self, uuid: str, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.console(uuid)
            if needle in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} not in the console of {uuid}:\n{self.console(uuid)}")

    def init_pid(self, uuid: str) -> int | None:
        try:
            with open(os.path.join(self.inst_dir(uuid), "init.pid")) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            return None
        return pid if os.path.exists(f"/proc/{pid}") else None

    def in_instance(self, uuid: str, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        pid = self.init_pid(uuid)
        assert pid, f"instance {uuid} is not running"
        return subprocess.run(["nsenter", "-t", str(pid), "-a", *cmd], capture_output=True,
                              text=True, timeout=timeout, check=False)

    def status(self, uuid: str) -> dict[str, Any]:
        return dict(self.cli("server", "show", uuid, "-f", "json", cloud="pocketstack"))

    def wait_status(self, uuid: str, status: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.status(uuid)
            if server["status"] == status and not server.get("OS-EXT-STS:task_state"):
                return server
            time.sleep(0.5)
        raise AssertionError(f"{uuid} not {status}: {self.status(uuid)}")


@pytest.fixture(scope="module")
def ccloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerCloud]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "pocketstack_tests_root_conftest",
        os.path.join(os.path.dirname(os.path.dirname(__file__)), "conftest.py"))
    assert spec is not None and spec.loader is not None
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    handle = root.CloudHandle(str(tmp_path_factory.mktemp("container") / "data"),
                              extra_args=["--driver", "container"])
    handle.start()
    stub = None if _listening(handle.addr, 8775) else StubMetadata(handle.addr)
    cc = ContainerCloud(handle, stub)
    try:
        yield cc
    finally:
        servers = handle.cli("server", "list", "--all-projects", "-f", "json", check=False)
        if servers.returncode == 0:
            for server in json.loads(servers.stdout or "[]"):
                handle.cli("server", "delete", "--wait", server["ID"], check=False)
        handle.stop()
        if stub is not None:
            stub.close()
        from pocketstack.dataplane.manager import teardown_state

        teardown_state(os.path.join(handle.data_dir, "dataplane"))
