"""Routers, SNAT and floating IPs, and the "external" namespace standing in for the outside.

- per router: a namespace ``psrtr-<router id>`` with forwarding on, a ``qg-`` veth on
  the external network's bridge (the gateway port's MAC and address, default route via
  the external subnet's gateway) and a ``qr-`` veth per interface port; nftables NAT
  in it: DNAT/SNAT for each floating IP (its address sits on ``qg-`` as a /32) and
  SNAT of the internal subnets to the gateway address when ``enable_snat``;
- per external network: ``psext-<network id>``, the outside world: a veth on the
  bridge holding each external subnet's gateway address. Reach floating IPs from
  there: ``ip netns exec psext-<public network id> ping <floating ip>``;
- from the host itself only when asked (``[container] external_network_bridge``, e.g.
  ``br-ex``: DevStack's host reaches floating IPs through br-ex): a veth pair, that
  name on the host and ``host0`` in the external namespace (169.254.95.1/30 and .2/30),
  and a host route to each external IPv4 subnet through it; the external namespace
  forwards and masquerades what comes from the host to its gateway address (so
  instances see the host as the subnet's gateway, 172.24.4.1, as on DevStack). Nothing
  else of the host changes; the pair and the routes go with the namespace. One external
  network (and so one cloud on a machine) at a time: a cloud that finds the name taken
  logs it and leaves the host alone.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from pocketstack.config import Opt, register
from pocketstack.dataplane import firewall, ip

if TYPE_CHECKING:
    from pocketstack.dataplane.manager import Dataplane

LOG = logging.getLogger(__name__)
RTR_PREFIX = "psrtr-"
EXT_PREFIX = "psext-"
GW_OWNER = "network:router_gateway"
IFACE_OWNER = "network:router_interface"


register(Opt("container", "external_network_bridge", str, "",
             "Host interface through which the host reaches the external network's subnets "
             "(floating IPs), e.g. br-ex; a veth into the external namespace (empty: the "
             "host is not connected)."))
HOST_ADDR, NS_ADDR = "169.254.95.1", "169.254.95.2"


def router_netns(router_id: str) -> str:
    return RTR_PREFIX + router_id


def external_netns(network_id: str) -> str:
    return EXT_PREFIX + network_id


def router_states(dp: "Dataplane") -> dict[str, dict[str, Any]]:
    """Every router with its ports, floating IPs and SNAT flag, from the database."""
    from sqlalchemy import select

    from pocketstack.network.models import FloatingIP, Port, Router

    net = dp.net
    out: dict[str, dict[str, Any]] = {}
    with net.db.read() as s:
        for router in s.scalars(select(Router)):
            out[router.id] = {"id": router.id, "gw": None, "ifaces": [], "fips": [],
                              "snat": router.attrs.get("enable_snat", True) is not False}
        for port in s.scalars(select(Port).where(Port.device_owner.in_((GW_OWNER,
                                                                        IFACE_OWNER)))):
            state = out.get(port.device_id)
            if state is None:
                continue
            view = {"id": port.id, "network_id": port.network_id, "mac": port.mac_address,
                    "ips": [f["ip_address"] for f in net.ports.fixed_ips(s, port.id)]}
            if port.device_owner == GW_OWNER:
                state["gw"] = view
            else:
                state["ifaces"].append(view)
        for fip in s.scalars(select(FloatingIP).where(FloatingIP.port_id.is_not(None))):
            state = out.get(fip.attrs.get("router_id") or "")
            if state is not None and fip.attrs.get("fixed_ip_address"):
                state["fips"].append((fip.floating_ip_address, fip.attrs["fixed_ip_address"]))
    for state in out.values():
        state["ifaces"].sort(key=lambda p: p["id"])
        state["fips"].sort()
    return out


def _subnet_for(dp: "Dataplane", network_id: str, address: str) -> dict[str, Any] | None:
    info = dp.net.network_info(network_id)
    for sid in info.get("subnets", []):
        subnet = dp.net.subnet_info(sid)
        if ipaddress.ip_address(address) in ipaddress.ip_network(subnet["cidr"]):
            return dict(subnet)
    return None


def _veth(dp: "Dataplane", ns: str, name: str, port: dict[str, Any]) -> None:
    """A veth from the namespace ``ns`` (``name``) to the port's network bridge."""
    info = dp.ensure_network(port["network_id"])
    from pocketstack.dataplane.manager import tap_name

    tap = tap_name(port["id"])
    if not ip.link_exists(name, ns):
        if ip.link_exists(tap, info["netns"]):
            ip.ip("link", "delete", tap, netns=info["netns"], check=False)
        ip.ip("link", "add", tap, "type", "veth", "peer", "name", name, "netns", ns,
              netns=info["netns"])
        ip.ip("link", "set", tap, "master", "br0", "mtu", str(info["mtu"]), "up",
              netns=info["netns"])
        ip.ip("link", "set", name, "address", port["mac"], "mtu", str(info["mtu"]), netns=ns)
    for address in port["ips"]:
        subnet = _subnet_for(dp, port["network_id"], address)
        if subnet is None:
            continue
        prefix = ipaddress.ip_network(subnet["cidr"]).prefixlen
        ip.ip("addr", "replace", f"{address}/{prefix}", "dev", name, netns=ns)
    ip.ip("link", "set", name, "up", netns=ns)


def ensure_external(dp: "Dataplane", network_id: str) -> str:
    ns = external_netns(network_id)
    ip.netns_add(ns)
    info = dp.ensure_network(network_id)
    if not ip.link_exists("ext0", ns):
        ip.ip("link", "add", "tapexternal0", "type", "veth", "peer", "name", "ext0", "netns",
              ns, netns=info["netns"])
        ip.ip("link", "set", "tapexternal0", "master", "br0", "up", netns=info["netns"])
    for sid in dp.net.network_info(network_id).get("subnets", []):
        subnet = dp.net.subnet_info(sid)
        if subnet["ip_version"] == 4 and subnet.get("gateway_ip"):
            prefix = ipaddress.ip_network(subnet["cidr"]).prefixlen
            ip.ip("addr", "replace", f"{subnet['gateway_ip']}/{prefix}", "dev", "ext0",
                  netns=ns)
    ip.ip("link", "set", "ext0", "up", netns=ns)
    connect_host(dp, network_id, ns)
    return ns


def connect_host_at_start(dp: "Dataplane") -> None:
    """With ``external_network_bridge``: the host's routes to the external networks of
    the routers' gateways from the start (not from the first instance on)."""
    if not dp.cloud.conf.get("container", "external_network_bridge"):
        return
    deadline = time.monotonic() + 10  # a first start seeds router1 a moment after this runs
    while True:
        gateways = [st["gw"] for st in router_states(dp).values() if st["gw"] is not None]
        if gateways or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for gw in gateways:
        network_id = gw["network_id"]
        os.makedirs(os.path.join(dp.root, "ext-" + network_id), exist_ok=True)
        ensure_external(dp, network_id)


def delete_external(ns: str) -> None:
    """Remove an external namespace; the host's end of its veth at once (a namespace's
    devices otherwise go a moment after, in the kernel's own time)."""
    if ip.netns_exists(ns):
        ip.ip("link", "delete", "host0", netns=ns, check=False)
    ip.netns_delete(ns)


def connect_host(dp: "Dataplane", network_id: str, ns: str) -> bool:
    """Give the host routes to the external subnets (``external_network_bridge``)."""
    name = dp.cloud.conf.get("container", "external_network_bridge") if dp.cloud else ""
    if not name:
        return False
    if not ip.link_exists("host0", ns):
        if ip.link_exists(name):
            LOG.warning("external_network_bridge %s exists on the host already (another "
                        "cloud's?): the host gets no route to network %s", name, network_id)
            return False
        ip.ip("link", "add", name, "type", "veth", "peer", "name", "host0", "netns", ns)
        ip.ip("addr", "add", f"{HOST_ADDR}/30", "dev", name)
        ip.ip("addr", "add", f"{NS_ADDR}/30", "dev", "host0", netns=ns)
        ip.ip("link", "set", "host0", "up", netns=ns)
        ip.ip("link", "set", name, "up")
        ip.exec_in(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        script = ("table ip ps_host {\n  chain post {\n"
                  "    type nat hook postrouting priority 100;\n"
                  f'    ip saddr {HOST_ADDR} oifname "ext0" masquerade\n  }}\n}}\n')
        firewall.apply(ns, script, sysctl=False)
        LOG.info("host connected to external network %s through %s", network_id, name)
    for sid in dp.net.network_info(network_id).get("subnets", []):
        subnet = dp.net.subnet_info(sid)
        if subnet["ip_version"] == 4:
            ip.ip("route", "replace", subnet["cidr"], "via", NS_ADDR, "dev", name)
    return True


def nat_script(state: dict[str, Any], internal: list[str]) -> str:
    gw = state["gw"]
    qg = "qg-" + gw["id"][:11]
    gw_v4 = [a for a in gw["ips"] if ipaddress.ip_address(a).version == 4]
    pre, post = [], []
    for fip, fixed in state["fips"]:
        pre.append(f"    ip daddr {fip} dnat to {fixed}")
        post.append(f'    ip saddr {fixed} oifname "{qg}" snat to {fip}')
    if state["snat"] and gw_v4 and internal:
        post.append(f'    ip saddr {{ {", ".join(internal)} }} oifname "{qg}" '
                    f"snat to {gw_v4[0]}")
    return "\n".join(["table ip ps_nat", "delete table ip ps_nat", "table ip ps_nat {",
                      "  chain ps_pre {", "    type nat hook prerouting priority -100;",
                      *pre, "  }", "  chain ps_post {",
                      "    type nat hook postrouting priority 100;", *post, "  }", "}"]) + "\n"


def apply_router(dp: "Dataplane", state: dict[str, Any]) -> None:
    ns = router_netns(state["id"])
    ip.netns_add(ns)
    ip.exec_in(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    internal = []
    for port in state["ifaces"]:
        _veth(dp, ns, "qr-" + port["id"][:11], port)
        for address in port["ips"]:
            subnet = _subnet_for(dp, port["network_id"], address)
            if subnet and subnet["ip_version"] == 4:
                internal.append(subnet["cidr"])
    gw = state["gw"]
    if gw is None:
        return
    qg = "qg-" + gw["id"][:11]
    _veth(dp, ns, qg, gw)
    ensure_external(dp, gw["network_id"])
    for address in gw["ips"]:
        subnet = _subnet_for(dp, gw["network_id"], address)
        if subnet and subnet["ip_version"] == 4 and subnet.get("gateway_ip"):
            ip.ip("route", "replace", "default", "via", subnet["gateway_ip"], "dev", qg,
                  netns=ns)
    # floating IPs live on the gateway device as /32s
    wanted = {f"{fip}/32" for fip, _ in state["fips"]}
    current = set()
    shown = json.loads(ip.ip("-j", "addr", "show", "dev", qg, netns=ns).stdout or "[]")
    for link in shown:
        for addr in link.get("addr_info", []):
            if addr.get("family") == "inet" and addr.get("prefixlen") == 32:
                current.add(f"{addr['local']}/32")
    for extra in current - wanted:
        ip.ip("addr", "del", extra, "dev", qg, netns=ns, check=False)
    for missing in wanted - current:
        ip.ip("addr", "add", missing, "dev", qg, netns=ns)
    firewall.apply(ns, nat_script(state, sorted(set(internal))), sysctl=False)
    LOG.info("router %s: %d interface(s), %d floating IP(s)", state["id"],
             len(state["ifaces"]), len(state["fips"]))
