"""The networking domain layer, assembled, and the in-process API other services use.

In-process API (``cloud.service("network").net``, a :class:`Networking`), used by
compute without HTTP:

``allocate_port(project_id, network_id, device_id, *, host="", fixed_ip=None,
security_groups=None, port_id=None, device_owner="compute:nova") -> dict``
    Create a port on ``network_id`` for instance ``device_id`` (or, with
    ``port_id``, bind an existing unbound port to it); returns the port dict
    (``id``, ``mac_address``, ``fixed_ips`` [{subnet_id, ip_address}], ...).
    Raises the API errors (NetworkNotFound, IpAddressGenerationFailure, OverQuota...).

``ports_for_device(device_id) -> list[dict]``
    The ports of an instance with their fixed IPs (ordered by creation).

``ports_for_devices(device_ids) -> dict[str, list[dict]]``
    The same for many instances in one query (a server list), keyed by device id.

``delete_ports_for_device(device_id) -> int``
    Delete the ports created for an instance; ports the user created and passed
    in with ``port_id`` are unbound (device_id cleared) instead. Returns the count.

``network_info(network_id) -> dict`` / ``subnet_info(subnet_id) -> dict``
    The network (name, mtu, subnets...) and subnet (cidr, gateway_ip,
    dns_nameservers, host_routes...) dicts, for building instance network info.

``networks_for_project(project_id) -> list[dict]``
    The networks a project may attach instances to (its own and shared ones, not
    external), e.g. to pick the network when a server is created without ``--nic``.

``floating_ips_for_port(port_id) -> list[dict]``
    Floating IPs associated with a port (for a server's ``addresses``).

``bind_port(port_id, host) -> dict``
    Set ``binding:host_id`` (e.g. after a migration).

``security_groups`` given to ``allocate_port`` may be names (looked up in the
project, as Nova passes them) or ids; by default the project's ``default`` group.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pocketstack.api.context import RequestContext
from pocketstack.config import Opt, register
from pocketstack.db import Database
from pocketstack.network.agents import Agents
from pocketstack.network.autotopology import AutoTopology
from pocketstack.network.common import not_found
from pocketstack.network.floatingips import FloatingIPs
from pocketstack.network.models import FloatingIP, Network, Port, SecurityGroup
from pocketstack.network.networks import Networks, RBACPolicies
from pocketstack.network.notifier import port_events
from pocketstack.network.ports import Ports
from pocketstack.network.quotas import Quotas
from pocketstack.network.routers import Routers
from pocketstack.network.secgroups import SecurityGroupRules, SecurityGroups
from pocketstack.network.subnets import SubnetPools, Subnets

register(Opt("DEFAULT", "global_physnet_mtu", int, 1500,
             "MTU of new networks (Neutron's global_physnet_mtu)."),
         Opt("network", "create_default_topology", bool, True,
             "Create DevStack's public/private networks and router1 on first start."))

_ADMIN = RequestContext.admin()


class Networking:
    def __init__(self, conf: Any, db: Database) -> None:
        self.conf = conf
        self.db = db
        self.mtu = conf.get("DEFAULT", "global_physnet_mtu")
        self.quotas = Quotas(conf, db)
        self.agents = Agents(conf, db)
        self.networks = Networks(self)
        self.rbac = RBACPolicies(self)
        self.subnets = Subnets(self)
        self.subnetpools = SubnetPools(self)
        self.ports = Ports(self)
        self.routers = Routers(self)
        self.floatingips = FloatingIPs(self)
        self.secgroups = SecurityGroups(self)
        self.sgrules = SecurityGroupRules(self)
        self.auto_topology = AutoTopology(self)
        self.notifier: Any = None  # a NovaNotifier once the service starts
        self.kinds = {k.collection: k for k in (
            self.networks, self.rbac, self.subnets, self.subnetpools, self.ports,
            self.routers, self.floatingips, self.secgroups, self.sgrules)}

    def next_segment(self, s: Any) -> int:
        return (s.scalar(select(func.count()).select_from(Network)) or 0) + 1000

    # -- Nova notifications -------------------------------------------------------
    def notify(self, s: Any, before: dict[str, Any] | None,
               after: dict[str, Any] | None) -> None:
        """Tell Nova (after commit) what a port's change means for its server."""
        if self.notifier is not None:
            self.notifier.add(s, port_events(before, after))

    def address_changed(self, s: Any, port_id: str | None) -> None:
        """``network-changed`` for the server of a port (e.g. a floating IP moved)."""
        port = s.get(Port, port_id) if port_id and self.notifier is not None else None
        if port is not None and port.device_id and port.device_owner.startswith("compute:"):
            self.notifier.add(s, [{"name": "network-changed", "server_uuid": port.device_id,
                                   "tag": port.id, "status": "completed"}])

    # -- in-process API for compute ---------------------------------------------
    def allocate_port(self, project_id: str, network_id: str, device_id: str, *,
                      host: str = "", fixed_ip: str | None = None,
                      security_groups: list[str] | None = None, port_id: str | None = None,
                      device_owner: str = "compute:nova") -> dict[str, Any]:
        ctx = RequestContext(user_id="nova", project_id=project_id,
                             roles=["admin", "member", "reader"])
        with self.db.write() as s:
            if port_id:
                port = s.get(Port, port_id)
                if port is None:
                    raise not_found("port", port_id)
                before = self.ports.view(s, port, None)
                if port.device_id and port.device_id != device_id:
                    from pocketstack.network.common import conflict

                    raise conflict(f"Port {port_id} is still in use.", "PortInUse")
                port.device_id, port.device_owner = device_id, device_owner
                port.attrs = {**port.attrs, "binding:host_id": host, "user_port": True}
                self.ports.touch(port)
                s.flush()
                self.notify(s, before, self.ports.view(s, port, None))
            else:
                body: dict[str, Any] = {"network_id": network_id, "device_id": device_id,
                                        "device_owner": device_owner,
                                        "binding:host_id": host}
                if fixed_ip:
                    body["fixed_ips"] = [{"ip_address": fixed_ip}]
                if security_groups is not None:
                    body["security_groups"] = [self._group_id(s, project_id, g)
                                               for g in security_groups]
                port = self.ports.create_in(s, ctx, body, project_id)
            s.flush()
            return self.ports.view(s, port, None)

    def _group_id(self, s: Any, project_id: str, name_or_id: str) -> str:
        if s.get(SecurityGroup, name_or_id) is not None:
            return name_or_id
        if name_or_id == "default":
            return self.secgroups.ensure_default(s, project_id)
        found = list(s.scalars(select(SecurityGroup.id).where(
            SecurityGroup.project_id == project_id, SecurityGroup.name == name_or_id)))
        if len(found) != 1:
            raise not_found("security_group", name_or_id)
        return found[0]

    def ports_for_device(self, device_id: str) -> list[dict[str, Any]]:
        with self.db.read() as s:
            rows = s.scalars(select(Port).where(Port.device_id == device_id)
                             .order_by(Port.created_at, Port.id))
            return [self.ports.view(s, r, None) for r in rows]

    def ports_for_devices(self, device_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {d: [] for d in device_ids}
        if not device_ids:
            return out
        with self.db.read() as s:
            for i in range(0, len(device_ids), 500):  # bounded IN lists
                rows = s.scalars(select(Port).where(Port.device_id.in_(device_ids[i:i + 500]))
                                 .order_by(Port.created_at, Port.id))
                for r in rows:
                    out[r.device_id].append(self.ports.view(s, r, None))
        return out

    def delete_ports_for_device(self, device_id: str) -> int:
        count = 0
        with self.db.read() as s:  # most servers have none: no write (and no write lock)
            if s.scalar(select(Port.id).where(Port.device_id == device_id,
                                              Port.device_owner.startswith("compute:"))
                        .limit(1)) is None:
                return 0
        with self.db.write() as s:
            for port in list(s.scalars(select(Port).where(Port.device_id == device_id))):
                if not port.device_owner.startswith("compute:"):
                    continue
                if port.attrs.get("user_port"):
                    self.notify(s, self.ports.view(s, port, None), None)
                    port.device_id, port.device_owner = "", ""
                    port.attrs = {k: v for k, v in port.attrs.items()
                                  if k not in ("user_port", "binding:host_id")}
                    self.ports.touch(port)
                else:
                    self.ports.delete_in(s, port)
                count += 1
        return count

    def network_info(self, network_id: str) -> dict[str, Any]:
        return self.networks.get(_ADMIN, network_id)

    def networks_for_project(self, project_id: str) -> list[dict[str, Any]]:
        from pocketstack.network.common import Query

        ctx = RequestContext(user_id="nova", project_id=project_id, roles=["member", "reader"])
        items, _ = self.networks.list(ctx, Query.empty())
        return [n for n in items if not n["router:external"]]

    def subnet_info(self, subnet_id: str) -> dict[str, Any]:
        return self.subnets.get(_ADMIN, subnet_id)

    def floating_ips_for_port(self, port_id: str) -> list[dict[str, Any]]:
        with self.db.read() as s:
            rows = s.scalars(select(FloatingIP).where(FloatingIP.port_id == port_id))
            return [self.floatingips.view(s, r, _ADMIN) for r in rows]

    def bind_port(self, port_id: str, host: str) -> dict[str, Any]:
        with self.db.write() as s:
            port = s.get(Port, port_id)
            if port is None:
                raise not_found("port", port_id)
            before = self.ports.view(s, port, None)
            port.attrs = {**port.attrs, "binding:host_id": host or ""}
            self.ports.touch(port)
            s.flush()
            self.notify(s, before, self.ports.view(s, port, None))
            return self.ports.view(s, port, None)
