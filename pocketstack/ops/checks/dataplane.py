"""Doctor checks of the metadata service and the real dataplane (skipped when not in use).

The dataplane checks read the namespaces of :mod:`pocketstack.dataplane` (``psnet-<network>``
with its bridge and dnsmasq, ``psrtr-<router>``) of the networks in use (with servers);
they apply only with a driver that plugs servers into a real dataplane
(``compute_driver`` container or qemu).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import select

from pocketstack.ops.common import running_state
from pocketstack.ops.doctor import FAIL, OK, WARN, Finding, check

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


@check("metadata service")
def metadata_service(cloud: "Cloud") -> Iterable[Finding]:
    state = running_state(cloud.data_dir)
    svc = next((x for x in (state or {}).get("services", []) if x["name"] == "metadata"), None)
    if svc is None:
        yield Finding("metadata service", OK, "no metadata service is served (skipped)")
        return
    url = f"http://{state['bind']}:{svc['port']}/"  # type: ignore[index]
    slow = float(cloud.conf.get("doctor", "metadata_slow_seconds"))
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=max(5.0, slow * 5)) as resp:
            resp.read()
    except urllib.error.HTTPError:
        pass  # it answered
    except OSError as exc:
        yield Finding("metadata service", FAIL, f"{url} is unreachable: {exc}",
                      f"see {cloud.data_dir}/logs/pocketstack.log, then restart pocketstack up")
        return
    took = time.monotonic() - started
    if took > slow:
        yield Finding("metadata service", WARN, f"{url} answered in {took:.2f}s (> {slow}s)",
                      "pocketstack manage logs errors --since 1h")
    else:
        yield Finding("metadata service", OK, f"{url} answered in {took:.3f}s")


def dataplane_in_use(cloud: "Cloud") -> bool:
    """The configured driver plugs a dataplane, or one was made (``up --driver container``
    gives the driver on the command line, which the doctor does not see)."""
    return cloud.conf.get("DEFAULT", "compute_driver") in ("container", "qemu") or \
        os.path.isdir(os.path.join(cloud.data_dir, "dataplane"))


def _netns() -> set[str] | None:
    ip = shutil.which("ip")
    if ip is None:
        return None
    out = subprocess.run([ip, "netns", "list"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        return None
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def _ns_read(ns: str, path: str) -> str | None:
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", path], capture_output=True,
                         text=True, timeout=10)
    return out.stdout.strip() if out.returncode == 0 else None


def _dnsmasq_alive(state_dir: str) -> bool:
    from pocketstack.dataplane.ip import pid_alive

    pid = pid_alive(os.path.join(state_dir, "dnsmasq.pid"))
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == "dnsmasq"
    except OSError:
        return False


def _link_mtus(ns: str) -> dict[str, int]:
    out = subprocess.run(["ip", "-n", ns, "-o", "link"], capture_output=True, text=True,
                         timeout=10).stdout
    mtus = {}
    for line in out.splitlines():
        parts = line.split()
        if "mtu" in parts and len(parts) > 1:
            name = parts[1].rstrip(":").split("@")[0]
            if name != "lo":
                mtus[name] = int(parts[parts.index("mtu") + 1])
    return mtus


@check("dataplane")
def dataplane(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.dataplane.manager import network_netns
    from pocketstack.dataplane.router import router_netns
    from pocketstack.network.models import Network, Port, Router, Subnet

    if not dataplane_in_use(cloud):
        yield Finding("dataplane", OK, "not in use (compute_driver "
                      f"{cloud.conf.get('DEFAULT', 'compute_driver')})")
        return
    namespaces = _netns()
    if namespaces is None:
        yield Finding("dataplane", WARN, "cannot list network namespaces (ip netns list)",
                      "run pocketstack doctor as the user that runs the dataplane")
        return
    with cloud.db.read() as s:
        dhcp_nets = {sub.network_id for sub in s.scalars(select(Subnet))
                     if (sub.attrs or {}).get("enable_dhcp", True) and
                     sub.ip_version == 4}
        networks = {n.id: n for n in s.scalars(select(Network))}
        routers = list(s.scalars(select(Router)))
        plugged = {p.network_id for p in s.scalars(select(Port))
                   if str(p.device_owner or "").startswith("compute:") and p.device_id}
    state_root = os.path.join(cloud.data_dir, "dataplane")
    bad = checked = 0
    for net_id in sorted(set(networks) & (plugged | {n[len("psnet-"):] for n in namespaces
                                                       if n.startswith("psnet-")})):
        ns = network_netns(net_id)
        checked += 1
        if ns not in namespaces:
            bad += 1
            yield Finding("dataplane", FAIL, f"network {net_id} has servers but no namespace "
                          f"{ns} (no bridge, no DHCP)", "restart pocketstack up (the "
                          "dataplane is rebuilt when servers start)")
            continue
        if net_id in dhcp_nets and not _dnsmasq_alive(os.path.join(state_root, net_id)):
            bad += 1
            yield Finding("dataplane", FAIL, f"no DHCP server (dnsmasq in {ns}) for network "
                          f"{net_id}, which has a subnet with DHCP enabled",
                          "restart pocketstack up (it restarts the network's dnsmasq), or "
                          "openstack subnet set --no-dhcp SUBNET && openstack subnet set "
                          "--dhcp SUBNET")
        want = int((networks[net_id].attrs or {}).get("mtu") or 1500)
        for dev, mtu in sorted(_link_mtus(ns).items()):
            if mtu != want:
                bad += 1
                yield Finding("dataplane", FAIL, f"MTU mismatch on network {net_id}: {dev} in "
                              f"{ns} has {mtu}, the network {want}",
                              f"ip -n {ns} link set {dev} mtu {want}")
    for r in routers:
        ns = router_netns(r.id)
        if ns not in namespaces:
            continue
        checked += 1
        if _ns_read(ns, "/proc/sys/net/ipv4/ip_forward") != "1":
            bad += 1
            yield Finding("dataplane", FAIL, f"IP forwarding is off in router {r.id}: "
                          "floating IPs and routing cannot work",
                          f"ip netns exec {ns} sysctl -w net.ipv4.ip_forward=1")
        if _ns_read(ns, "/proc/sys/net/ipv4/conf/all/rp_filter") == "1":
            bad += 1
            yield Finding("dataplane", WARN, f"strict rp_filter in router {r.id} may drop "
                          "floating IP traffic",
                          f"ip netns exec {ns} sysctl -w net.ipv4.conf.all.rp_filter=2")
    if not bad:
        yield Finding("dataplane", OK, f"{checked} networks and routers in use checked "
                      f"({len(dhcp_nets)} DHCP networks, {len(routers)} routers)")
