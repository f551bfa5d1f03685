"""Block Storage: volume create/delete rates, and cloning a full 1 GiB volume.

* create+delete: 1 GiB blank volumes over HTTP as the demo member (POST /volumes answers
  once the sparse file exists, DELETE once it is gone), one client then 8 threads;
* clone: a 1 GiB volume filled with non-zero data is cloned (``source_volid``),
  snapshotted and a volume made from the snapshot, in two clouds of the same run: the
  plain volumes dir (the data dir's file system: ext4 here, which cannot reflink, so an
  in-kernel copy after a ``creating`` answer) and ``[file] reflink_pool = xfs`` (an XFS
  reflink=1 image loop-mounted as the volumes dir: reflinks, answered ``available``),
  the latter when root and mkfs.xfs allow. The clone's shared extents are counted with
  FIEMAP to show it is a reflink.

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
from pocketstack.volume.drivers import pool

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


def start(tmp: str, label: str, mode: str) -> tuple[CloudHandle, str, str, str]:
    conf = f"{tmp}/{label}.conf"
    with open(conf, "w") as f:
        f.write(f"[file]\nreflink_pool = {mode}\nreflink_pool_size = 8\n")
    cloud = CloudHandle(f"{tmp}/{label}", config=conf)
    cloud.start()
    with open(f"{cloud.data_dir}/admin-password") as f:
        password = f.read().strip()
    admin, _ = token(cloud, "admin", password)
    demo, project = token(cloud, "demo", password)
    base = cloud.url(8776, "/v3")
    requests.put(f"{base}/os-quota-sets/{project}", headers={"X-Auth-Token": admin},
                 json={"quota_set": {"volumes": -1, "gigabytes": -1,
                                     "snapshots": -1}}).raise_for_status()
    return cloud, base, demo, project


def rates(base: str, demo: str) -> None:
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


def clones(cloud: CloudHandle, base: str, demo: str, label: str) -> None:
    s = requests.Session()
    s.headers["X-Auth-Token"] = demo
    src = s.post(f"{base}/volumes", json={"volume": {"size": 1}}).json()["volume"]
    vdir = os.path.join(cloud.data_dir, "volumes")
    path = os.path.join(vdir, f"volume-{src['id']}")
    block = os.urandom(1 << 20)
    t0 = time.monotonic()
    with open(path, "r+b") as f:
        for _ in range(GiB >> 20):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    fill = time.monotonic() - t0
    fstype = subprocess.run(["stat", "-f", "-c", "%T", vdir],
                            capture_output=True, text=True).stdout.strip()
    print(f"[{label}] volumes dir on {fstype}, reflink (cp --reflink=always): "
          f"{'supported' if reflink_supported(vdir) else 'NOT supported'}; filled 1 GiB "
          f"in {fill:.2f}s ({GiB / fill / 1e6:.0f} MB/s raw write, for comparison)")

    def timed(what: str, url: str, body: dict, key: str) -> str:
        t0 = time.monotonic()
        r = s.post(url, json=body)
        assert r.status_code == 202, r.text
        answered, first = time.monotonic() - t0, r.json()[key]["status"]
        rid = r.json()[key]["id"]
        while (st := s.get(f"{url}/{rid}").json()[key]["status"]) != "available":
            assert not st.startswith("error"), st
            time.sleep(0.02)
        took = time.monotonic() - t0
        kind = "volume" if key == "volume" else "snapshot"
        f = os.path.join(vdir, f"{kind}-{rid}")
        shared = sum(n for _o, n, fl in pool.extents(f) if fl & pool.FIEMAP_EXTENT_SHARED)
        print(f"[{label}] {what} of a full 1 GiB volume: {took:6.2f}s to available (the API "
              f"answered {first!r} in {answered * 1000:.0f} ms); {shared / GiB:.2f} GiB of "
              "extents shared")
        return rid

    for what in ("clone (source_volid)", "clone again"):
        vid = timed(what, f"{base}/volumes", {"volume": {"size": 1, "source_volid": src["id"]}},
                    "volume")
        s.delete(f"{base}/volumes/{vid}")
    sid = timed("snapshot", f"{base}/snapshots", {"snapshot": {"volume_id": src["id"]}},
                "snapshot")
    vid = timed("volume from that snapshot", f"{base}/volumes",
                {"volume": {"size": 1, "snapshot_id": sid}}, "volume")
    for url in (f"{base}/volumes/{vid}", f"{base}/snapshots/{sid}",
                f"{base}/volumes/{src['id']}"):
        s.delete(url)
        while s.get(url).status_code != 404:
            time.sleep(0.05)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cloud, base, demo, _ = start(tmp, "plain", "off")
        try:
            rates(base, demo)
            clones(cloud, base, demo, "plain")
        finally:
            cloud.stop()
        reason = pool.unusable_reason(tmp)
        if reason:
            print(f"[reflink pool] skipped: {reason}")
        else:
            cloud, base, demo, _ = start(tmp, "pool", "xfs")
            try:
                clones(cloud, base, demo, "reflink pool")
            finally:
                cloud.stop()
            vdir = os.path.join(cloud.data_dir, "volumes")
            used = os.stat(os.path.join(cloud.data_dir, pool.IMAGE_NAME)).st_blocks * 512
            print(f"[reflink pool] unmounted at stop: {not os.path.ismount(vdir)}; image "
                  f"uses {used / 1e6:.0f} MB on the host")
        print("load average at the end:", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
