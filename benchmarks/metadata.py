"""Metadata API under a boot storm: 1,000 instances on one network, 1,000 concurrent clients.

How the instances are made (all over the HTTP APIs, in bulk, with the fake driver): a
config file gives the fake hosts room for 1,000 m1.nano servers (``[fake] vcpus``,
``memory_mb``, ``delay = 0``) and the quotas; one Nova multi-create request
(``min_count = max_count = 1000``, ``networks: none``) makes the servers, and Neutron
bulk port creation (``{"ports": [...]}``, 100 per request) gives each one a port on
``bench-net`` (a /20) with ``device_id`` = the server and ``device_owner`` compute:nova,
which is what the metadata service looks callers up by.

The load comes from ``wrk`` (Debian package ``wrk``; C, a separate process, so the client
leaves the server most of the 2 cores; its own CPU share is printed) with
``metadata_wrk.lua``: each request is for a random path of a random instance, with the
``X-Forwarded-For`` + ``X-Neutron-Network-ID`` headers of Neutron's proxy (requests built
once, in wrk's init). Runs: cold (the first pass over all instances), keep-alive (1,000
connections) and without keep-alive (``Connection: close``, like Chef's ohai).

The server runs with ``[DEFAULT] metadata_workers = MD_WORKERS`` (default 2: two worker
processes share the port; 0: the main event loop serves it; "2,0": both, one after the
other, on the same instances). Printed for each run: rate,
p50/p99/max latency, errors, the server's CPU per request (main process and workers) and
the client's CPU share, with the load average before and after: on a shared machine the
CPU per request is the figure to compare; re-run when the machine is quiet for the rate.
Environment: MD_INSTANCES, MD_CONNECTIONS, MD_DURATION, MD_WORKERS, MD_THREADS, MD_TTL.

Goal (issue 7): >= 10,000 req/s, p99 < 100 ms, no errors; without keep-alive no request
over 1 s. Peer: no figure for Nova's metadata API in ../shared/peers/openstack/README.md.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import requests

from _cloud import CloudHandle

INSTANCES = int(os.environ.get("MD_INSTANCES", "1000"))
CONNECTIONS = int(os.environ.get("MD_CONNECTIONS", "1000"))
DURATION = os.environ.get("MD_DURATION", "20s")
WORKERS = [int(w) for w in os.environ.get("MD_WORKERS", "2").split(",")]
THREADS = int(os.environ.get("MD_THREADS", "2"))
PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC/d3jxtWlPBBS8z8sMPT+57vzsXHdbSFUUUeMhIe8yh"
              " bench@pocketstack")
HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = """[fake]
hosts = 4
vcpus = 512
memory_mb = 1048576
local_gb = 100000
delay = 0
[quota]
instances = {n}
cores = {n}
ram = {ram}
[quotas]
quota_port = {ports}
[api]
metadata_cache_expiration = {ttl}
[DEFAULT]
metadata_workers = {workers}
"""


def api(cloud: CloudHandle, token: str, method: str, port: int, path: str, **kw):
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.37"}
    r = requests.request(method, cloud.url(port, path), headers=headers, timeout=300, **kw)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:300]}"
    return r.json() if r.content else None


def make_instances(cloud: CloudHandle) -> tuple[str, list[str]]:
    token = cloud.token("pocketstack-admin")
    net = api(cloud, token, "POST", 9696, "/v2.0/networks",
              json={"network": {"name": "bench-net"}})["network"]["id"]
    api(cloud, token, "POST", 9696, "/v2.0/subnets", json={"subnet": {
        "network_id": net, "cidr": "10.100.0.0/20", "ip_version": 4, "name": "bench-sub"}})
    image = api(cloud, token, "POST", 9292, "/v2/images", json={
        "name": "bench", "disk_format": "raw", "container_format": "bare"})["id"]
    requests.put(cloud.url(9292, f"/v2/images/{image}/file"), data=b"x" * 512, timeout=60,
                 headers={"X-Auth-Token": token,
                          "Content-Type": "application/octet-stream"}).raise_for_status()
    api(cloud, token, "POST", 8774, "/v2.1/os-keypairs", json={"keypair": {
        "name": "bench", "public_key": PUBLIC_KEY}})
    t0 = time.monotonic()
    r = api(cloud, token, "POST", 8774, "/v2.1/servers", json={"server": {
        "name": "md", "flavorRef": "42", "imageRef": image, "networks": "none", "key_name": "bench",
        "min_count": INSTANCES, "max_count": INSTANCES, "return_reservation_id": True,
        "user_data": "I2Nsb3VkLWNvbmZpZwo=", "metadata": {"bench": "1"}}})
    reservation = r["reservation_id"]
    servers = api(cloud, token, "GET", 8774,
                  f"/v2.1/servers?reservation_id={reservation}&limit={INSTANCES}")["servers"]
    ids = [s["id"] for s in servers]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # measure once the builds are over
        building = api(cloud, token, "GET", 8774, f"/v2.1/servers?reservation_id="
                       f"{reservation}&status=BUILD&limit={INSTANCES}")["servers"]
        if not building:
            break
        time.sleep(1)
    ips: list[str] = []
    for i in range(0, len(ids), 100):
        body = {"ports": [{"network_id": net, "device_id": sid, "device_owner": "compute:nova",
                           "binding:host_id": "fake-host-1"} for sid in ids[i:i + 100]]}
        ports = api(cloud, token, "POST", 9696, "/v2.0/ports", json=body)["ports"]
        ips.extend(p["fixed_ips"][0]["ip_address"] for p in ports)
    print(f"made {len(ids)} servers and ports in {time.monotonic() - t0:.1f}s "
          "(one multi-create, bulk ports)")
    return net, ips


def wrk(cloud: CloudHandle, net: str, ips_file: str, close: bool, duration: str,
        connections: int) -> dict[str, int]:
    env = {**os.environ, "MD_IPS": ips_file, "MD_NET": net, "MD_CLOSE": "1" if close else "0"}
    proc = subprocess.run(["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}", "--timeout",
                           "10s", "-s", os.path.join(HERE, "metadata_wrk.lua"),
                           cloud.url(8775, "/")], capture_output=True, text=True, env=env,
                          timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("MDRESULT")), None)
    assert line, proc.stdout + proc.stderr
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def cpu_seconds(pid: int) -> float:
    """CPU time of the server: the main process and its metadata workers."""
    total = 0.0
    for entry in [str(pid), *os.listdir("/proc")]:
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry == str(pid) or (entry.isdigit() and fields[1] == str(pid)):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def run(cloud: CloudHandle, title: str, *args) -> dict[str, float]:
    assert cloud.proc is not None
    before, load_before = cpu_seconds(cloud.proc.pid), load()
    client = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = wrk(cloud, *args)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = after.ru_utime + after.ru_stime - client.ru_utime - client.ru_stime
    cpu = cpu_seconds(cloud.proc.pid) - before
    return report(title, r, cpu, client_cpu / wall, f"{load_before} -> {load()}")


def report(title: str, r: dict[str, int], cpu: float, client_share: float, loads: str
           ) -> dict[str, float]:
    rate = r["requests"] / (r["duration_us"] / 1e6)
    errors = r["non200"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    print(f"{title:<18} {rate:>7.0f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
          f"p99 {r['p99_us'] / 1000:7.2f} ms  max {r['max_us'] / 1000:8.2f} ms  "
          f"errors {errors} (non-200 {r['non200']}, socket {errors - r['non200']})  "
          f"server CPU {cpu * 1e6 / max(r['requests'], 1):.0f} us/request  "
          f"client CPU {client_share:.2f} cores  load {loads}", flush=True)
    return {"rate": rate, "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
            "errors": errors}


def measure(cloud: CloudHandle, net: str, ips_file: str, workers: int) -> None:
    print(f"{INSTANCES} instances on one network, {CONNECTIONS} connections, "
          f"wrk -t{THREADS}, {DURATION} per run, metadata_workers = {workers}")
    run(cloud, "cold cache (3 s)", net, ips_file, False, "3s", CONNECTIONS)
    # measure warm caches (every worker has its own): 3 s rounds until almost no request
    # reaches the main process's loader (misses) or fills a worker's cache (bundles;
    # not counting refreshes of unchanged documents, "bundles_unchanged")
    t0, rounds = time.monotonic(), 0
    while rounds < 40:
        rounds += 1
        before = sum(cache_stats(cloud).get(k, 0) for k in ("misses", "bundles"))
        r = wrk(cloud, net, ips_file, False, "3s", CONNECTIONS)
        filled = sum(cache_stats(cloud).get(k, 0) for k in ("misses", "bundles")) - before
        if filled <= r["requests"] / 100:
            break
    print(f"warm-up: {rounds} rounds of 3 s, {time.monotonic() - t0:.0f} s")
    keep = run(cloud, "keep-alive", net, ips_file, False, DURATION, CONNECTIONS)
    close = run(cloud, "no keep-alive", net, ips_file, True, DURATION, CONNECTIONS)
    met = (keep["rate"] >= 10000 and keep["p99_ms"] < 100 and not keep["errors"],
           close["max_ms"] <= 1000 and not close["errors"])
    print("goal (issue 7): keep-alive >= 10,000 req/s, p99 < 100 ms, no errors: "
          f"{'met' if met[0] else 'NOT met'}; without keep-alive no request over 1 s,"
          f" no errors: {'met' if met[1] else 'NOT met'} (load {load()})")
    print("main process cache:", ", ".join(f"{k}={v:.0f}" for k, v in cache_stats(cloud).items()))


def cache_stats(cloud: CloudHandle) -> dict[str, float]:
    metrics = requests.get(cloud.url(8775, "/metrics"), timeout=60).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^pocketstack_metadata_requests\{outcome="(\w+)"\} ([0-9.e+]+)$', metrics, re.M)}


def write_config(path: str, workers: int) -> None:
    with open(path, "w") as f:
        f.write(CONFIG.format(n=INSTANCES + 10, ram=(INSTANCES + 10) * 64,
                              ports=INSTANCES + 100, ttl=os.environ.get("MD_TTL", "15"),
                              workers=workers))


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("benchmarks/metadata.py needs wrk (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "pocketstack.conf")
        write_config(conf, WORKERS[0])
        cloud = CloudHandle(f"{tmp}/data", config=conf)
        cloud.start()
        try:
            net, ips = make_instances(cloud)
            ips_file = os.path.join(tmp, "ips")
            with open(ips_file, "w") as f:
                f.write("\n".join(ips) + "\n")
            print(f"load average: {load()}; {os.cpu_count()} CPUs")
            for i, workers in enumerate(WORKERS):
                if i:  # the same instances, served another way: restart on the same data
                    cloud.stop()
                    write_config(conf, workers)
                    cloud = CloudHandle(f"{tmp}/data", config=conf)
                    cloud.start()
                measure(cloud, net, ips_file, workers)
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
