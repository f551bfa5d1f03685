"""Subnets (IPv4 and IPv6, pools, gateway, DNS, host routes) and subnet pools."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.network import ipam
from pocketstack.network.common import (Kind, as_bool, bad_request, check_keys, check_string,
                                        conflict, invalid_input, not_found, standard)
from pocketstack.network.models import (IPAllocation, Network, Port, RBACPolicy, Subnet,
                                        SubnetPool)
from pocketstack.network.networks import AUTO_DELETE_OWNERS

_CREATE = {"name", "description", "network_id", "ip_version", "cidr", "gateway_ip",
           "allocation_pools", "enable_dhcp", "dns_nameservers", "host_routes",
           "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "prefixlen",
           "use_default_subnetpool", "project_id", "tenant_id", "service_types", "segment_id",
           "tags", "dns_publish_fixed_ip"}
_UPDATE = {"name", "description", "gateway_ip", "allocation_pools", "enable_dhcp",
           "dns_nameservers", "host_routes", "service_types", "dns_publish_fixed_ip",
           "segment_id"}
_IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")


def _dns(values: Any, version: int) -> list[str]:
    if not isinstance(values, list):
        raise invalid_input("dns_nameservers must be a list")
    out = []
    for v in values:
        out.append(str(ipam.parse_ip(v)))
    if len(set(out)) != len(out):
        raise invalid_input(f"Duplicate nameserver in {values}")
    if len(out) > 5:
        raise bad_request("Number of DNS nameservers exceeds the limit 5.",
                          "DNSNameServersExhausted")
    return out


def _routes(values: Any) -> list[dict[str, str]]:
    if not isinstance(values, list):
        raise invalid_input("host_routes must be a list")
    out = []
    for r in values:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise invalid_input(f"Invalid host route {r}: needs destination and nexthop")
        out.append({"destination": str(ipam.parse_cidr(r["destination"], strict=False)),
                    "nexthop": str(ipam.parse_ip(r["nexthop"]))})
    if len({(r["destination"], r["nexthop"]) for r in out}) != len(out):
        raise invalid_input(f"Duplicate hostroute in {values}")
    return out


class Subnets(Kind):
    model = Subnet
    member = "subnet"
    collection = "subnets"

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        if ctx.is_admin or row.project_id == ctx.project_id:
            return True
        network = s.get(Network, row.network_id)
        return network is not None and self.net.networks.visible(s, network, ctx)

    def view(self, s: Session, row: Subnet, ctx: RequestContext) -> dict[str, Any]:
        a = row.attrs
        out = standard(row)
        out.update({
            "network_id": row.network_id, "ip_version": row.ip_version, "cidr": row.cidr,
            "gateway_ip": a.get("gateway_ip"), "allocation_pools": a.get("allocation_pools", []),
            "enable_dhcp": a.get("enable_dhcp", True),
            "dns_nameservers": a.get("dns_nameservers", []),
            "host_routes": a.get("host_routes", []),
            "ipv6_ra_mode": a.get("ipv6_ra_mode"), "ipv6_address_mode": a.get(
                "ipv6_address_mode"), "subnetpool_id": row.subnetpool_id,
            "service_types": a.get("service_types", []), "segment_id": None,
            "dns_publish_fixed_ip": a.get("dns_publish_fixed_ip", False),
        })
        network = s.get(Network, row.network_id)
        out["router:external"] = network is not None and self.net.networks.is_external(
            s, network)
        return out

    # -- create ----------------------------------------------------------------
    def _cidr_from_pool(self, s: Session, ctx: RequestContext, body: dict[str, Any],
                        version: int | None) -> tuple[str, SubnetPool]:
        pool_id = body.get("subnetpool_id")
        if pool_id:
            pool = s.get(SubnetPool, pool_id)
            if pool is None or not self.net.subnetpools.visible(s, pool, ctx):
                raise not_found("subnetpool", pool_id)
        else:
            pools = [p for p in s.scalars(select(SubnetPool)) if p.attrs.get("is_default")
                     and p.attrs.get("ip_version") == (version or 4)]
            if not pools:
                raise bad_request("No default subnetpool found for IPv"
                                  f"{version or 4}", "BadRequest")
            pool = pools[0]
        pa = pool.attrs
        if version and version != pa["ip_version"]:
            raise bad_request(f"Cannot allocate IPv{version} subnet from IPv"
                              f"{pa['ip_version']} subnet pool", "BadRequest")
        taken = list(s.scalars(select(Subnet.cidr).where(Subnet.subnetpool_id == pool.id)))
        if body.get("cidr"):
            cidr = ipam.parse_cidr(body["cidr"])
            if not any(cidr.subnet_of(ipaddress.ip_network(p)) for p in pa["prefixes"]
                       if ipaddress.ip_network(p).version == cidr.version):
                raise bad_request(f"Cidr {cidr} is not within the subnet pool prefixes.",
                                  "SubnetAllocationError")
            if any(cidr.overlaps(ipaddress.ip_network(t)) for t in taken):
                raise conflict(f"Requested subnet {cidr} overlaps with an allocated prefix.",
                               "SubnetAllocationError")
            return str(cidr), pool
        prefixlen = body.get("prefixlen", pa["default_prefixlen"])
        try:
            prefixlen = int(prefixlen)
        except (TypeError, ValueError):
            raise invalid_input(f"'{prefixlen}' is not an integer") from None
        if not pa["min_prefixlen"] <= prefixlen <= pa["max_prefixlen"]:
            raise bad_request(f"Illegal prefix bounds: prefixlen={prefixlen}, "
                              f"min_prefixlen={pa['min_prefixlen']}, "
                              f"max_prefixlen={pa['max_prefixlen']}.", "IllegalSubnetPrefix")
        return ipam.prefix_from_pool(pa["prefixes"], taken, prefixlen), pool

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "subnet", _CREATE)
        if not body.get("network_id"):
            raise bad_request("Failed to parse request. Required attribute 'network_id' not "
                              "specified", "HTTPBadRequest")
        project = self.owner(ctx, body)
        check_string(body, "name")
        check_string(body, "description", 1024)
        version = body.get("ip_version")
        if version is not None and version not in (4, 6, "4", "6"):
            raise invalid_input(f"{version} is not in [4, 6]")
        version = int(version) if version is not None else None
        use_pool = body.get("subnetpool_id") or body.get("use_default_subnetpool")
        with self.db.write() as s:
            network = s.get(Network, body["network_id"])
            if network is None or not self.net.networks.visible(s, network, ctx):
                raise not_found("network", body["network_id"])
            if not (ctx.is_admin or network.project_id == ctx.project_id):
                raise errors.Forbidden("(rule:create_subnet) is disallowed by policy",
                                       error_type="PolicyNotAuthorized")
            self.net.quotas.check(s, project, "subnet")
            pool = None
            if use_pool:
                cidr_text, pool = self._cidr_from_pool(s, ctx, body, version)
            elif not body.get("cidr"):
                raise bad_request("Bad subnets request: a cidr must be specified in the "
                                  "absence of a subnet pool.", "BadRequest")
            else:
                cidr_text = body["cidr"]
            net = ipam.parse_cidr(cidr_text)
            if version is None:
                version = net.version
            if net.version != version:
                raise invalid_input(f"Cidr {net} does not match the IP version {version}")
            if version == 4 and net.num_addresses < 2:
                raise invalid_input(f"Invalid CIDR {net} for IPv4 subnet")
            for other in s.scalars(select(Subnet).where(Subnet.network_id == network.id)):
                if ipaddress.ip_network(other.cidr).overlaps(net):
                    raise bad_request(
                        f"Invalid input for operation: Requested subnet with cidr: {net} for "
                        f"network: {network.id} overlaps with another subnet.", "InvalidInput")
            attrs = self._attrs(body, net, version)
            row = self.new_row(project, body, network_id=network.id, cidr=str(net),
                               ip_version=version, subnetpool_id=pool.id if pool else None)
            row.attrs = attrs
            if body.get("tags"):
                row.tags = list(dict.fromkeys(body["tags"]))
            s.add(row)
            self.touch(network)  # the network's ``subnets`` changed
            s.flush()
            if self._auto_address(row):
                # as Neutron: existing ports get their SLAAC address (routers excepted)
                for port in s.scalars(select(Port).where(Port.network_id == network.id)):
                    if not port.device_owner.startswith("network:router"):
                        ipam.allocate(s, row, port.id, port.mac_address, position=100)
            return self.view(s, row, ctx)

    @staticmethod
    def _auto_address(row: Subnet) -> bool:
        return row.ip_version == 6 and row.attrs.get("ipv6_address_mode") in (
            "slaac", "dhcpv6-stateless")

    def _attrs(self, body: dict[str, Any], net: ipam.IPNetwork, version: int
               ) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if "gateway_ip" in body and body["gateway_ip"] is None:
            gateway = None
        elif body.get("gateway_ip"):
            g = ipam.parse_ip(body["gateway_ip"])
            if g.version != version or g not in net or g in (net.network_address,) or (
                    version == 4 and g == net.broadcast_address and net.prefixlen < 31):
                raise bad_request("Invalid input for operation: Gateway is not valid on "
                                  "subnet.", "InvalidInput")
            gateway = str(g)
        else:
            gateway = str(net.network_address + 1) if net.num_addresses > 2 or version == 6 \
                else None
        attrs["gateway_ip"] = gateway
        if body.get("allocation_pools"):
            attrs["allocation_pools"] = ipam.check_pools(net, body["allocation_pools"], gateway)
        else:
            attrs["allocation_pools"] = ipam.default_pools(net, gateway)
        attrs["enable_dhcp"] = as_bool(body.get("enable_dhcp", True), "enable_dhcp")
        attrs["dns_nameservers"] = _dns(body.get("dns_nameservers") or [], version)
        attrs["host_routes"] = _routes(body.get("host_routes") or [])
        for key in ("ipv6_ra_mode", "ipv6_address_mode"):
            value = body.get(key)
            if value is not None:
                if version != 6:
                    raise invalid_input(f"{key} is not valid when ip_version is 4")
                if value not in _IPV6_MODES:
                    raise invalid_input(f"'{value}' is not in {list(_IPV6_MODES)}")
            attrs[key] = value
        if attrs["ipv6_ra_mode"] and attrs["ipv6_address_mode"] and \
                attrs["ipv6_ra_mode"] != attrs["ipv6_address_mode"]:
            raise invalid_input("ipv6_ra_mode set to '%s' with ipv6_address_mode set to '%s' "
                                "is not valid" % (attrs["ipv6_ra_mode"],
                                                  attrs["ipv6_address_mode"]))
        if attrs["ipv6_address_mode"] in ("slaac", "dhcpv6-stateless") and net.prefixlen != 64:
            raise invalid_input(f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the "
                                "EUI-64 address format, which requires the prefix to be /64")
        attrs["service_types"] = body.get("service_types") or []
        attrs["dns_publish_fixed_ip"] = bool(body.get("dns_publish_fixed_ip", False))
        return attrs

    # -- update / delete ------------------------------------------------------
    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "subnet", _UPDATE, readonly=("id", "cidr", "ip_version",
                                                       "network_id", "project_id",
                                                       "tenant_id", "subnetpool_id",
                                                       "ipv6_ra_mode", "ipv6_address_mode"))
        check_string(body, "name")
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            self.check_revision(row, if_match)
            net = ipaddress.ip_network(row.cidr)
            attrs = dict(row.attrs)
            merged = {"gateway_ip": attrs.get("gateway_ip"), **body}
            if "allocation_pools" not in body:
                merged["allocation_pools"] = attrs["allocation_pools"] if "gateway_ip" not in \
                    body else None
            new = self._attrs({**{k: attrs.get(k) for k in (
                "enable_dhcp", "dns_nameservers", "host_routes", "ipv6_ra_mode",
                "ipv6_address_mode", "service_types", "dns_publish_fixed_ip")}, **merged},
                net, row.ip_version)
            if "gateway_ip" in body and "allocation_pools" not in body:
                # keep the pools unless the new gateway falls inside them
                if new["gateway_ip"] and ipam.in_pools(new["gateway_ip"],
                                                       attrs["allocation_pools"]):
                    raise conflict(f"Gateway ip {new['gateway_ip']} conflicts with "
                                   "allocation pool", "GatewayConflictWithAllocationPools")
                new["allocation_pools"] = attrs["allocation_pools"]
            row.attrs = new
            if "name" in body:
                row.name = body["name"] or ""
            if "description" in body:
                row.description = body["description"] or ""
            self.touch(row)
            return self.view(s, row, ctx)

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            allocs = list(s.scalars(select(IPAllocation).where(IPAllocation.subnet_id == id_)))
            auto = self._auto_address(row)
            for alloc in allocs:
                port = s.get(Port, alloc.port_id)
                if port is None or (auto and not port.device_owner.startswith("network:router")):
                    continue
                if port.device_owner not in AUTO_DELETE_OWNERS:
                    raise conflict(f"Unable to complete operation on subnet {id_}: One or "
                                   "more ports have an IP allocation from this subnet.",
                                   "SubnetInUse")
            for alloc in allocs:
                s.delete(alloc)
            s.flush()
            network = s.get(Network, row.network_id)
            if network is not None:
                self.touch(network)
            s.delete(row)


class SubnetPools(Kind):
    model = SubnetPool
    member = "subnetpool"
    collection = "subnetpools"

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        from pocketstack.network.networks import rbac_targets

        return ctx.is_admin or row.project_id == ctx.project_id or \
            bool(row.attrs.get("shared")) or \
            bool(rbac_targets(s, row.id, "access_as_shared") & {"*", ctx.project_id})

    def view(self, s: Session, row: SubnetPool, ctx: RequestContext) -> dict[str, Any]:
        out = standard(row)
        a = row.attrs
        out.update({k: a.get(k) for k in ("prefixes", "default_prefixlen", "min_prefixlen",
                                          "max_prefixlen", "ip_version", "shared",
                                          "is_default", "default_quota")})
        out["address_scope_id"] = None
        return out

    def _apply(self, ctx: RequestContext, row: SubnetPool, body: dict[str, Any]) -> None:
        a = dict(row.attrs)
        if "prefixes" in body:
            if not isinstance(body["prefixes"], list) or not body["prefixes"]:
                raise invalid_input("prefixes must be a non-empty list")
            nets = [ipam.parse_cidr(p, strict=False) for p in body["prefixes"]]
            if len({n.version for n in nets}) != 1:
                raise invalid_input("Cannot mix IPv4 and IPv6 prefixes in a subnet pool")
            if a.get("prefixes") and not all(any(ipaddress.ip_network(o).subnet_of(n)
                                                 for n in nets) for o in a["prefixes"]):
                raise bad_request("Existing prefixes must be a subset of the new prefixes",
                                  "IllegalSubnetPoolPrefixUpdate")
            a["prefixes"] = [str(n) for n in ipaddress.collapse_addresses(nets)]
            a["ip_version"] = nets[0].version
        top = 32 if a["ip_version"] == 4 else 128
        for key, default in (("min_prefixlen", 8 if a["ip_version"] == 4 else 64),
                             ("max_prefixlen", top)):
            if body.get(key) is not None:
                try:
                    a[key] = int(body[key])
                except (TypeError, ValueError):
                    raise invalid_input(f"'{body[key]}' is not an integer") from None
            a.setdefault(key, default)
        if body.get("default_prefixlen") is not None:
            a["default_prefixlen"] = int(body["default_prefixlen"])
        a.setdefault("default_prefixlen", a["min_prefixlen"])
        if not (0 <= a["min_prefixlen"] <= a["default_prefixlen"] <= a["max_prefixlen"] <= top):
            raise bad_request("Illegal prefix bounds: default_prefixlen="
                              f"{a['default_prefixlen']}, min_prefixlen={a['min_prefixlen']}, "
                              f"max_prefixlen={a['max_prefixlen']}.", "IllegalSubnetPrefix")
        for key in ("shared", "is_default"):
            if key in body:
                value = as_bool(body[key], key)
                if value and not ctx.is_admin:
                    raise errors.Forbidden(f"(rule:create_subnetpool:{key}) is disallowed by "
                                           "policy", error_type="PolicyNotAuthorized")
                a[key] = value
        a.setdefault("shared", False)
        a.setdefault("is_default", False)
        if "default_quota" in body:
            a["default_quota"] = body["default_quota"]
        a.setdefault("default_quota", None)
        row.attrs = a
        for key in ("name", "description"):
            if key in body:
                setattr(row, key, body[key] or "")

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "subnetpool", {"name", "description", "prefixes", "default_prefixlen",
                                        "min_prefixlen", "max_prefixlen", "shared",
                                        "is_default", "default_quota", "address_scope_id",
                                        "project_id", "tenant_id", "tags"})
        if not body.get("prefixes"):
            raise bad_request("Failed to parse request. Required attribute 'prefixes' not "
                              "specified", "HTTPBadRequest")
        if not body.get("name"):
            raise bad_request("Failed to parse request. Required attribute 'name' not "
                              "specified", "HTTPBadRequest")
        project = self.owner(ctx, body)
        with self.db.write() as s:
            row = self.new_row(project, body)
            self._apply(ctx, row, body)
            s.add(row)
            s.flush()
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "subnetpool", {"name", "description", "prefixes", "default_prefixlen",
                                        "min_prefixlen", "max_prefixlen", "is_default",
                                        "default_quota", "address_scope_id"},
                   readonly=("id", "ip_version", "project_id", "tenant_id", "shared"))
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            self.check_revision(row, if_match)
            self._apply(ctx, row, body)
            self.touch(row)
            return self.view(s, row, ctx)

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            if s.scalar(select(Subnet.id).where(Subnet.subnetpool_id == id_)):
                raise conflict(f"Unable to delete subnet pool {id_}: subnets are allocated "
                               "from it.", "SubnetPoolInUse")
            for pol in s.scalars(select(RBACPolicy).where(RBACPolicy.object_id == id_)):
                s.delete(pol)
            s.delete(row)
