"""Test fixtures: a real pocketstack cloud, started as a subprocess, driven over HTTP.

Every test session (every xdist worker) starts its own cloud on a free loopback
address (127.x.y.z) with a fresh data dir, so that tests run in parallel and
never see each other's state. Tests talk to it with the real clients:
openstacksdk (``cloud.conn()``) and the ``openstack`` CLI (``cloud.cli()``).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import threading
from typing import Any, Iterator

import pytest

from pocketstack.conformance.cloudproc import CloudProcess


class _CliRunner:
    """Runs the ``openstack`` CLI: through tests/cli_forkserver.py (the CLI's own main in a
    fresh forked process, without re-paying its imports) when it is free, else as a plain
    subprocess of the ``openstack`` console script. POCKETSTACK_TEST_CLI_FORK=0 forces the
    latter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: subprocess.Popen[bytes] | None = None
        self._broken = os.environ.get("POCKETSTACK_TEST_CLI_FORK") == "0"

    def run(self, argv: list[str], env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess[str]:
        if not self._broken and self._lock.acquire(blocking=False):
            try:
                return self._forked(argv, env, timeout)
            except (OSError, ValueError, EOFError) as e:  # the server died: stop using it
                self._broken = True
                print(f"cli fork server unusable ({e!r}); using subprocesses", file=sys.stderr)
            finally:
                self._lock.release()
        exe = os.path.join(os.path.dirname(sys.executable), "openstack")
        return subprocess.run([exe, *argv], capture_output=True, text=True, env=env,
                              timeout=timeout)

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self._server and self._server.stdout
        ready, _, _ = select.select([self._server.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = self._server.stdout.readline()
        if not line:
            raise EOFError("cli fork server exited")
        return json.loads(line)

    def _forked(self, argv: list[str], env: dict[str, str],
                timeout: float) -> subprocess.CompletedProcess[str]:
        if self._server is None or self._server.poll() is not None:
            here = os.path.dirname(os.path.abspath(__file__))
            self._server = subprocess.Popen(
                [sys.executable, os.path.join(here, "cli_forkserver.py")],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)  # unbuffered:
            # select() then sees every reply line that has arrived
            self._reply(120)  # {"ready": true}
        assert self._server.stdin
        with tempfile.TemporaryDirectory() as tmp:
            out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
            req = {"argv": argv, "env": env, "cwd": os.getcwd(), "out": out, "err": err}
            self._server.stdin.write(json.dumps(req).encode() + b"\n")
            self._server.stdin.flush()
            pid = self._reply(30)["pid"]
            try:
                rc = self._reply(timeout)["rc"]
            except TimeoutError:
                os.kill(pid, 9)
                self._reply(30)
                raise subprocess.TimeoutExpired(["openstack", *argv], timeout) from None
            with open(out, encoding="utf-8", errors="replace") as f_out, \
                    open(err, encoding="utf-8", errors="replace") as f_err:
                return subprocess.CompletedProcess(["openstack", *argv], rc, f_out.read(),
                                                   f_err.read())


_CLI = _CliRunner()


class CloudHandle(CloudProcess):
    """A cloud for tests, with the real clients attached."""

    @property
    def addr(self) -> str:
        return self.bind

    TINY_IMAGE = "11111111-2222-3333-4444-555555555555"

    def tiny_image(self) -> str:
        """A public, active image of a few bytes with a fixed id (the fake driver never
        reads the bytes); created once per cloud through the real Image API."""
        import requests

        if getattr(self, "_tiny_image_made", False):
            return self.TINY_IMAGE
        headers = {"X-Auth-Token": self.token("pocketstack-admin")}
        url = self.url(9292, f"/v2/images/{self.TINY_IMAGE}")
        if requests.get(url, headers=headers, timeout=30).status_code == 404:
            r = requests.post(self.url(9292, "/v2/images"), headers=headers, timeout=30,
                              json={"id": self.TINY_IMAGE, "name": "cirros",
                                    "disk_format": "qcow2", "container_format": "bare",
                                    "visibility": "public"})
            assert r.status_code == 201, r.text
            r = requests.put(url + "/file", data=b"fake-cirros" * 100, timeout=30,
                             headers={**headers, "Content-Type": "application/octet-stream"})
            assert r.status_code == 204, r.text
        self._tiny_image_made = True
        return self.TINY_IMAGE

    # -- clients ------------------------------------------------------------------
    @property
    def clouds_yaml(self) -> str:
        return os.path.join(self.data_dir, "clouds.yaml")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = self.clouds_yaml
        return env

    def url(self, port: int, path: str = "") -> str:
        return f"http://{self.addr}:{port}{path}"

    def conn(self, name: str = "pocketstack-admin") -> Any:
        import openstack

        from openstack.config import loader

        config = loader.OpenStackConfig(config_files=[self.clouds_yaml])
        return openstack.connection.Connection(config=config.get_one(cloud=name))

    def cli(self, *args: str, cloud: str = "pocketstack-admin", check: bool = True,
            parse: bool = True) -> Any:
        """Run the real ``openstack`` CLI; with ``-f json`` in args the output is parsed."""
        proc = _CLI.run(["--os-cloud", cloud, *args], self.env(), timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        if not check:
            return proc
        if parse and "json" in args:
            return json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc.stdout

    def token(self, name: str = "pocketstack-admin") -> str:
        return self.conn(name).auth_token

    def child_processes(self, module: str) -> list[int]:
        """Pids of the cloud process's children running ``python -m module`` (its
        metadata or compute API workers)."""
        assert self.proc is not None
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == self.proc.pid and module.encode() in cmd:
                found.append(int(entry))
        return sorted(found)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudHandle]:
    handle = CloudHandle(str(tmp_path_factory.mktemp("cloud") / "data"))
    handle.start()
    yield handle
    handle.stop()


@pytest.fixture
def fresh_cloud(tmp_path: Any) -> Iterator[CloudHandle]:
    """A cloud of a test's own (for restarts, config and policy changes)."""
    handle = CloudHandle(str(tmp_path / "data"))
    yield handle
    handle.stop()
