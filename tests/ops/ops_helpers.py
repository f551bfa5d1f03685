"""Helpers of the ops tests: run ``pocketstack manage``/``doctor`` as an operator would,
boot servers over HTTP, and plant failures straight in the database."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from typing import Any

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def pocketstack(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"pocketstack {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def manage(data_dir: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return pocketstack("manage", "--data-dir", data_dir, *args, check=check)


def doctor(data_dir: str) -> tuple[int, list[dict[str, Any]]]:
    proc = pocketstack("doctor", "--data-dir", data_dir, "--json", check=False)
    return proc.returncode, json.loads(proc.stdout)


def run_fix(data_dir: str, fix: str) -> subprocess.CompletedProcess[str]:
    """Run a doctor's fix, which must be a single ``pocketstack manage ...`` command."""
    words = fix.split()
    assert words[:2] == ["pocketstack", "manage"], fix
    return manage(data_dir, *words[2:])


def sql(data_dir: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(os.path.join(data_dir, "pocketstack.db"), timeout=30)
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def long_ago(hours: int = 5) -> str:
    when = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=hours)
    return when.isoformat(sep=" ")


def api(cloud: Any, method: str, port: int, path: str, user: str = "pocketstack-admin",
        headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
    h = {"X-Auth-Token": cloud.token(user), **(headers or {})}
    return requests.request(method, cloud.url(port, path), headers=h, timeout=30, **kwargs)


def boot(cloud: Any, user: str = "pocketstack-admin", **server: Any) -> str:
    body = {"server": {"name": name("ops"), "flavorRef": "1", "imageRef": cloud.tiny_image(),
                       "networks": "none", **server}}
    r = api(cloud, "POST", 8774, "/v2.1/servers", user,
            {"OpenStack-API-Version": "compute 2.79"}, json=body)
    assert r.status_code == 202, r.text
    return r.json()["server"]["id"]


def server(cloud: Any, server_id: str) -> dict[str, Any]:
    r = api(cloud, "GET", 8774, f"/v2.1/servers/{server_id}",
            headers={"OpenStack-API-Version": "compute 2.79"})
    assert r.status_code == 200, r.text
    return r.json()["server"]


def wait(cloud: Any, server_id: str, status: str = "ACTIVE", timeout: float = 30
         ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = server(cloud, server_id)
        if body["status"] == status and body["OS-EXT-STS:task_state"] is None:
            return body
        time.sleep(0.1)
    raise AssertionError(f"server {server_id} never reached {status}: {body}")


def volume(cloud: Any, size: int = 1) -> str:
    conn = cloud.conn()
    vol = conn.block_storage.create_volume(size=size, name=name("vol"))
    conn.block_storage.wait_for_status(vol, "available", wait=30, interval=0.2)
    return vol.id
