"""Compute over HTTP with 1,000 fake hosts: boot-and-delete throughput at concurrency 50
(each worker: boot, wait ACTIVE, delete, wait gone), then ``server list`` latency
(GET /servers/detail?limit=1000, what ``openstack server list`` sends) with 10,000 servers.

The boot-and-delete load comes from ``wrk`` (Debian package ``wrk``) running
``compute_boot_wrk.lua``: one connection per wrk thread, each a client looping over POST
/servers, GET every 50 ms until ACTIVE, DELETE, GET every 50 ms until 404 (Rally's
boot_and_delete_server, with a shorter poll). wrk is C in its own process: the figures are
the cloud's, not those of a Python client sharing the 2 cores (50 threads of ``requests``
top out near 150 boot-and-deletes/s against a server that does nothing, spending ~7 ms of
client CPU on each). Without wrk, or with ``--client python``, the threads of requests run.

Goals: > 200 boot-and-delete/s; list under 0.1 s. Peers (../shared/peers/openstack/README.md):
Nova (fake driver) boot to ACTIVE 5.9 s, delete 5.6 s; Rally boot-and-delete 5.4/s on real
OpenStack; real Nova listed 1,000 of 10,000 servers in 14 s.

    python benchmarks/compute_boot.py [--hosts 1000] [--servers 10000] [--duration 10]
        [--skip-list | --skip-boot] [--py-spy profile.svg|profile.txt] [--data-dir DIR]
        [--api-workers N (default 2)]
        [--client wrk|python]

``--skip-boot`` runs only the list part (and the show CPU figure); ``--data-dir`` keeps the
cloud's data there, so a second run with the same directory reuses the servers it made.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from _cloud import CloudHandle

CONF = """[fake]
hosts = {hosts}
delay = 0
[quota]
instances = 1000000
cores = 10000000
ram = 1000000000
[DEFAULT]
report_interval = 30
osapi_compute_workers = {workers}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--servers", type=int, default=10000)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--api-workers", type=int, default=2,
                    help="osapi_compute_workers: processes serving the compute API (default "
                    "2; 0: the main process serves it, the cloud's default)")
    ap.add_argument("--skip-list", action="store_true",
                    help="measure boot-and-delete only (not the 10,000-server list)")
    ap.add_argument("--py-spy", metavar="SVG",
                    help="record a py-spy profile of the cloud during boot-and-delete")
    ap.add_argument("--skip-boot", action="store_true",
                    help="only the list part (server list and show figures)")
    ap.add_argument("--data-dir", help="keep the cloud's data here (reused by a next run)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.OPTION=VALUE",
                    help="one more configuration option for the cloud (repeatable), e.g. "
                    "DEFAULT.osapi_compute_worker_threads=2")
    ap.add_argument("--warmup", type=float, default=3.0,
                    help="seconds of the same load before measuring (each worker process "
                    "validates the token and warms its caches; default 3)")
    ap.add_argument("--client", choices=("wrk", "python"),
                    default="wrk" if shutil.which("wrk") else "python",
                    help="boot-and-delete load generator (default: wrk when installed)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "pocketstack.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(hosts=args.hosts, workers=args.api_workers))
            for item in args.set:
                key, _, value = item.partition("=")
                section, _, option = key.rpartition(".")
                f.write(f"[{section or 'DEFAULT'}]\n{option} = {value}\n")
        cloud = CloudHandle(args.data_dir or f"{tmp}/data",
                            extra_args=["--fake-hosts", str(args.hosts)], config=conf)
        t0 = time.monotonic()
        cloud.start(timeout=600)
        print(f"started with {args.hosts} fake hosts and osapi_compute_workers = "
              f"{args.api_workers} in {time.monotonic() - t0:.1f} s")
        try:
            run(cloud, args)
        finally:
            cloud.stop()
    print("load average:", os.getloadavg())


def cpu_seconds(pid: int, workers: bool = True) -> float:
    """User + system CPU time of the cloud process (all its threads) and of its compute API
    workers so far (``workers=False``: of the main process only): a measure that the load
    of other processes on the machine distorts much less than wall time."""
    total = 0.0
    for p in [pid, *(api_workers(pid) if workers else ())]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def api_workers(pid: int) -> list[int]:
    """The compute API worker processes (``osapi_compute_workers``) of the cloud ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if b"pocketstack.compute.apiworker" in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def run(cloud: CloudHandle, args: argparse.Namespace) -> None:
    token = cloud.token("pocketstack")
    base = cloud.url(8774, "/v2.1")
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.79"}
    body = {"server": {"name": "bench", "flavorRef": "1", "networks": "none",
                       "imageRef": "11111111-2222-3333-4444-555555555555"}}
    img = cloud.conn("pocketstack").image
    try:  # a real image when the Image service checks references
        image = next(iter(img.images(name="bench")), None) or img.create_image(
            name="bench", data=b"\0" * 512, disk_format="raw", container_format="bare")
        body["server"]["imageRef"] = image.id
    except Exception:
        pass
    if not args.skip_boot:
        boot_and_delete(cloud, args, base, headers, body)
    if not args.skip_list:
        server_list(cloud, args, base, headers, body)


def profiler(args: argparse.Namespace, pid: int) -> subprocess.Popen | None:
    if not args.py_spy:
        return None
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--output", args.py_spy,
                             "--rate", "100", "--nonblocking", "--gil", "--subprocesses",
                             "--format", "raw" if args.py_spy.endswith(".txt")
                             else "flamegraph"])


def stop_profiler(spy: subprocess.Popen | None) -> None:
    if spy:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def boot_and_delete(cloud: CloudHandle, args: argparse.Namespace, base: str,
                    headers: dict[str, str], body: dict[str, Any]) -> None:
    if args.client == "wrk":
        return boot_and_delete_wrk(cloud, args, base, headers, body)
    pid = cloud.proc.pid
    deadline = time.monotonic() + args.duration
    counts = [0] * args.concurrency
    latencies: list[float] = []
    to_active: list[float] = []
    polls = [0] * args.concurrency

    def worker(i: int) -> None:
        s = requests.Session()
        s.headers.update(headers)
        while time.monotonic() < deadline:
            t = time.monotonic()
            r = s.post(f"{base}/servers", json=body)
            assert r.status_code == 202, r.text
            sid = r.json()["server"]["id"]
            while True:
                st = s.get(f"{base}/servers/{sid}").json()["server"]
                polls[i] += 1
                if st["status"] == "ACTIVE" and st["OS-EXT-STS:task_state"] is None:
                    break
                assert st["status"] != "ERROR", st
                time.sleep(0.05)
            to_active.append(time.monotonic() - t)
            assert s.delete(f"{base}/servers/{sid}").status_code == 204
            while s.get(f"{base}/servers/{sid}").status_code != 404:
                polls[i] += 1
                time.sleep(0.05)
            polls[i] += 1
            latencies.append(time.monotonic() - t)
            counts[i] += 1

    spy = profiler(args, pid)
    t0, cpu0 = time.monotonic(), cpu_seconds(pid)
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(worker, range(args.concurrency)))
    elapsed = time.monotonic() - t0
    stop_profiler(spy)
    time.sleep(0.5)  # let the last deletes' background work finish before reading the CPU
    cpu = cpu_seconds(pid) - cpu0
    print(f"boot-and-delete at concurrency {args.concurrency}: {sum(counts) / elapsed:.1f}/s "
          f"({sum(counts)} in {elapsed:.1f} s; median {statistics.median(latencies):.3f} s "
          f"each; server CPU {1000 * cpu / max(1, sum(counts)):.1f} ms per boot-and-delete)  "
          "peer: Rally 5.4/s, Nova boot 5.9 s + delete 5.6 s")
    print(f"  per boot-and-delete: {sum(polls) / max(1, sum(counts)):.1f} GET polls; median "
          f"{statistics.median(to_active):.3f} s to ACTIVE (client: {args.concurrency} threads "
          "of requests)")


def boot_and_delete_wrk(cloud: CloudHandle, args: argparse.Namespace, base: str,
                        headers: dict[str, str], body: dict[str, Any]) -> None:
    pid = cloud.proc.pid
    root, prefix = base.rsplit("/v2.1", 1)[0], "/v2.1"
    env = {**os.environ, "BD_TOKEN": headers["X-Auth-Token"], "BD_PREFIX": prefix,
           "BD_BODY": json.dumps(body), "BD_POLL_MS": "50"}
    n = args.concurrency

    def load(seconds: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["wrk", f"-t{n}", f"-c{n}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
             "-s", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "compute_boot_wrk.lua"), root],
            env=env, capture_output=True, text=True, timeout=seconds + 120)

    if args.warmup > 0:
        load(args.warmup)
    spy = profiler(args, pid)
    cpu0, main0 = cpu_seconds(pid), cpu_seconds(pid, workers=False)
    proc = load(args.duration)
    stop_profiler(spy)
    time.sleep(0.5)  # let the last deletes' background work finish before reading the CPU
    cpu, main_cpu = cpu_seconds(pid) - cpu0, cpu_seconds(pid, workers=False) - main0
    m = re.search(r"BDRESULT (.*)", proc.stdout)
    if not m:
        raise SystemExit(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    secs = r["duration_us"] / 1e6
    ops = max(1, r["ops"])
    print(f"boot-and-delete at concurrency {n}: {r['ops'] / secs:.1f}/s ({r['ops']} in "
          f"{secs:.1f} s, {r['errors']} errors; {n * secs / ops:.3f} s each by Little's law; "
          f"server CPU {1000 * cpu / ops:.1f} ms per boot-and-delete, of which the main "
          f"process {1000 * main_cpu / ops:.1f} ms)  "
          "peer: Rally 5.4/s, Nova boot 5.9 s + delete 5.6 s")
    print(f"  per boot-and-delete: {r['polls'] / ops:.1f} GET polls; {r['requests'] / ops:.1f} "
          f"requests; request latency p50 {r['p50_us'] / 1000:.1f} ms, p99 "
          f"{r['p99_us'] / 1000:.1f} ms (client: wrk, {n} connections, poll every 50 ms)")
    last = re.search(r"BDLASTERROR (.*)", proc.stdout)
    if last:
        print("  last error:", last.group(1))


def server_list(cloud: CloudHandle, args: argparse.Namespace, base: str,
                headers: dict[str, str], body: dict[str, Any]) -> None:
    pid = cloud.proc.pid
    t0 = time.monotonic()
    batch = 500
    with requests.Session() as s:
        s.headers.update(headers)
        made = kept = len(s.get(f"{base}/servers", params={"limit": args.servers}
                                ).json()["servers"])  # a kept --data-dir's servers
        while made < args.servers:
            n = min(batch, args.servers - made)
            r = s.post(f"{base}/servers", json={"server": {**body["server"], "min_count": n,
                                                            "max_count": n}})
            assert r.status_code == 202, r.text
            made += n
        while s.get(f"{base}/servers", params={"status": "BUILD", "limit": 1}
                    ).json()["servers"]:
            time.sleep(1)  # measure the list on a quiet cloud, not during 10,000 builds
        print(f"{made} servers (all ACTIVE; {made - kept} created in "
              f"{time.monotonic() - t0:.1f} s)")
        times = []
        cpu0 = cpu_seconds(pid)
        for _ in range(10):
            t = time.perf_counter()
            r = s.get(f"{base}/servers/detail", params={"limit": 1000})
            times.append(time.perf_counter() - t)  # the whole answer received (not parsed:
            # the client's JSON decoding of 1,000 servers, ~10 ms, is not the server's)
            assert r.status_code == 200 and len(r.json()["servers"]) == 1000, r.text[:300]
        cpu_detail = (cpu_seconds(pid) - cpu0) / 10
        brief = []
        for _ in range(10):
            t = time.perf_counter()
            r = s.get(f"{base}/servers", params={"limit": 1000})
            brief.append(time.perf_counter() - t)
    print(f"server list (detail, limit 1000 of {args.servers}): median "
          f"{statistics.median(times):.3f} s, best {min(times):.3f} s, server CPU "
          f"{1000 * cpu_detail:.0f} ms each; "
          f"brief list median {statistics.median(brief):.3f} s  peer: real Nova 14 s")
    with requests.Session() as s:
        s.headers.update(headers)
        sid = r.json()["servers"][0]["id"]
        n = 200
        t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
        for _ in range(n):
            assert s.get(f"{base}/servers/{sid}").status_code == 200
        wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    print(f"server show: {1000 * wall / n:.1f} ms each, server CPU {1000 * cpu / n:.2f} ms "
          "each (one client, sequential)")


if __name__ == "__main__":
    main()
