"""Where the metadata comes from: instances (compute's tables) and their ports (network).

Everything here is read-only and batched: :meth:`Source.load` reads any number of
instances with a handful of queries (instances, their ports, fixed IPs, floating IPs
and security group names), and the networks and subnets, shared by many instances,
come from the Network service's in-process API (``cloud.service("network").net``)
through a small cache. :meth:`Source.addresses` maps the fixed IPs of one network
to the instances that own them, which is how a caller is identified.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.compute.models import Instance, KeyPair

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
ROUTER_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                 "network:ha_router_replicated_interface")


_COLUMNS = [Instance.id, Instance.uuid, Instance.display_name, Instance.hostname,
            Instance.project_id, Instance.user_id, Instance.availability_zone, Instance.flavor,
            Instance.image_ref, Instance.key_name, Instance.key_data, Instance.server_metadata,
            Instance.reservation_id, Instance.launch_index, Instance.user_data,
            Instance.root_gb, Instance.ephemeral_gb]


@dataclass
class PortInfo:
    id: str
    network_id: str
    mac_address: str
    fixed_ips: list[dict[str, str]]
    security_groups: list[str]
    floating_ips: list[str] = field(default_factory=list)


@dataclass
class InstanceData:
    """What the documents are built from: one instance, with its ports resolved."""

    id: int
    uuid: str
    name: str
    hostname: str
    project_id: str
    user_id: str
    availability_zone: str
    flavor_name: str
    image_ref: str
    key_name: str | None
    key_data: str | None
    key_type: str
    metadata: dict[str, str]
    reservation_id: str
    launch_index: int
    user_data: str | None  # base64, as the API received it
    root_gb: int
    ephemeral_gb: int
    swap: int
    ports: list[PortInfo]
    networks: dict[str, dict[str, Any]]  # network id -> network_info
    subnets: dict[str, dict[str, Any]]  # subnet id -> subnet_info
    security_groups: list[str]  # names


class _TTLCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Any) -> Any:
        now = time.monotonic()
        hit = self.items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load(key)
        self.items[key] = (now + self.ttl, value)
        return value


class Source:
    def __init__(self, cloud: "Cloud", ttl: float) -> None:
        self.cloud = cloud
        self.db = cloud.db
        self._networks = _TTLCache(max(ttl, 1.0))
        self._subnets = _TTLCache(max(ttl, 1.0))

    @property
    def net(self) -> Any:
        svc = self.cloud.service("network")
        return getattr(svc, "net", None)

    # -- who is calling -----------------------------------------------------------
    def addresses(self, network_id: str) -> dict[str, str]:
        """Fixed IP -> instance uuid, for the instance ports of one network."""
        if self.net is None:
            return {}
        from pocketstack.network.models import IPAllocation, Port

        with self.db.read() as s:
            rows = s.execute(select(IPAllocation.ip_address, Port.device_id, Port.device_owner)
                             .join(Port, Port.id == IPAllocation.port_id)
                             .where(IPAllocation.network_id == network_id))
            return {ip: dev for ip, dev, owner in rows
                    if dev and owner.startswith("compute:")}

    def router_networks(self, router_id: str) -> list[str]:
        """The networks a router has an interface on (Neutron's proxy in a router)."""
        if self.net is None:
            return []
        from pocketstack.network.models import Port

        with self.db.read() as s:
            rows = s.scalars(select(Port.network_id).where(Port.device_id == router_id,
                                                          Port.device_owner.in_(ROUTER_OWNERS)))
            return sorted(set(rows))

    def fingerprint(self) -> tuple[Any, ...]:
        """Counts and last updates of every table the documents come from: while it
        stays the same, no instance's documents can have changed (a cheap revalidation)."""
        from sqlalchemy import func

        models: list[Any] = [Instance]
        if self.net is not None:
            from pocketstack.network.models import (FloatingIP, Network, Port, SecurityGroup,
                                                    Subnet)

            models += [Port, Subnet, Network, FloatingIP, SecurityGroup]
        with self.db.read() as s:
            return tuple(tuple(s.execute(select(func.count(), func.max(m.updated_at))).one())
                         for m in models)

    # -- what the documents say -----------------------------------------------------
    def load(self, uuids: list[str]) -> dict[str, InstanceData | None]:
        """The instances (None for unknown or deleted ones), read in one batch."""
        out: dict[str, InstanceData | None] = {u: None for u in uuids}
        with self.db.read() as s:
            # only the columns the documents use (no faults, hints... to decode)
            insts = list(s.execute(select(*_COLUMNS).where(Instance.uuid.in_(uuids),
                                                           Instance.deleted.is_(False))))
            keys = {(i.user_id, i.key_name) for i in insts if i.key_name}
            key_types: dict[tuple[str, str], str] = {}
            if keys:
                for kp in s.scalars(select(KeyPair).where(
                        KeyPair.user_id.in_({u for u, _ in keys}),
                        KeyPair.name.in_({n for _, n in keys}))):
                    key_types[(kp.user_id, kp.name)] = kp.type
            ports = self._ports(s, [i.uuid for i in insts]) if self.net is not None else {}
        for inst in insts:
            mine = ports.get(inst.uuid, [])
            networks = {p.network_id: self._network(p.network_id) for p in mine}
            subnets = {ip["subnet_id"]: self._subnet(ip["subnet_id"])
                       for p in mine for ip in p.fixed_ips}
            groups: list[str] = []
            for p in mine:
                groups.extend(g for g in p.security_groups if g not in groups)
            fl = inst.flavor or {}
            out[inst.uuid] = InstanceData(
                id=inst.id, uuid=inst.uuid, name=inst.display_name, hostname=inst.hostname,
                project_id=inst.project_id, user_id=inst.user_id,
                availability_zone=inst.availability_zone or "", flavor_name=fl.get("name", ""),
                image_ref=inst.image_ref or "", key_name=inst.key_name, key_data=inst.key_data,
                key_type=key_types.get((inst.user_id, inst.key_name or ""), "ssh"),
                metadata=dict(inst.server_metadata or {}),
                reservation_id=inst.reservation_id or "", launch_index=inst.launch_index or 0,
                user_data=inst.user_data, root_gb=inst.root_gb or 0,
                ephemeral_gb=inst.ephemeral_gb or 0, swap=int(fl.get("swap") or 0),
                ports=mine, networks={k: v for k, v in networks.items() if v},
                subnets={k: v for k, v in subnets.items() if v}, security_groups=groups)
        return out

    def _ports(self, s: Any, uuids: list[str]) -> dict[str, list[PortInfo]]:
        from pocketstack.network.models import FloatingIP, IPAllocation, Port, SecurityGroup

        if not uuids:
            return {}
        rows = list(s.scalars(select(Port).where(Port.device_id.in_(uuids))
                              .order_by(Port.created_at, Port.id)))
        ids = [p.id for p in rows]
        fixed: dict[str, list[dict[str, str]]] = {}
        floating: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        if ids:
            for a in s.scalars(select(IPAllocation).where(IPAllocation.port_id.in_(ids))
                               .order_by(IPAllocation.position)):
                fixed.setdefault(a.port_id, []).append({"subnet_id": a.subnet_id,
                                                        "ip_address": a.ip_address})
            for f in s.scalars(select(FloatingIP).where(FloatingIP.port_id.in_(ids))):
                floating.setdefault(f.port_id or "", []).append(f.floating_ip_address)
            group_ids = {g for p in rows for g in (p.attrs or {}).get("security_groups", [])}
            if group_ids:
                names = dict(s.execute(select(SecurityGroup.id, SecurityGroup.name)
                                       .where(SecurityGroup.id.in_(group_ids))).all())
        out: dict[str, list[PortInfo]] = {}
        for p in rows:
            if not p.device_owner.startswith("compute:"):
                continue
            out.setdefault(p.device_id, []).append(PortInfo(
                id=p.id, network_id=p.network_id, mac_address=p.mac_address,
                fixed_ips=fixed.get(p.id, []),
                security_groups=[names.get(g, g) for g in
                                 (p.attrs or {}).get("security_groups", [])],
                floating_ips=floating.get(p.id, [])))
        return out

    def _network(self, network_id: str) -> dict[str, Any] | None:
        def load(key: str) -> dict[str, Any] | None:
            try:
                return self.net.network_info(key)
            except Exception:  # deleted meanwhile: the port goes with it
                return None
        return self._networks.get(network_id, load)

    def _subnet(self, subnet_id: str) -> dict[str, Any] | None:
        def load(key: str) -> dict[str, Any] | None:
            try:
                return self.net.subnet_info(key)
            except Exception:
                return None
        return self._subnets.get(subnet_id, load)
