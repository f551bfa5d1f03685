"""Test fixtures: a real pocketstack cloud, started as a subprocess, driven over HTTP.

Every test session (every xdist worker) starts its own cloud on a free loopback
address (127.x.y.z) with a fresh data dir, so that tests run in parallel and
never see each other's state. Tests talk to it with the real clients:
openstacksdk (``cloud.conn()``) and the ``openstack`` CLI (``cloud.cli()``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

PORTS = (5000, 8774, 9292, 8776, 9696, 8778, 8775, 8080)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_address() -> str:
    for _ in range(200):
        addr = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(2, 254)}"
        busy = False
        for port in PORTS:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((addr, port))
                except OSError:
                    busy = True
                    break
        if not busy:
            return addr
    raise RuntimeError("no free loopback address")


class CloudHandle:
    def __init__(self, data_dir: str, extra_args: list[str] | None = None,
                 config: str | None = None) -> None:
        self.data_dir = data_dir
        self.addr = _free_address()
        self.extra_args = extra_args or []
        self.config = config
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    # -- lifecycle --------------------------------------------------------------
    def start(self, timeout: float = 90) -> None:
        cmd = [sys.executable, "-m", "pocketstack.cli", "up", "--data-dir", self.data_dir,
               "--bind", self.addr, *self.extra_args]
        if self.config:
            cmd += ["--config", self.config]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=ROOT)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "ready" in line:
                # keep draining output so the server never blocks on a full pipe
                import threading

                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.stop()
        raise RuntimeError("pocketstack did not become ready:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

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
        exe = os.path.join(os.path.dirname(sys.executable), "openstack")
        proc = subprocess.run([exe, "--os-cloud", cloud, *args], capture_output=True, text=True,
                              env=self.env(), timeout=120)
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
