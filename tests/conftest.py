"""Test fixtures: a real pocketstack cloud, started as a subprocess, driven over HTTP.

Every test session (every xdist worker) starts its own cloud on a free loopback
address (127.x.y.z) with a fresh data dir, so that tests run in parallel and
never see each other's state. Tests talk to it with the real clients:
openstacksdk (``cloud.conn()``) and the ``openstack`` CLI (``cloud.cli()``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Iterator

import pytest

from pocketstack.conformance.cloudproc import CloudProcess


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
