"""A throw-away cloud: ``pocketstack up`` on a free loopback address.

Used by conformance runs, the test suite (tests/conftest.py adds the clients) and the
benchmarks, so that every one of them starts clouds the same way.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

from pocketstack.cloud import PORTS


def free_loopback_address(attempts: int = 200) -> str:
    """A random 127.x.y.z on which every standard pocketstack port can be bound."""
    for _ in range(attempts):
        addr = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(2, 254)}"
        if all(_can_bind(addr, port) for port in PORTS.values()):
            return addr
    raise RuntimeError("no free loopback address found")


def _can_bind(addr: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError:
            return False
    return True


class CloudProcess:
    """``python -m pocketstack.cli up`` on DATA_DIR, stopped with SIGTERM."""

    def __init__(self, data_dir: str, bind: str | None = None,
                 extra_args: list[str] | None = None, config: str | None = None) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.bind = bind or free_loopback_address()
        self.extra_args = extra_args or []
        self.config = config
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 120) -> None:
        cmd = [sys.executable, "-m", "pocketstack.cli", "up", "--data-dir", self.data_dir,
               "--bind", self.bind, *self.extra_args]
        if self.config:
            cmd += ["--config", self.config]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "ready in" in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return
            if "not ready" in line:
                break
        self.stop()
        raise RuntimeError("pocketstack did not become ready:\n" + "".join(self.output[-40:]))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            del self.output[:-2000]

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

    @property
    def identity_url(self) -> str:
        return f"http://{self.bind}:{PORTS['identity']}/v3"

    def admin_password(self) -> str:
        with open(os.path.join(self.data_dir, "admin-password"), encoding="utf-8") as f:
            return f.read().strip()

    def __enter__(self) -> "CloudProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
