"""Image data upload and download rates through the real HTTP API, beside the machine's limits.

For each size (default 200 MiB and 2 GiB) the script writes a file, then measures in the
same run:

* the machine's limits: a plain file copy of that file (read + write + fsync, as the store
  does), a loopback TCP copy (``socket.sendfile`` to a reader that discards), and the
  single-core md5 and sha512 rates (in CPU time) with the ceiling they set on an upload
  (Glance's API returns both, so the store computes both on every upload): the slower hash
  when each has its own core, or the cores' CPU for the two hashes alone, whichever is lower;
* ``PUT /v2/images/{id}/file`` with ``requests`` streaming the file (Content-Length set),
  and ``GET /v2/images/{id}/file`` streamed to nowhere, checking size and Content-MD5;
* the server process's peak RSS during each transfer (VmHWM, reset through
  /proc/PID/clear_refs before each one; VmRSS is sampled too in case that is refused) and
  its CPU seconds.

Peer (real Glance 2026.1, same machine kind, ../shared/peers/openstack/README.md):
200 MiB upload 97.7 MB/s, download 542.6 MB/s.  MB = 10^6 bytes.

    python benchmarks/image_transfer.py [--sizes 200,2048] [--repeat 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import requests
from requests.adapters import HTTPAdapter

from _cloud import CloudHandle

MiB = 1024 * 1024
BLOCK = 1 * MiB
PEER = {"upload": 97.7, "download": 542.6}  # Glance, 200 MiB, MB/s


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def make_file(path: str, size: int) -> str:
    """``size`` bytes (a 16 MiB random block repeated); returns the md5 hex digest."""
    block = os.urandom(16 * MiB)
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "wb") as f:
        left = size
        while left:
            piece = block[:min(left, len(block))]
            f.write(piece)
            md5.update(piece)
            left -= len(piece)
        f.flush()
        os.fsync(f.fileno())
    return md5.hexdigest()


# -- the machine's limits -------------------------------------------------------------------
def file_copy(src: str, dst: str) -> float:
    t0 = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, BLOCK)
        fout.flush()
        os.fsync(fout.fileno())
    seconds = time.perf_counter() - t0
    os.unlink(dst)
    return seconds


def socket_copy(src: str) -> float:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = [0]

    def sink() -> None:
        conn, _ = server.accept()
        buf = bytearray(BLOCK)
        with conn:
            while n := conn.recv_into(buf):
                received[0] += n

    thread = threading.Thread(target=sink)
    thread.start()
    t0 = time.perf_counter()
    with socket.create_connection(server.getsockname()) as client, open(src, "rb") as f:
        client.sendfile(f)
    thread.join()
    seconds = time.perf_counter() - t0
    server.close()
    assert received[0] == os.path.getsize(src)
    return seconds


def hash_rates(src: str, limit: int = 512 * MiB) -> dict[str, float]:
    """Single-core MB/s of md5 and of each os_hash algorithm, in CPU time (thread_time), so
    that other processes on a shared machine do not distort it."""
    rates = {}
    for name in ("md5", "sha512", "sha256"):
        h = hashlib.new(name)
        done, cpu = 0, 0.0
        with open(src, "rb") as f:
            while done < limit and (chunk := f.read(BLOCK)):
                t0 = time.thread_time()
                h.update(chunk)
                cpu += time.thread_time() - t0
                done += len(chunk)
        rates[name] = mbps(done, cpu)
    return rates


def hash_ceiling(rates: dict[str, float], algo: str = "sha512",
                 cores: int | None = None) -> tuple[float, float]:
    """(one core per hash: the slower hash's rate, the CPU budget of all cores for both
    hashes alone: cores / (1/md5 + 1/algo)). The upload cannot beat the lower of the two,
    whatever else (socket, write, client) costs."""
    cores = cores or os.cpu_count() or 1
    parallel = min(rates["md5"], rates[algo])
    budget = cores / (1 / rates["md5"] + 1 / rates[algo])
    return parallel, budget


def writer_rate(src: str, directory: str, limit: int = 512 * MiB) -> float:
    """The store's Writer in this process (file + md5 + sha512 threads): the upload ceiling
    without HTTP."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pocketstack.image.store import Writer

    writer = Writer(directory, os.path.join(directory, "writer-bench"), 1 << 40)
    done = 0
    t0 = time.perf_counter()
    with open(src, "rb") as f:
        while done < limit and (chunk := f.read(BLOCK)):
            writer.write(chunk)
            done += len(chunk)
    writer.commit("raw")
    seconds = time.perf_counter() - t0
    os.unlink(os.path.join(directory, "writer-bench"))
    return mbps(done, seconds)


# -- the server process ---------------------------------------------------------------------
class ServerWatch:
    """Peak RSS and CPU seconds of the server process over one transfer."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_sampled = 0
        self.client_cpu = 0.0
        self._stop = threading.Event()

    def _status(self, key: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def _cpu(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> "ServerWatch":
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.rss_before = self._status("VmRSS")
        self.cpu_before = self._cpu()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_sampled = max(self.peak_sampled, self._status("VmRSS"))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu = self._cpu() - self.cpu_before
        hwm = self._status("VmHWM")
        self.peak = max(hwm, self.peak_sampled) if self.hwm_reset else self.peak_sampled

    def describe(self) -> str:
        how = "VmHWM" if self.hwm_reset else "sampled VmRSS"
        return (f"server RSS {self.rss_before / MiB:6.0f} -> peak {self.peak / MiB:6.0f} MiB "
                f"({how}), server CPU {self.cpu:5.1f} s")


class BigBlocks(HTTPAdapter):
    """urllib3 reads a file body in 16 KiB blocks by default; 1 MiB saves client CPU."""

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["blocksize"] = BLOCK
        super().init_poolmanager(*args, **kwargs)


# -- the API --------------------------------------------------------------------------------
def transfer(cloud: CloudHandle, session: requests.Session, path: str, size: int,
             md5: str, repeat: int, limits: dict) -> None:
    runs = [_transfer_once(cloud, session, path, size, md5) for _ in range(repeat)]
    label = f"{size / MiB:.0f} MiB"
    for kind in ("upload", "download"):
        best = min(runs, key=lambda r: r[kind][0])
        seconds, watch = best[kind]
        peer = f"   (Glance: {PEER[kind]} MB/s)" if size == 200 * MiB else ""
        rates = sorted(mbps(size, r[kind][0]) for r in runs)
        spread = f" [runs: {', '.join(f'{x:.0f}' for x in rates)}]" if repeat > 1 else ""
        rate = mbps(size, seconds)
        ratio = ", ".join(f"{rate / limit:.0%} of {name}" for name, limit in limits[kind])
        print(f"  {kind:8} {label}: {rate:7.1f} MB/s  {seconds:6.2f} s  ({ratio}){spread}\n"
              f"           {watch.describe()}, {watch.cpu * 1000 / (size / 1e6):.2f} "
              f"server CPU ms/MB, client CPU {watch.client_cpu * 1000 / (size / 1e6):.2f} "
              f"ms/MB{peer}")


def _transfer_once(cloud: CloudHandle, session: requests.Session, path: str, size: int,
                   md5: str) -> dict:
    base = cloud.url(9292)
    assert cloud.proc is not None
    r = session.post(f"{base}/v2/images", json={
        "name": f"bench-{size}", "disk_format": "raw", "container_format": "bare"})
    assert r.status_code == 201, r.text
    image_id = r.json()["id"]
    try:
        with ServerWatch(cloud.proc.pid) as up, open(path, "rb") as f:
            t0, c0 = time.perf_counter(), time.process_time()
            r = session.put(f"{base}/v2/images/{image_id}/file", data=f,
                            headers={"Content-Type": "application/octet-stream"})
            up_s = time.perf_counter() - t0
            up.client_cpu = time.process_time() - c0
        assert r.status_code == 204, r.text
        image = session.get(f"{base}/v2/images/{image_id}").json()
        assert image["status"] == "active" and image["size"] == size, image
        assert image["checksum"] == md5, (image["checksum"], md5)

        with ServerWatch(cloud.proc.pid) as down:
            t0, c0 = time.perf_counter(), time.process_time()
            got = 0
            with session.get(f"{base}/v2/images/{image_id}/file", stream=True) as r:
                assert r.status_code == 200, r.text
                assert r.headers.get("Content-MD5") == md5
                for chunk in r.iter_content(BLOCK):
                    got += len(chunk)
            down_s = time.perf_counter() - t0
            down.client_cpu = time.process_time() - c0
        assert got == size, (got, size)
    finally:
        session.delete(f"{base}/v2/images/{image_id}")
    return {"upload": (up_s, up), "download": (down_s, down)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2048", help="image sizes in MiB")
    parser.add_argument("--dir", default=None, help="where the files and the cloud live")
    parser.add_argument("--repeat", type=int, default=1,
                        help="transfers per size; the best is shown (the machine is shared)")
    args = parser.parse_args()
    sizes = [int(s) * MiB for s in args.sizes.split(",")]
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        cloud = CloudHandle(f"{tmp}/data")
        cloud.start()
        try:
            session = requests.Session()
            session.mount("http://", BigBlocks())
            session.headers["X-Auth-Token"] = cloud.token("pocketstack")
            for size in sizes:
                path = f"{tmp}/image-{size}"
                md5 = make_file(path, size)
                label = f"{size / MiB:.0f} MiB"
                print(f"{label}:")
                copy = mbps(size, file_copy(path, path + '.copy'))
                sock = mbps(size, socket_copy(path))
                rates = hash_rates(path)
                parallel, budget = hash_ceiling(rates)
                hash_limit = min(parallel, budget)
                writer = writer_rate(path, tmp)
                print(f"  limit    file copy (read+write+fsync):      {copy:7.1f} MB/s")
                print(f"  limit    loopback socket (sendfile):        {sock:7.1f} MB/s")
                print(f"  hash     one core (CPU time): md5 {rates['md5']:.0f}, sha512 "
                      f"{rates['sha512']:.0f} (sha256 {rates['sha256']:.0f}) MB/s")
                print(f"  limit    hash ceiling (md5 + sha512, the checksums Glance's API "
                      f"returns):\n"
                      f"           one thread each {parallel:.0f} MB/s, {os.cpu_count()} cores' "
                      f"CPU for the hashes alone {budget:.0f} MB/s -> {hash_limit:7.1f} MB/s "
                      f"= {hash_limit / copy:.0%} of this run's file copy (90% of it "
                      f"{'reachable' if hash_limit >= 0.9 * copy else 'NOT reachable'}; "
                      f"under load the file copy is CPU-starved too: compare quiet runs)")
                print(f"  limit    store Writer (3 threads, no HTTP): {writer:7.1f} MB/s")
                # upload: bytes cross the socket, are hashed twice and written; the lowest
                # of these is the machine's ceiling for a checksummed upload
                up_limit = min(copy, sock, hash_limit)
                limits = {"upload": [("hash ceiling", up_limit), ("store Writer", writer),
                                     ("file copy", copy)],
                          "download": [("min(file copy, socket)", min(copy, sock)),
                                       ("socket", sock)]}
                transfer(cloud, session, path, size, md5, args.repeat, limits)
                os.unlink(path)
        finally:
            cloud.stop()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
