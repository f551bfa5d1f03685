"""Networks, DHCP and ports made real in namespaces (see the package docstring)."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from pocketstack.dataplane import firewall, ip, router
from pocketstack.dataplane.agents import Heartbeat
from pocketstack.dataplane.dhcp import METADATA_IP, Dnsmasq, command, hosts_lines

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
NET_PREFIX = "psnet-"
DHCP_OWNER = "network:dhcp"


def network_netns(network_id: str) -> str:
    return NET_PREFIX + network_id


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def bridge_mac(network_id: str) -> str:
    """A stable, locally administered MAC for a network's bridge without a DHCP port
    (OpenStack's fa:16:3e prefix and three bytes of the network id's hash)."""
    digest = hashlib.sha256(network_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


class Dataplane:
    def __init__(self, cloud: "Cloud", state_root: str, metadata_upstream: str,
                 lease_time: int = 86400) -> None:
        self.cloud = cloud
        self.root = state_root
        self.upstream = metadata_upstream
        self.lease_time = lease_time
        self._locks: dict[str, threading.Lock] = {}
        self._applied: dict[str, str] = {}
        self._routers: dict[str, str] = {}
        self._ready: dict[str, tuple[str, dict[str, Any]]] = {}
        self._stop = threading.Event()
        self._guard = threading.Lock()
        # combined syncs (see _combined): requests made / covered, per lock key
        self._wanted: dict[str, int] = {}
        self._covered: dict[str, int] = {}
        self._unplugged: set[str] = set()  # devices whose ports DHCP no longer serves
        self._setups = self._setups_synced = 0  # networks set up / as of the last router sync
        self.heartbeat = Heartbeat(self)
        os.makedirs(self.root, exist_ok=True)

    # -- plumbing ---------------------------------------------------------------
    @property
    def net(self) -> Any:
        service = self.cloud.service("network")
        return getattr(service, "net", None)

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _combined(self, key: str, fn: Callable[[], None]) -> None:
        """Run ``fn`` under the lock ``key``, unless a run that started after this call
        already did the work: when 100 instances plug at once, waiting callers share one
        DHCP (or firewall) sync instead of each redoing it over every port."""
        with self._guard:
            mine = self._wanted[key] = self._wanted.get(key, 0) + 1
        with self._lock(key):
            if self._covered.get(key, 0) >= mine:
                return
            with self._guard:
                upto = self._wanted[key]
            fn()
            self._covered[key] = upto

    def state_dir(self, network_id: str) -> str:
        path = os.path.join(self.root, network_id)
        os.makedirs(path, exist_ok=True)
        return path

    def ports_on_network(self, network_id: str) -> list[dict[str, Any]]:
        """The network's ports with what DHCP and the firewall use (two queries, not the
        API view's query per port)."""
        from sqlalchemy import select

        from pocketstack.network.models import IPAllocation, Port

        with self.net.db.read() as s:
            fixed: dict[str, list[dict[str, str]]] = {}
            for port_id, subnet_id, address in s.execute(
                    select(IPAllocation.port_id, IPAllocation.subnet_id,
                           IPAllocation.ip_address)
                    .where(IPAllocation.network_id == network_id)
                    .order_by(IPAllocation.port_id, IPAllocation.position)):
                fixed.setdefault(port_id, []).append({"subnet_id": subnet_id,
                                                      "ip_address": address})
            out = []
            for row in s.scalars(select(Port).where(Port.network_id == network_id)):
                a = row.attrs or {}
                out.append({"id": row.id, "network_id": row.network_id,
                            "mac_address": row.mac_address, "device_id": row.device_id,
                            "device_owner": row.device_owner,
                            "fixed_ips": fixed.get(row.id, []),
                            "security_groups": a.get("security_groups", []),
                            "allowed_address_pairs": a.get("allowed_address_pairs", []),
                            "port_security_enabled": a.get("port_security_enabled", True)})
            return out

    def ports_for_instance(self, uuid: str) -> list[dict[str, Any]]:
        net = self.net
        if net is None:
            return []
        return [p for p in net.ports_for_device(uuid)
                if p.get("device_owner", "").startswith("compute:")]

    # -- networks ----------------------------------------------------------------
    def ensure_network(self, network_id: str) -> dict[str, Any]:
        """Namespace, bridge, DHCP port addresses, dnsmasq and metadata proxy."""
        ready = self._ready_network(network_id)  # the common case: no lock to wait for
        if ready is not None:
            return ready
        with self._lock(network_id):
            return self._ensure_network(network_id)

    def _ready_network(self, network_id: str) -> dict[str, Any] | None:
        """The network as set up already, by this process, for the same network and
        subnets, with its daemons running (None: set it up)."""
        done = self._ready.get(network_id)
        if done is None:
            return None
        net = self.net
        info = net.network_info(network_id)
        subnets = [net.subnet_info(sid) for sid in info.get("subnets", [])]
        mtu = int(info.get("mtu") or 1500)
        key = repr((mtu, sorted(repr(sorted(sn.items())) for sn in subnets)))
        if done[0] == key and ip.netns_exists(network_netns(network_id)) and \
                self._daemons_alive(network_id, bool(done[1]["dhcp_ips"])):
            return done[1]
        return None

    def _ensure_network(self, network_id: str) -> dict[str, Any]:
        ready = self._ready_network(network_id)
        if ready is not None:  # set up by the caller this one waited for
            return ready
        net = self.net
        info = net.network_info(network_id)
        subnets = [net.subnet_info(sid) for sid in info.get("subnets", [])]
        mtu = int(info.get("mtu") or 1500)
        ns = network_netns(network_id)
        key = repr((mtu, sorted(repr(sorted(sn.items())) for sn in subnets)))
        self.state_dir(network_id)  # recorded, so that teardown_state finds every namespace
        if not ip.netns_exists(ns):
            self.heartbeat.changed()
        ip.netns_add(ns)
        if not ip.link_exists("br0", ns):
            ip.ip("link", "add", "br0", "type", "bridge", netns=ns)
        dhcp_subnets = [s for s in subnets if s.get("enable_dhcp") and s["ip_version"] == 4]
        port = self._dhcp_port(info) if dhcp_subnets else None
        # A bridge takes the lowest MAC of its ports unless given one: each instance plugged
        # in could change it, and the instances' ARP entries for the DHCP/metadata address
        # went stale (a metadata request then hung until the neighbour was probed again).
        # A fixed address, the DHCP port's as on Neutron's DHCP device, never changes.
        mac = port["mac_address"] if port else bridge_mac(network_id)
        ip.ip("link", "set", "br0", "address", mac, "mtu", str(mtu), "up", netns=ns)
        dhcp_ips: dict[str, str] = {}
        if port is not None:
            by_id = {s["id"]: s for s in subnets}
            for fixed in port.get("fixed_ips", []):
                subnet = by_id.get(fixed["subnet_id"])
                if subnet is None or subnet["ip_version"] != 4:
                    continue
                prefix = ipaddress.ip_network(subnet["cidr"]).prefixlen
                ip.ip("addr", "replace", f"{fixed['ip_address']}/{prefix}", "dev", "br0",
                      netns=ns)
                dhcp_ips[subnet["id"]] = fixed["ip_address"]
            ip.ip("addr", "replace", f"{METADATA_IP}/32", "dev", "br0", netns=ns)
            state = self.state_dir(network_id)
            dnsmasq = Dnsmasq(ns, state)
            changed = dnsmasq.write_hosts(hosts_lines(self.ports_on_network(network_id),
                                                      {s["id"]: s for s in subnets}))
            dnsmasq.ensure(command(ns, state, dhcp_subnets, dhcp_ips, self.lease_time, mtu))
            if changed:
                dnsmasq.reload()
            self._ensure_proxy(network_id, ns, state)
        result = {"netns": ns, "mtu": mtu, "dhcp_ips": dhcp_ips}
        self._ready[network_id] = (key, result)
        self._setups += 1
        return result

    def _daemons_alive(self, network_id: str, dhcp: bool) -> bool:
        if not dhcp:
            return True
        state, ns = os.path.join(self.root, network_id), network_netns(network_id)
        pid = ip.pid_alive(os.path.join(state, "dnsmasq.pid"))
        return bool(pid and ip.in_netns(pid, ns)) and \
            _proxy_serves(os.path.join(state, "metaproxy.pid"), ns) is not None

    def _dhcp_port(self, info: dict[str, Any]) -> dict[str, Any]:
        net = self.net
        device_id = f"dhcp-pocketstack-{info['id']}"
        found = [p for p in net.ports_for_device(device_id)]
        if found:
            return dict(found[0])
        port = net.allocate_port(info.get("project_id") or info.get("tenant_id") or "",
                                 info["id"], device_id, device_owner=DHCP_OWNER)
        LOG.info("DHCP port %s for network %s: %s", port["id"], info["id"],
                 [f["ip_address"] for f in port.get("fixed_ips", [])])
        return dict(port)

    def _ensure_proxy(self, network_id: str, ns: str, state: str) -> None:
        pidfile = os.path.join(state, "metaproxy.pid")
        if _proxy_serves(pidfile, ns) is not None:
            return
        pid = ip.pid_alive(pidfile)
        if pid:  # its namespace was deleted under it (by hand, or by another cloud)
            import signal

            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)
        for name in (pidfile, pidfile + ".netns"):
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
        log = open(os.path.join(state, "metaproxy.log"), "ab")
        subprocess.Popen([sys.executable, "-m", "pocketstack.dataplane.metaproxy",
                          "--netns", ns, "--network-id", network_id, "--upstream",
                          self.upstream, "--pidfile", pidfile, "--listen", f"{METADATA_IP}:80"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                         start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ip.pid_alive(pidfile):
            time.sleep(0.02)
        if not ip.pid_alive(pidfile):
            LOG.warning("metadata proxy for network %s did not start (see %s)", network_id,
                        os.path.join(state, "metaproxy.log"))

    def sync_dhcp(self, network_id: str, exclude_device: str | None = None) -> None:
        """Rewrite the network's DHCP reservations from its ports; SIGHUP dnsmasq.
        Concurrent callers share one rewrite (:meth:`_combined`); ``exclude_device``'s
        ports are left out (being unplugged, not deleted yet) until it plugs again."""
        if exclude_device:
            with self._guard:
                self._unplugged.add(exclude_device)
        self._combined(network_id, lambda: self._sync_dhcp(network_id))

    def _sync_dhcp(self, network_id: str) -> None:
        if not os.path.isdir(os.path.join(self.root, network_id)):
            return  # never set up here
        net = self.net
        try:
            info = net.network_info(network_id)
        except Exception:  # the network is gone: nothing to serve
            return
        subnets = {sid: net.subnet_info(sid) for sid in info.get("subnets", [])}
        with self._guard:
            gone = set(self._unplugged)
        ports = [p for p in self.ports_on_network(network_id)
                 if p.get("device_id") not in gone]
        dnsmasq = Dnsmasq(network_netns(network_id), self.state_dir(network_id))
        if dnsmasq.write_hosts(hosts_lines(ports, subnets)):
            dnsmasq.reload()

    def teardown_network(self, network_id: str) -> None:
        with self._lock(network_id):
            state = os.path.join(self.root, network_id)
            Dnsmasq(network_netns(network_id), state).stop()
            pid = ip.pid_alive(os.path.join(state, "metaproxy.pid"))
            if pid:
                import signal

                os.kill(pid, signal.SIGTERM)
            ip.netns_delete(network_netns(network_id))
            shutil.rmtree(state, ignore_errors=True)
            self._ready.pop(network_id, None)
            self.heartbeat.changed()
            LOG.info("dataplane of network %s removed", network_id)

    def teardown_all(self) -> None:
        teardown_state(self.root)

    def owned(self, kind: str = "") -> list[str]:
        """Ids of the networks (kind ""), routers ("router") or external networks ("ext")
        this cloud made (recorded under its state root): another cloud on the same
        machine owns the other namespaces, which this one never touches."""
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        if kind:
            return [n[len(kind) + 1:] for n in names if n.startswith(kind + "-")]
        return [n for n in names if not n.startswith(("router-", "ext-"))]

    def gc(self) -> None:
        """Remove the namespaces of networks that no longer exist."""
        net = self.net
        if net is None:
            return
        for network_id in self.owned():
            try:
                net.network_info(network_id)
            except Exception:
                self.teardown_network(network_id)
        for network_id in self.owned("ext"):
            try:
                net.network_info(network_id)
            except Exception:
                router.delete_external(router.external_netns(network_id))
                shutil.rmtree(os.path.join(self.root, "ext-" + network_id),
                              ignore_errors=True)

    def reconcile(self) -> None:
        """At start: restart dnsmasq and proxies of the networks that have namespaces."""
        if self.net is None:
            return
        self.gc()
        for network_id in self.owned():
            if not ip.netns_exists(network_netns(network_id)):
                continue
            try:
                self.ensure_network(network_id)
            except Exception as exc:
                LOG.warning("network namespace of %s not restored: %s", network_id, exc)
        try:
            router.connect_host_at_start(self)
        except Exception as exc:
            LOG.warning("the host is not connected to the external networks: %s", exc)

    # -- security groups -----------------------------------------------------------
    def firewall_script(self, network_id: str) -> str:
        from sqlalchemy import select

        from pocketstack.network.models import SecurityGroupRule

        ports = [p for p in self.ports_on_network(network_id)
                 if p.get("device_owner", "").startswith("compute:")]
        groups = {g for p in ports for g in p.get("security_groups") or []}
        rules: dict[str, list[dict[str, Any]]] = {}
        with self.net.db.read() as s:
            for row in s.scalars(select(SecurityGroupRule).where(
                    SecurityGroupRule.security_group_id.in_(sorted(groups)))):
                rules.setdefault(row.security_group_id, []).append(dict(row.attrs))
        for group_rules in rules.values():
            group_rules.sort(key=lambda r: repr(sorted(r.items())))
        members: dict[str, dict[str, list[str]]] = {}
        for port in ports:
            for group in port.get("security_groups") or []:
                for fixed in port.get("fixed_ips", []):
                    fam = "ip6" if ":" in fixed["ip_address"] else "ip"
                    members.setdefault(group, {}).setdefault(fam, []).append(
                        fixed["ip_address"])
        return firewall.build(ports, rules, members, tap_name)

    def sync_firewall(self, network_id: str) -> None:
        """Apply the network's security groups if they changed (concurrent callers share
        one build and apply, see :meth:`_combined`)."""
        self._combined("fw-" + network_id, lambda: self._sync_firewall(network_id))

    def _sync_firewall(self, network_id: str) -> None:
        ns = network_netns(network_id)
        if not ip.netns_exists(ns):
            return
        script = self.firewall_script(network_id)
        try:  # a namespace made again (deleted under us) has no rules yet
            applied = f"{os.stat(ip.netns_path(ns)).st_ino}\n{script}"
        except OSError:
            return
        before = self._applied.get(network_id)
        if before == applied:
            return
        # the sysctl once per namespace (its inode heads ``applied``)
        firewall.apply(ns, script, sysctl=before is None or
                       before.split("\n", 1)[0] != applied.split("\n", 1)[0])
        self._applied[network_id] = applied
        LOG.info("security groups applied in %s", ns)

    def start_firewall_sync(self, interval: float = 1.0) -> None:
        """Re-apply changed security groups every ``interval`` seconds (daemon thread)."""
        def loop() -> None:
            failed: dict[str, str] = {}
            while not self._stop.wait(interval):
                if self.net is None:
                    continue
                self.heartbeat.tick()
                try:
                    self.sync_routers()
                    failed.pop("routers", None)
                except Exception as exc:
                    if failed.get("routers") != str(exc):
                        LOG.warning("routers not applied: %s", exc)
                    failed["routers"] = str(exc)
                for network_id in self.owned():
                    try:
                        self.sync_firewall(network_id)
                        failed.pop(network_id, None)
                    except Exception as exc:  # log each distinct failure once
                        if failed.get(network_id) != str(exc):
                            LOG.warning("security groups of %s not applied: %s", network_id,
                                        exc)
                        failed[network_id] = str(exc)

        threading.Thread(target=loop, name="dataplane-firewall", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    # -- routers -----------------------------------------------------------------------
    def sync_routers(self, if_new_networks: bool = False) -> None:
        """Routers with an interface on an active network: namespaces, NAT, floating IPs
        (concurrent callers share one pass, see :meth:`_combined`). ``if_new_networks``:
        only when a network was set up since the last pass (a spawn on a network that
        runs already leaves the rest to the loop that syncs every second)."""
        if if_new_networks and self._setups == self._setups_synced:
            return
        self._combined("routers", self._sync_routers)

    def _sync_routers(self) -> None:
        import json

        self._setups_synced = self._setups
        states = router.router_states(self)
        for router_id in self.owned("router"):
            if router_id not in states:
                ip.netns_delete(router.router_netns(router_id))
                self._routers.pop(router_id, None)
                shutil.rmtree(os.path.join(self.root, "router-" + router_id),
                              ignore_errors=True)
        for router_id, state in states.items():
            active = any(ip.netns_exists(network_netns(p["network_id"]))
                         for p in state["ifaces"])
            if not active:
                continue
            key = json.dumps(state, sort_keys=True)
            if self._routers.get(router_id) == key and \
                    ip.netns_exists(router.router_netns(router_id)):
                continue
            os.makedirs(os.path.join(self.root, "router-" + router_id), exist_ok=True)
            if state["gw"] is not None:
                os.makedirs(os.path.join(self.root, "ext-" + state["gw"]["network_id"]),
                            exist_ok=True)
            if router_id not in self._routers:
                self.heartbeat.changed()
            router.apply_router(self, state)
            self._routers[router_id] = key

    # -- ports ---------------------------------------------------------------------
    def plug(self, instance_netns: str, port: dict[str, Any]) -> str:
        """Connect a port to the instance: veth with the port's MAC, on the bridge."""
        from pocketstack.compute.drivers.container.phases import Phases

        took = Phases()
        with self._guard:
            self._unplugged.discard(port.get("device_id") or "")
        info = self.ensure_network(port["network_id"])
        took("network")
        ns, tap = info["netns"], tap_name(port["id"])
        if ip.link_exists(tap, ns):
            return tap
        existing = ip.ip("-o", "link", "show", netns=instance_netns).stdout
        index = 0
        while f": eth{index}:" in existing or f": eth{index}@" in existing:
            index += 1
        dev = f"eth{index}"
        # the rules name the tap (iifname/oifname): in place before the link exists
        self.sync_firewall(port["network_id"])
        took("firewall")
        mtu = str(info["mtu"])
        ip.ip("link", "add", tap, "mtu", mtu, "master", "br0", "up", "type", "veth", "peer",
              "name", dev, "address", port["mac_address"], "mtu", mtu, "netns",
              instance_netns, netns=ns)
        ip.ip("link", "set", dev, "up", netns=instance_netns)
        took("veth")
        self.sync_dhcp(port["network_id"])
        took("dhcp")
        LOG.info("port %s (%s) plugged as %s in %s in %s", port["id"], port["mac_address"],
                 dev, instance_netns, took)
        return tap

    def unplug(self, port: dict[str, Any], device_id: str | None = None) -> None:
        ns = network_netns(port["network_id"])
        tap = tap_name(port["id"])
        if ip.netns_exists(ns) and ip.link_exists(tap, ns):
            ip.ip("link", "delete", tap, netns=ns, check=False)
        self.sync_dhcp(port["network_id"], exclude_device=device_id)
        try:
            self.sync_firewall(port["network_id"])
        except Exception as exc:
            LOG.warning("security groups of %s not re-applied: %s", port["network_id"], exc)


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def _proxy_serves(pidfile: str, ns: str) -> int | None:
    """The pid of the metadata proxy listening in namespace ``ns`` (its process returns to
    the host's namespace once it listens: the namespace's inode it recorded tells)."""
    pid = ip.pid_alive(pidfile)
    if pid is None:
        return None
    try:
        with open(pidfile + ".netns") as f:
            inode = int(f.read().strip() or 0)
        return pid if inode == os.stat(ip.netns_path(ns)).st_ino else None
    except (OSError, ValueError):
        return None


def teardown_state(state_root: str) -> list[str]:
    """Stop every network daemon and namespace recorded under ``state_root`` (used when
    a whole cloud is thrown away, e.g. by tests); returns the networks removed."""
    import signal

    removed = []
    try:
        names = sorted(os.listdir(state_root))
    except FileNotFoundError:
        return removed
    for network_id in names:
        state = os.path.join(state_root, network_id)
        if network_id.startswith(("router-", "ext-")):
            kind, _, ident = network_id.partition("-")
            if kind == "router":
                ip.netns_delete(router.router_netns(ident))
            else:
                router.delete_external(router.external_netns(ident))
            shutil.rmtree(state, ignore_errors=True)
            removed.append(network_id)
            continue
        Dnsmasq(network_netns(network_id), state).stop()
        pid = ip.pid_alive(os.path.join(state, "metaproxy.pid"))
        if pid:
            os.kill(pid, signal.SIGTERM)
        ip.netns_delete(network_netns(network_id))
        shutil.rmtree(state, ignore_errors=True)
        removed.append(network_id)
    return removed
