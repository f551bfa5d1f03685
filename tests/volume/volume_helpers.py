"""Helpers shared by the volume tests: long work (from image, backups, upload, extend) is
asynchronous, so tests wait for the final status as every client does."""

from __future__ import annotations

import time
from typing import Any, Callable

import requests

PORT = 8776


def wait_for(get: Callable[[], Any], want: str | tuple[str, ...], timeout: float = 120
             ) -> Any:
    """Poll ``get()`` (a resource dict) until its status is in ``want``; returns it."""
    wanted = (want,) if isinstance(want, str) else want
    deadline = time.monotonic() + timeout
    while True:
        res = get()
        if res["status"] in wanted:
            return res
        assert time.monotonic() < deadline, f"still {res['status']}, wanted {wanted}: {res}"
        time.sleep(0.2)


def wait_resource(cloud: Any, kind: str, rid: str, want: str | tuple[str, ...] = "available",
                  token: str | None = None) -> dict[str, Any]:
    """``kind`` is volumes, snapshots or backups; waits over the raw API (fast to poll)."""
    token = token or cloud.token("pocketstack-admin")
    single = kind[:-1]

    def get() -> dict[str, Any]:
        r = requests.get(cloud.url(PORT, f"/v3/{kind}/{rid}"), timeout=30,
                         headers={"X-Auth-Token": token})
        assert r.status_code == 200, r.text
        return r.json()[single]

    return wait_for(get, want)
