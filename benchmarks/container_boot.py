"""Container driver boot times: server create -> ACTIVE -> DHCP address -> metadata read.

    python benchmarks/container_boot.py [--count N] [--parallel M]

Starts a pocketstack with ``--driver container`` (needs root, namespaces, dnsmasq and
busybox-static), boots ``--count`` servers of the seeded ``pocketstack-busybox`` image on
``private`` (``--parallel`` at a time, default all at once) with openstacksdk, and reads
each instance's console log for the moments it got its DHCP address and read its
metadata. When no metadata service answers on port 8775 a stub does (as in the tests).
Prints per-phase median/p90/max, the wall time of the whole batch and the load average.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _cloud import CloudHandle

HERE = os.path.dirname(os.path.abspath(__file__))


def _stub_class() -> Any:
    path = os.path.join(os.path.dirname(HERE), "tests", "container", "conftest.py")
    spec = importlib.util.spec_from_file_location("container_test_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StubMetadata


def _console(data_dir: str, uuid: str) -> str:
    try:
        with open(os.path.join(data_dir, "instances", uuid, "console.log"),
                  errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def boot_one(conn: Any, handle: CloudHandle, image: str, flavor: str, network: str,
             name: str, tick: float = 0.02) -> dict[str, float]:
    """One server's phases. ``tick``: how often its console is read (the ACTIVE poll four
    times slower): with 100 servers at once, fine-grained polling by 100 threads
    would load the 2-core machine more than the boots themselves."""
    t0 = time.monotonic()
    try:
        server = conn.compute.create_server(name=name, image_id=image, flavor_id=flavor,
                                            networks=[{"uuid": network}])
        fallback = False
    except Exception as exc:  # compute without port allocation yet: see tests/container
        if "no Network service" not in str(exc):
            raise
        server = conn.compute.create_server(name=name, image_id=image, flavor_id=flavor,
                                            networks="none")
        fallback = True
    t_api = time.monotonic()
    seen: dict[str, float] = {}

    def watch() -> None:  # the console, from the create on (not after ACTIVE is seen)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and "md" not in seen:
            text = _console(handle.data_dir, server.id)
            if "dhcp" not in seen and "DHCP address" in text:
                seen["dhcp"] = time.monotonic()
            if "metadata: read" in text or "metadata: 169.254.169.254 not reachable" in text:
                seen["md"] = time.monotonic()
            time.sleep(tick)

    watcher = threading.Thread(target=watch, daemon=True)
    if not fallback:
        watcher.start()
    server = conn.compute.wait_for_server(server, status="ACTIVE", interval=max(0.2, tick * 4),
                                          wait=600)
    t_active = time.monotonic()
    if not fallback:
        watcher.join()
        return {"api": t_api - t0, "active": t_active - t0,
                "dhcp": seen.get("dhcp", float("nan")) - t0,
                "metadata": seen.get("md", float("nan")) - t0, "fallback": 0.0,
                "id": server.id}  # type: ignore[dict-item]
    if fallback:
        conn.network.create_port(network_id=network, device_id=server.id,
                                 device_owner="compute:nova")
        conn.compute.reboot_server(server, "HARD")
        time.sleep(0.3)
        conn.compute.wait_for_server(server, status="ACTIVE", interval=0.2, wait=300)
    t_dhcp = t_md = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and t_md is None:
        text = _console(handle.data_dir, server.id)
        if fallback:
            text = text.split("(hard reboot)")[-1] if "(hard reboot)" in text else ""
        if t_dhcp is None and "DHCP address" in text:
            t_dhcp = time.monotonic()
        if "metadata: read" in text or "metadata: 169.254.169.254 not reachable" in text:
            t_md = time.monotonic()
        time.sleep(0.05)
    return {"api": t_api - t0, "active": t_active - t0,
            "dhcp": (t_dhcp or float("nan")) - t0, "metadata": (t_md or float("nan")) - t0,
            "fallback": float(fallback), "id": server.id}  # type: ignore[dict-item]


def cpu_seconds(pid: int) -> float:
    """CPU time of the cloud process so far, its threads and the children it reaped (ip,
    nft, sysctl...): a measure the other load on the machine distorts much less than wall
    time (the instances' own processes are not in it)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _summary(values: list[float]) -> str:
    ok = sorted(v for v in values if v == v)
    if not ok:
        return "n/a"
    p90 = ok[min(len(ok) - 1, int(len(ok) * 0.9))]
    return f"median {statistics.median(ok):.2f}s  p90 {p90:.2f}s  max {ok[-1]:.2f}s"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--parallel", type=int, default=0)
    p.add_argument("--keep", default="", help="copy the console logs here before the delete")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("container_boot: needs root (namespaces, cgroups)")
        return 0
    data_dir = tempfile.mkdtemp(prefix="ps-bench-container-")
    os.makedirs(os.path.join(data_dir, "data"))
    # 100 m1.nano servers on a 2-core machine: Placement's VCPU inventory (cores x
    # cpu_allocation_ratio, 32 by default) would refuse the 33rd; containers share the CPUs
    with open(os.path.join(data_dir, "data", "pocketstack.conf"), "w") as f:
        f.write(f"[DEFAULT]\ncpu_allocation_ratio = {max(16, args.count)}\n")
    handle = CloudHandle(os.path.join(data_dir, "data"), extra_args=["--driver", "container"])
    handle.start()
    stub = None
    with socket.socket() as s:
        if s.connect_ex((handle.addr, 8775)) != 0:
            stub = _stub_class()(handle.addr)
    try:
        conn = handle.conn("pocketstack")
        image = conn.image.find_image("pocketstack-busybox")
        if image is None:
            print("no pocketstack-busybox image (busybox-static missing?)")
            return 1
        flavor = conn.compute.find_flavor("m1.nano")
        network = conn.network.find_network("private")
        if args.count > 50:  # private is a /26: 60 addresses; a /24 of its own
            network = conn.network.create_network(name="bench-boot")
            conn.network.create_subnet(network_id=network.id, ip_version=4,
                                       cidr="10.99.0.0/24", name="bench-boot")
        workers = args.parallel or args.count
        admin = handle.conn("pocketstack-admin")
        n = args.count + 10
        admin.set_compute_quotas(conn.current_project_id, instances=n, cores=n * 2,
                                 ram=n * 1024)
        admin.set_network_quotas(conn.current_project_id, port=n * 2)

        def boot(i: int) -> dict[str, Any]:
            try:
                return boot_one(handle.conn("pocketstack"), handle, image.id, flavor.id,
                                network.id, f"bench-{i}", tick=0.02 if workers <= 4 else 0.25)
            except Exception as exc:  # counted and shown, the others go on
                return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}

        t0, cpu0 = time.monotonic(), cpu_seconds(handle.proc.pid)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(boot, range(args.count)))
        wall = time.monotonic() - t0
        cpu = cpu_seconds(handle.proc.pid) - cpu0
        errors = [r["error"] for r in results if "error" in r]
        results = [r for r in results if "error" not in r]
        load = os.getloadavg()
        print(f"container boot, {args.count} servers, {workers} at a time "
              f"(load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} CPUs)")
        if any(r["fallback"] for r in results):
            print("  (compute did not allocate ports: servers were created with networks=none,"
                  " given a port and hard-rebooted; dhcp/metadata count from the create)")
        print(f"  {len(results)} reached ACTIVE, "
              f"{sum(1 for r in results if r['dhcp'] == r['dhcp'])} got their address, "
              f"{sum(1 for r in results if r['metadata'] == r['metadata'])} read metadata;"
              f" {len(errors)} failed" + (f" (first: {errors[0]})" if errors else ""))
        for phase in ("api", "active", "dhcp", "metadata"):
            print(f"  create -> {phase:<9} {_summary([r[phase] for r in results])}")
        print(f"  whole batch: {wall:.2f}s wall, cloud CPU {cpu:.1f}s "
              f"({cpu / max(1, args.count) * 1000:.0f} ms per server)")
        print("  peer (real OpenStack, Nova fake driver): boot to ACTIVE 5.9 s "
              "(/work/shared/peers/openstack/README.md); goal: address and metadata < 1 s")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for r in results:
                with open(os.path.join(args.keep, r["id"] + ".log"), "w") as f:
                    f.write(_console(handle.data_dir, r["id"]))
        t1 = time.monotonic()
        for r in results:
            conn.compute.delete_server(r["id"])
        for r in results:
            while conn.compute.find_server(r["id"]) is not None:
                time.sleep(0.2)
        print(f"  delete all: {time.monotonic() - t1:.2f}s")
    finally:
        handle.stop()
        if stub is not None:
            stub.close()
        sys.path.insert(0, os.path.dirname(HERE))
        from pocketstack.compute.drivers.container.driver import teardown_instances
        from pocketstack.dataplane.manager import teardown_state

        teardown_instances(os.path.join(handle.data_dir, "instances"))
        teardown_state(os.path.join(handle.data_dir, "dataplane"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
