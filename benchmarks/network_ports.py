"""Port creation rate and IPAM correctness: N ports (default 10,000) on one /16 subnet.

8 client threads (keep-alive sessions) create ports over HTTP with no fixed_ips, so every
address comes from the allocator. Prints the time each successive 1,000 ports took as the
subnet fills (flat = allocation cost does not grow with the number of used addresses), then
checks that no address was handed out twice, frees a scattered 10% of the ports, refills,
restarts the cloud and allocates again, checking the same after each step.

No peer figure: ../shared/peers/openstack/README.md has none for Neutron port creation.

    python benchmarks/network_ports.py [--ports 10000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import random
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from _cloud import CloudHandle

CIDR = "10.200.0.0/16"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Client:
    def __init__(self, cloud: CloudHandle) -> None:
        self.base = cloud.url(9696, "/v2.0")
        conn = cloud.conn("pocketstack-admin")
        self.headers = {"X-Auth-Token": conn.auth_token}
        self.project_id = conn.current_project_id

    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers.update(self.headers)
        return s


def create_ports(client: Client, network_id: str, count: int, threads: int) -> list[float]:
    """Create ``count`` ports; returns the completion time of each (monotonic, sorted)."""
    counter = itertools.count()
    lock = threading.Lock()
    done: list[float] = []

    def worker(_: int) -> None:
        s = client.session()
        while next(counter) < count:
            r = s.post(f"{client.base}/ports", json={"port": {"network_id": network_id}})
            if r.status_code != 201:
                raise RuntimeError(f"port create: {r.status_code} {r.text}")
            with lock:
                done.append(time.monotonic())

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sorted(done)


def check_ips(client: Client, network_id: str, subnet: dict, expected: int) -> list[dict]:
    """All ports of the network: one IPv4 address each, inside the pool, none shared."""
    r = client.session().get(f"{client.base}/ports", params={
        "network_id": network_id, "fields": ["id", "fixed_ips"]})
    ports = r.json()["ports"]
    ips = [f["ip_address"] for p in ports for f in p["fixed_ips"]]
    net = ipaddress.ip_network(subnet["cidr"])
    gateway = subnet["gateway_ip"]
    problems = []
    if len(ports) != expected:
        problems.append(f"{len(ports)} ports listed, {expected} expected")
    if len(ips) != len(set(ips)):
        problems.append(f"{len(ips) - len(set(ips))} duplicate addresses")
    if any(ipaddress.ip_address(ip) not in net or ip == gateway for ip in ips):
        problems.append("address outside the pool")
    avail = client.session().get(f"{client.base}/network-ip-availabilities/{network_id}")
    used = avail.json()["network_ip_availability"]["used_ips"]
    if used != len(ips):
        problems.append(f"ip availability says {used} used, ports hold {len(ips)}")
    print(f"  check: {len(ports)} ports, {len(set(ips))} distinct addresses -> "
          + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
    if problems:
        raise SystemExit(1)
    return ports


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--block", type=int, default=1_000)
    args = parser.parse_args()
    print("load before:", uptime())
    with tempfile.TemporaryDirectory() as tmp:
        cloud = CloudHandle(f"{tmp}/data")
        cloud.start()
        try:
            client = Client(cloud)
            s = client.session()
            r = s.put(f"{client.base}/quotas/{client.project_id}", json={"quota": {"port": -1}})
            assert r.status_code == 200, r.text
            net = s.post(f"{client.base}/networks", json={"network": {
                "name": "bench-ports"}}).json()["network"]
            subnet = s.post(f"{client.base}/subnets", json={"subnet": {
                "network_id": net["id"], "cidr": CIDR, "ip_version": 4}}).json()["subnet"]

            print(f"creating {args.ports} ports on {CIDR}, {args.concurrency} threads")
            t0 = time.monotonic()
            times = create_ports(client, net["id"], args.ports, args.concurrency)
            total = time.monotonic() - t0
            prev = t0
            for i in range(args.block - 1, len(times), args.block):
                print(f"  ports {i + 1 - args.block + 1:>6}-{i + 1:<6} "
                      f"{times[i] - prev:6.2f} s  ({args.block / (times[i] - prev):6.1f}/s)")
                prev = times[i]
            print(f"  total {total:.1f} s, {args.ports / total:.1f} ports/s")
            ports = check_ips(client, net["id"], subnet, args.ports)

            # free a scattered tenth of the addresses, then fill again: reuse must stay unique
            freed = random.Random(7).sample(ports, len(ports) // 10)
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(lambda p: client.session().delete(
                    f"{client.base}/ports/{p['id']}"), freed))
            t1 = time.monotonic()
            create_ports(client, net["id"], len(freed), args.concurrency)
            dt = time.monotonic() - t1
            print(f"freed {len(freed)} scattered ports, recreated them in {dt:.1f} s "
                  f"({len(freed) / dt:.1f}/s)")
            check_ips(client, net["id"], subnet, args.ports)

            cloud.stop()
            cloud.start()
            client = Client(cloud)
            extra = max(1, args.ports // 20)
            t2 = time.monotonic()
            create_ports(client, net["id"], extra, args.concurrency)
            dt = time.monotonic() - t2
            print(f"after a restart: {extra} more ports in {dt:.1f} s ({extra / dt:.1f}/s)")
            check_ips(client, net["id"], subnet, args.ports + extra)
        finally:
            cloud.stop()
    print("load after:", uptime())


if __name__ == "__main__":
    main()
