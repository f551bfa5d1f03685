"""A cloud with ``--driver container`` and helpers to boot, inspect and delete servers.

Skips (with the reason) when this machine cannot run container instances: not root,
no namespaces/overlayfs, no iproute2/dnsmasq, or no static busybox for the image.
When nothing serves the metadata API on port 8775, a small stub does, so that the
metadata proxy and the image's init are exercised end to end.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from pocketstack.compute.drivers.container.cgroups import Cgroups


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

    def boot(self, name: str, key: str | None = None,
             image: str = "pocketstack-busybox") -> dict[str, Any]:
        """server create on private --wait; returns {id, ip, mac}."""
        extra = ["--key-name", key] if key else []
        proc = self.cli("server", "create", "--image", image, "--flavor",
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

    @staticmethod
    def eventually(check: Any, timeout: float = 15) -> bool:
        """Whether ``check()`` becomes true within ``timeout`` seconds (polled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.3)
        return False

    @staticmethod
    def netns() -> list[str]:
        """The host's network namespaces (``ip netns list``)."""
        return _netns()

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

    def booted(self, uuid: str, times: int, timeout: float = 90) -> None:
        """Wait for the instance's init to be up for the ``times``-th time (the console keeps
        the earlier boots)."""
        deadline = time.monotonic() + timeout
        while self.console(uuid).count("up: httpd on port 80") < times:
            assert time.monotonic() < deadline, self.console(uuid)
            time.sleep(0.2)

    def volume(self, name: str, timeout: float = 60) -> dict[str, Any]:
        """A new 1 GiB volume (real CLI), once it is available."""
        vol = self.cli("volume", "create", "--size", "1", "-f", "json", name,
                       cloud="pocketstack")
        deadline = time.monotonic() + timeout
        while self.cli("volume", "show", vol["id"], "-f", "json",
                       cloud="pocketstack")["status"] != "available":
            assert time.monotonic() < deadline, f"volume {name} not available"
            time.sleep(0.3)
        return vol

    def delete_and_check(self, server: dict[str, Any]) -> None:
        """server delete --wait, then: no file, process, namespace, cgroup, mount,
        DHCP reservation or loop device of it is left."""
        uuid = server["id"]
        init, shim = self.init_pid(uuid), None
        try:
            with open(os.path.join(self.inst_dir(uuid), "shim.pid")) as f:
                shim = int(f.read())
        except (OSError, ValueError):
            pass
        self.cli("server", "delete", "--wait", uuid, cloud="pocketstack")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(self.inst_dir(uuid)):
            time.sleep(0.1)
        assert not os.path.exists(self.inst_dir(uuid))  # files
        for pid in (init, shim):
            assert pid is None or not os.path.exists(f"/proc/{pid}"), pid  # processes
        assert not _processes_mentioning(uuid)
        assert f"psi-{uuid}" not in _netns()  # network namespace
        assert Cgroups().exists(uuid) == []  # cgroups
        with open("/proc/self/mounts") as f:
            assert uuid not in f.read()  # mounts (they lived in the instance's namespace)
        leases = ""
        for root, _, files in os.walk(os.path.join(self.handle.data_dir, "dataplane")):
            if "hosts" in files:
                with open(os.path.join(root, "hosts")) as f:
                    leases += f.read()
        assert server["mac"] not in leases  # the DHCP reservation
        loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
        assert uuid not in loops  # loop devices (volumes, config drive)
        deadline = time.monotonic() + 10  # nftables rules of its port (re-applied in 1 s)
        while time.monotonic() < deadline and server["mac"] in _nft_rules():
            time.sleep(0.2)
        assert server["mac"] not in _nft_rules()


def _nft_rules() -> str:
    text = ""
    for ns in _netns():
        if ns.startswith("psnet-"):
            text += subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                                   capture_output=True, text=True).stdout
    return text.lower()


def _netns() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd}")
    return found


@pytest.fixture(scope="module")
def ccloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerCloud]:
    # one compute host: resize stays on it (Nova's allow_resize_to_same_host)
    with container_cloud(tmp_path_factory, "[DEFAULT]\nallow_resize_to_same_host = true\n") \
            as cc:
        yield cc


SSH_BRIDGE = "psbr-ex"  # the host end of the veth in tests (not DevStack's br-ex)


@pytest.fixture(scope="module")
def sshcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerCloud]:
    """A container cloud whose floating IPs the host reaches ([container]
    external_network_bridge); the host's veth and routes go with it. One such cloud
    at a time on the machine (the host route): xdist workers take turns (a file lock)."""
    import fcntl
    import tempfile

    with open(os.path.join(tempfile.gettempdir(), "pocketstack-tests-external-bridge.lock"),
              "w") as lock:
        deadline = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "another test cloud holds the host route"
                time.sleep(0.5)
        if os.path.exists(f"/sys/class/net/{SSH_BRIDGE}"):
            pytest.skip(f"{SSH_BRIDGE} exists on this host and is not a test cloud's")
        with container_cloud(tmp_path_factory,
                             f"[container]\nexternal_network_bridge = {SSH_BRIDGE}\n") as cc:
            yield cc
        assert not os.path.exists(f"/sys/class/net/{SSH_BRIDGE}"), "the host's veth is left"


@contextlib.contextmanager
def container_cloud(tmp_path_factory: pytest.TempPathFactory,
                    config: str) -> Iterator[ContainerCloud]:
    """A container-driver cloud with ``config`` as its pocketstack.conf (skips when the
    machine cannot run one); every instance, namespace and daemon removed afterwards."""
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
    data_dir = tmp_path_factory.mktemp("container") / "data"
    data_dir.mkdir()
    (data_dir / "pocketstack.conf").write_text(config)
    handle = root.CloudHandle(str(data_dir), extra_args=["--driver", "container"])
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
        from pocketstack.compute.drivers.container.driver import teardown_instances
        from pocketstack.dataplane.manager import teardown_state

        teardown_instances(os.path.join(handle.data_dir, "instances"))
        teardown_state(os.path.join(handle.data_dir, "dataplane"))
