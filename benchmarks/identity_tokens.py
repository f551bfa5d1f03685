"""Token issue and validation rates over HTTP (one client, then 8 threads).

Peer (real Keystone, same machine kind, ../shared/peers/openstack/README.md): token issue
3.8/s (bcrypt 12 rounds, 240 ms a check), validate 78/s with one client, 181/s with 8 threads.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from _cloud import CloudHandle

DURATION = 5.0


def rate(fn, threads: int) -> float:
    deadline = time.monotonic() + DURATION
    counts = [0] * threads

    def worker(i: int) -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            fn(session)
            counts[i] += 1

    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(counts) / (time.monotonic() - t0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cloud = CloudHandle(f"{tmp}/data")
        cloud.start()
        try:
            with open(f"{cloud.data_dir}/admin-password") as f:
                password = f.read().strip()
            url = cloud.url(5000, "/v3/auth/tokens")
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "demo", "domain": {"id": "default"}, "password": password}}},
                "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}

            def issue(s: requests.Session) -> None:
                r = s.post(url, json=body)
                assert r.status_code == 201, r.text

            admin = requests.post(url, json={"auth": {**body["auth"], "identity": {
                "methods": ["password"], "password": {"user": {
                    "name": "admin", "domain": {"id": "default"}, "password": password}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
            ).headers["X-Subject-Token"]
            subject = requests.post(url, json=body).headers["X-Subject-Token"]

            def validate(s: requests.Session) -> None:
                r = s.get(url, headers={"X-Auth-Token": admin, "X-Subject-Token": subject})
                assert r.status_code == 200, r.text

            print(f"token issue:    {rate(issue, 1):8.1f}/s one client   "
                  f"{rate(issue, 8):8.1f}/s 8 threads   (Keystone: 3.8/s)")
            print(f"token validate: {rate(validate, 1):8.1f}/s one client   "
                  f"{rate(validate, 8):8.1f}/s 8 threads   (Keystone: 78/s, 181/s)")
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
