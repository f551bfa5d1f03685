"""Block Storage: volume create/delete rates, and cloning a full 1 GiB volume.

* create+delete: 1 GiB blank volumes over HTTP as the demo member (POST /volumes answers
  once the sparse file exists, DELETE once it is gone), one client then 8 threads;
* clone: a 1 GiB volume filled with non-zero data is cloned (``source_volid``) and
  snapshotted; the copy is a reflink (constant time, answered ``available``) where the
  file system can, else an in-kernel copy of the data after a ``creating`` answer.
  The data dir's file system and whether it can reflink are printed.

No peer figures: the reference OpenStack deployment (../shared/peers/openstack/README.md)
has no Cinder.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from _cloud import CloudHandle

DURATION = 8.0
GiB = 1024 ** 3


def token(cloud: CloudHandle, user: str, password: str) -> tuple[str, str]:
    r = requests.post(cloud.url(5000, "/v3/auth/tokens"), json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": user, "domain": {"id": "default"}}}}})
    r.raise_for_status()
    return r.headers["X-Subject-Token"], r.json()["token"]["project"]["id"]


def rate(fn, threads: int) -> tuple[float, int]:
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
    return sum(counts) / (time.monotonic() - t0), sum(counts)


def reflink_supported(directory: str) -> bool:
    src = os.path.join(directory, "reflink-probe")
    with open(src, "wb") as f:
        f.write(b"x" * 4096)
    try:
        proc = subprocess.run(["cp", "--reflink=always", src, src + ".copy"],
                              capture_output=True)
        return proc.returncode == 0
    finally:
        for p in (src, src + ".copy"):
            if os.path.exists(p):
                os.unlink(p)


def wait_status(s: requests.Session, url: str, want: str, timeout: float = 300) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        status = s.get(url).json()["volume"]["status"]
        if status == want:
            return time.monotonic() - t0
        if status.startswith("error"):
            raise RuntimeError(f"{url}: {status}")
        time.sleep(0.05)
    raise RuntimeError(f"{url}: not {want} after {timeout}s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cloud = CloudHandle(f"{tmp}/data")
        cloud.start()
        try:
            with open(f"{cloud.data_dir}/admin-password") as f:
                password = f.read().strip()
            admin, _ = token(cloud, "admin", password)
            demo, project = token(cloud, "demo", password)
            base = cloud.url(8776, "/v3")
            requests.put(f"{base}/os-quota-sets/{project}", headers={"X-Auth-Token": admin},
                         json={"quota_set": {"volumes": -1, "gigabytes": -1,
                                             "snapshots": -1}}).raise_for_status()

            def cycle(s: requests.Session) -> None:
                s.headers["X-Auth-Token"] = demo
                r = s.post(f"{base}/volumes", json={"volume": {"size": 1}})
                assert r.status_code == 202, r.text
                vid = r.json()["volume"]["id"]
                if r.json()["volume"]["status"] != "available":
                    wait_status(s, f"{base}/volumes/{vid}", "available")
                d = s.delete(f"{base}/volumes/{vid}")
                assert d.status_code == 202, d.text

            for threads in (1, 8):
                per_s, n = rate(cycle, threads)
                print(f"volume create+delete, {threads} client(s): {per_s:7.1f} cycles/s "
                      f"({n} cycles in {DURATION:.0f}s)")

            # -- clone a full 1 GiB volume ------------------------------------------------
            s = requests.Session()
            s.headers["X-Auth-Token"] = demo
            src = s.post(f"{base}/volumes", json={"volume": {"size": 1}}).json()["volume"]
            path = os.path.join(cloud.data_dir, "volumes", f"volume-{src['id']}")
            block = os.urandom(1 << 20)
            t0 = time.monotonic()
            with open(path, "r+b") as f:
                for _ in range(GiB >> 20):
                    f.write(block)
                f.flush()
                os.fsync(f.fileno())
            fill = time.monotonic() - t0
            print(f"filled 1 GiB of data in {fill:.2f}s "
                  f"({GiB / fill / 1e6:.0f} MB/s raw write, for comparison)")
            reflink = reflink_supported(os.path.dirname(path))
            fstype = subprocess.run(["stat", "-f", "-c", "%T", cloud.data_dir],
                                    capture_output=True, text=True).stdout.strip()
            print(f"reflink (cp --reflink=always) on the data dir ({fstype}): "
                  f"{'supported' if reflink else 'NOT supported'}")
            for label, body in (("clone (source_volid)", {"source_volid": src["id"]}),
                                ("clone again", {"source_volid": src["id"]})):
                t0 = time.monotonic()
                r = s.post(f"{base}/volumes", json={"volume": {"size": 1, **body}})
                assert r.status_code == 202, r.text
                answered, first = time.monotonic() - t0, r.json()["volume"]["status"]
                vid = r.json()["volume"]["id"]
                wait_status(s, f"{base}/volumes/{vid}", "available")
                took = time.monotonic() - t0
                print(f"{label} of a full 1 GiB volume: {took:6.2f}s to available"
                      f" ({'reflink' if reflink else 'sparse copy'}); the API answered "
                      f"{first!r} in {answered * 1000:.0f} ms")
                s.delete(f"{base}/volumes/{vid}")
            t0 = time.monotonic()
            r = s.post(f"{base}/snapshots", json={"snapshot": {"volume_id": src["id"]}})
            assert r.status_code == 202, r.text
            sid = r.json()["snapshot"]["id"]
            while s.get(f"{base}/snapshots/{sid}").json()["snapshot"]["status"] != "available":
                time.sleep(0.05)
            print(f"snapshot of a full 1 GiB volume: {time.monotonic() - t0:6.2f}s")
            s.delete(f"{base}/snapshots/{sid}")
            s.delete(f"{base}/volumes/{src['id']}")
            print("load average at the end:", open("/proc/loadavg").read().split()[:3])
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
