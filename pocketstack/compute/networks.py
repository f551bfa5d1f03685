"""A server's networks: the seam between compute and the Network service.

At the API (``resolve_networks``) the requested ``networks`` are checked as Nova does
(networks visible to the project, ports that exist and are free, security groups
that exist) and recorded on the instance as
``{"requested": [{"network_id", "port_id", "fixed_ip", "tag"}], "security_groups": [...]}``
or ``"none"``. ``"auto"`` (and no ``networks`` before 2.37) picks the project's own
network, else the only shared one; with neither, ``"auto"`` gets the project's
auto-allocated topology from the Network service; none at all gives a server without
addresses.

At build time (:class:`ServerNetworks`, called by the build task once a host is
chosen) the ports are created (or the given ones bound) through the Network
service's in-process API with ``device_owner=compute:nova`` and
``binding:host_id=<host>``; a delete frees them. ``addresses`` renders Nova's view.

Without a Network service only ``"none"`` and ``"auto"`` are accepted.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)


def _net(cloud: "Cloud") -> Any:
    service = cloud.service("network")
    return getattr(service, "net", None) if service is not None else None


def _query(**params: str) -> Any:
    from starlette.datastructures import QueryParams

    from pocketstack.network.common import Query

    return Query(QueryParams(params))


def resolve_networks(cloud: "Cloud", ctx: RequestContext, networks: Any,
                     security_groups: Any = None, count: Any = 1) -> Any:
    """Validate the requested networks; return what the instance records."""
    if networks == "none":
        return "none"
    net = _net(cloud)
    if net is None:
        if networks in (None, "auto"):
            if networks == "auto":
                LOG.warning("networks=auto requested but there is no Network service: the "
                            "server gets no addresses")
            return "auto"
        first = networks[0] if networks else {}
        what = first.get("uuid") or first.get("port") or first.get("fixed_ip") or "?"
        raise errors.BadRequest(f"Network {what} could not be found: there is no Network "
                                "service in this cloud; use networks 'none' or 'auto'.")
    groups = _security_groups(net, ctx, security_groups)
    requested: list[dict[str, Any]] = []
    if networks in (None, "auto"):
        chosen = _auto_network(net, ctx, allocate=networks == "auto")
        if chosen is not None:
            requested.append({"network_id": chosen})
    else:
        for item in networks:
            requested.append(_one(net, ctx, item))
        ports = [r["port_id"] for r in requested if r.get("port_id")]
        if len(ports) != len(set(ports)):
            raise errors.BadRequest("Port ID is used more than once in the request.")
        if ports and int(count or 1) > 1:
            raise errors.BadRequest("Unable to launch multiple instances with a single "
                                    "configured port ID. Please launch your instance one by "
                                    "one with different ports.")
    return {"requested": requested, "security_groups": groups}


def _one(net: Any, ctx: RequestContext, item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.get("tag"):
        out["tag"] = item["tag"]
    port_id = item.get("port")
    if port_id:
        try:
            port = net.ports.get(ctx, port_id)
        except errors.NotFound:
            raise errors.BadRequest(f"Port id {port_id} could not be found.") from None
        if port.get("device_id"):
            raise errors.Conflict(f"Port {port_id} is still in use.")
        out.update(port_id=port_id, network_id=port["network_id"])
        return out
    network_id = item.get("uuid")
    if not network_id:
        raise errors.BadRequest("Bad networks format: network uuid is not in proper format "
                                "()")
    try:
        net.networks.get(ctx, network_id)
    except errors.NotFound:
        raise errors.BadRequest(f"Network {network_id} could not be found.") from None
    out["network_id"] = network_id
    if item.get("fixed_ip"):
        try:
            ipaddress.ip_address(item["fixed_ip"])
        except ValueError:
            raise errors.BadRequest(f"Invalid fixed IP address ({item['fixed_ip']})"
                                    ) from None
        out["fixed_ip"] = item["fixed_ip"]
    return out


def _auto_network(net: Any, ctx: RequestContext, allocate: bool = False) -> str | None:
    """The project's own network, else the only shared one; with ``allocate`` (``"auto"``)
    and neither, the project's auto-allocated topology, as Nova asks Neutron for it."""
    items = net.networks_for_project(ctx.project_id)
    own = [n for n in items if n.get("project_id") == ctx.project_id]
    candidates = own or [n for n in items if n.get("shared")]
    if len(candidates) > 1:
        raise errors.Conflict("Multiple possible networks found, use a Network ID to be more "
                              "specific.")
    if not candidates and allocate and ctx.project_id:
        try:
            return str(net.auto_topology.get(ctx.project_id)["id"])
        except errors.Conflict as exc:  # no default external network or subnet pool
            LOG.info("cannot auto-allocate a network for project %s: %s", ctx.project_id,
                     exc.message)
    if not candidates:
        LOG.info("no network available to project %s: the server gets no addresses",
                 ctx.project_id)
        return None
    return candidates[0]["id"]


def _security_groups(net: Any, ctx: RequestContext, groups: Any) -> list[str]:
    names = [g["name"] for g in groups or [] if isinstance(g, dict) and g.get("name")]
    if not names:
        return []
    visible = net.secgroups.list(ctx, _query())[0]
    for name in names:
        if name == "default":
            continue
        matches = [g for g in visible if g["id"] == name or (
            g["name"] == name and g.get("project_id") == ctx.project_id)]
        if not matches:
            raise errors.BadRequest(f"Security group {name} not found for project "
                                    f"{ctx.project_id}.")
        if len(matches) > 1 and not any(g["id"] == name for g in matches):
            raise errors.Conflict(f"Multiple security groups found matching '{name}'. Use an "
                                  "ID to be more specific.")
    return list(dict.fromkeys(names))


class ServerNetworks:
    """Build/delete-time port work for the compute tasks (no HTTP)."""

    def __init__(self, cloud: "Cloud") -> None:
        self.cloud = cloud

    def allocate(self, inst: Any, host: str) -> None:
        """Create or bind the instance's ports on ``host``; idempotent (reschedules)."""
        net = _net(self.cloud)
        recorded = inst.networks
        if net is None or not isinstance(recorded, dict):
            return
        if net.ports_for_device(inst.uuid):  # a reschedule: move the bindings
            self.rebind(inst.uuid, host)
            return
        groups = recorded.get("security_groups") or None
        try:
            for req in recorded.get("requested") or []:
                net.allocate_port(inst.project_id, req.get("network_id", ""), inst.uuid,
                                  host=host, fixed_ip=req.get("fixed_ip"),
                                  security_groups=groups, port_id=req.get("port_id"))
        except errors.ApiError as exc:
            self.deallocate(inst.uuid)
            from pocketstack.compute.drivers.base import BuildFailed

            raise BuildFailed(f"Failed to allocate the network(s): {exc.message}") from None

    def rebind(self, uuid: str, host: str | None) -> None:
        """Move the instance's port bindings to ``host`` (resize, revert)."""
        net = _net(self.cloud)
        if net is not None and host:
            for port in net.ports_for_device(uuid):
                net.bind_port(port["id"], host)

    def deallocate(self, uuid: str) -> None:
        net = _net(self.cloud)
        if net is None:
            return
        with self.cloud.db.raw_read() as tx:  # most servers have none: one cheap query
            if tx.one("SELECT 1 FROM network_port WHERE device_id = :uuid AND device_owner "
                      "LIKE 'compute:%' LIMIT 1", {"uuid": uuid}) is None:
                return
        net.delete_ports_for_device(uuid)


def prefetch_ports(cloud: "Cloud", uuids: list[str]) -> dict[str, list[dict[str, Any]]] | None:
    """The ports of many servers in one query (for ``ports=`` below), or None without a
    Network service: a list renders every server without a query per server."""
    net = _net(cloud)
    return None if net is None else net.ports_for_devices(list(uuids))


def _ports(net: Any, instance: Any, ports: dict[str, list[dict[str, Any]]] | None
           ) -> list[dict[str, Any]]:
    if ports is not None and instance.uuid in ports:
        return ports[instance.uuid]
    return net.ports_for_device(instance.uuid)


def addresses(cloud: "Cloud", instance: Any,
              ports: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Nova's ``addresses``: {network name: [{addr, version, type, mac}]}."""
    net = _net(cloud)
    if net is None:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    names: dict[str, str] = {}
    for port in _ports(net, instance, ports):
        nid = port["network_id"]
        if nid not in names:
            try:
                names[nid] = net.network_info(nid).get("name") or nid
            except errors.NotFound:
                names[nid] = nid
        entries = out.setdefault(names[nid], [])
        mac = port["mac_address"]
        for fixed in port["fixed_ips"]:
            addr = fixed["ip_address"]
            entries.append({"version": ipaddress.ip_address(addr).version, "addr": addr,
                            "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac})
        for fip in net.floating_ips_for_port(port["id"]):
            addr = fip["floating_ip_address"]
            entries.append({"version": ipaddress.ip_address(addr).version, "addr": addr,
                            "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": mac})
    return out


def security_groups(cloud: "Cloud", instance: Any,
                    ports: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, str]]:
    """The names of the security groups on the instance's ports (Nova's server view)."""
    net = _net(cloud)
    if net is None:
        return []
    ids: list[str] = []
    for port in _ports(net, instance, ports):
        ids += [g for g in port.get("security_groups") or [] if g not in ids]
    out = []
    admin = RequestContext.admin()
    for sg_id in ids:
        try:
            out.append({"name": net.secgroups.get(admin, sg_id)["name"]})
        except errors.NotFound:
            continue
    return out


def filter_by_ip(cloud: "Cloud", rows: list[Any], ip: str | None, ip6: str | None
                 ) -> list[Any]:
    """Nova's ``ip``/``ip6`` list filters: regular expressions over the fixed addresses."""
    import re

    tests = []
    for pattern, version in ((ip, 4), (ip6, 6)):
        if pattern:
            try:
                tests.append((re.compile(pattern), version))
            except re.error:
                return []
    kept = []
    ports = prefetch_ports(cloud, [r.uuid for r in rows])
    for row in rows:
        addrs = [a for entries in addresses(cloud, row, ports).values() for a in entries]
        if all(any(rx.search(a["addr"]) for a in addrs if a["version"] == v)
               for rx, v in tests):
            kept.append(row)
    return kept
