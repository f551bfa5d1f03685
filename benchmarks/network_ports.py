"""Port creation rate and IPAM correctness: N ports (default 10,000) on one /16 subnet.

8 client threads (keep-alive sessions) create ports over HTTP with no fixed_ips, so every
address comes from the allocator. Prints the time each successive 1,000 ports took as the
subnet fills (flat = allocation cost does not grow with the number of used addresses), then
checks that no address was handed out twice, frees a scattered 10% of the ports, refills,
restarts the cloud and allocates again, checking the same after each step.

No peer figure: ../shared/peers/openstack/README.md has none for Neutron port creation.

    python benchmarks/network_ports.py [--ports 10000] [--concurrency 8] [--only ipam|http]

The first part times the allocator alone in-process (next-fit, then the linear scan it
replaced as a reference), the second the whole API over HTTP.
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import os
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


def server_cpu(cloud: CloudHandle) -> float:
    """CPU seconds (user + system) used so far by the cloud's processes."""
    import psutil

    proc = psutil.Process(cloud.proc.pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def create_ports(client: Client, network_id: str, count: int, threads: int,
                 block: int = 0, cloud: CloudHandle | None = None) -> list[float]:
    """Create ``count`` ports; returns the completion time of each (monotonic, sorted).

    With ``block``, prints the time each successive ``block`` ports took as they complete.
    """
    counter = itertools.count()
    lock = threading.Lock()
    done: list[float] = []
    last = [time.monotonic()]
    cpu = [server_cpu(cloud) if cloud else 0.0]

    def worker(_: int) -> None:
        s = client.session()
        while next(counter) < count:
            r = s.post(f"{client.base}/ports", json={"port": {"network_id": network_id}})
            if r.status_code != 201:
                raise RuntimeError(f"port create: {r.status_code} {r.text}")
            with lock:
                now = time.monotonic()
                done.append(now)
                if block and len(done) % block == 0:
                    used = ""
                    if cloud:
                        c = server_cpu(cloud)
                        used = f"  server CPU {(c - cpu[0]) * 1e3 / block:5.1f} ms/port"
                        cpu[0] = c
                    print(f"  ports {len(done) - block + 1:>6}-{len(done):<6} "
                          f"{now - last[0]:6.2f} s  ({block / (now - last[0]):6.1f}/s){used}"
                          f"  load {os.getloadavg()[0]:.1f}", flush=True)
                    last[0] = now

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


def linear_first_free(s, subnet) -> str:
    """The allocator before next-fit, kept here as the reference: read every used address
    of the subnet, then walk the pools for the first one not in that set."""
    from sqlalchemy import select

    from pocketstack.network.models import IPAllocation

    taken = set(s.scalars(select(IPAllocation.ip_address).where(
        IPAllocation.subnet_id == subnet.id)))
    for pool in subnet.attrs["allocation_pools"]:
        a, b = (int(ipaddress.ip_address(pool[k])) for k in ("start", "end"))
        for v in range(a, b + 1):
            if str(ipaddress.IPv4Address(v)) not in taken:
                return str(ipaddress.IPv4Address(v))
    raise RuntimeError("full")


def ipam_in_process(tmp: str, count: int, block: int) -> None:
    """Allocation alone, without HTTP: one write transaction per port, as the API does."""
    from pocketstack.db import Base, Database
    from pocketstack.network import ipam
    from pocketstack.network.models import IPAllocation, Network, Port, Subnet

    tables = [m.__table__ for m in (Network, Subnet, Port, IPAllocation)]
    for label in ("next-fit (pocketstack)", "linear scan (reference)"):
        db = Database(f"sqlite:///{tmp}/ipam-{label[:4]}.db", sqlite_synchronous="OFF")
        Base.metadata.create_all(db.writer, tables=tables)
        net = ipaddress.ip_network(CIDR)
        with db.write() as s:
            s.add(Network(id="n", project_id="p"))
            s.add(Subnet(id="sub", project_id="p", network_id="n", cidr=CIDR, ip_version=4,
                         attrs={"allocation_pools": ipam.default_pools(net, str(net[1])),
                                "gateway_ip": str(net[1])}))
        print(f"in-process allocation, {label} (alloc = time inside the allocator, "
              "wall = with the transaction commit):", flush=True)
        last, spent = time.monotonic(), 0.0
        for i in range(count):
            with db.write() as s:
                subnet = s.get(Subnet, "sub")
                s.add(Port(id=f"p{i}", project_id="p", network_id="n",
                           mac_address=f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:"
                                       f"{i & 255:02x}"))
                s.flush()
                t0 = time.perf_counter()
                if label.startswith("next"):
                    ipam.allocate(s, subnet, f"p{i}", "")
                else:
                    s.add(IPAllocation(subnet_id="sub", ip_address=linear_first_free(s, subnet),
                                       port_id=f"p{i}", network_id="n", position=0))
                    s.flush()
                spent += time.perf_counter() - t0
            if (i + 1) % block == 0:
                now = time.monotonic()
                print(f"  allocations {i + 2 - block:>6}-{i + 1:<6} alloc "
                      f"{spent * 1e3 / block:6.2f} ms each, wall {now - last:6.2f} s", flush=True)
                last, spent = now, 0.0
        with db.read() as s:
            from sqlalchemy import func, select
            n, d = s.execute(select(func.count(), func.count(IPAllocation.ip_address.distinct()))
                             ).one()
        verdict = "OK" if n == d == count else "FAILED"
        print(f"  {n} allocations, {d} distinct addresses -> {verdict}")
        db.writer.dispose()
        db.reader.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--block", type=int, default=1_000)
    parser.add_argument("--only", choices=("ipam", "http"), help="run one part only")
    args = parser.parse_args()
    print("load before:", uptime(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "http":
            ipam_in_process(tmp, args.ports, args.block)
            print("load:", uptime(), flush=True)
        if args.only == "ipam":
            return
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

            print(f"creating {args.ports} ports on {CIDR}, {args.concurrency} threads",
                  flush=True)
            t0 = time.monotonic()
            create_ports(client, net["id"], args.ports, args.concurrency, args.block, cloud)
            total = time.monotonic() - t0
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
