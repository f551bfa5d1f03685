"""Ports: MAC addresses, fixed IPs (through :mod:`ipam`), security groups, bindings."""

from __future__ import annotations

import ipaddress
import random
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.network import ipam
from pocketstack.network.common import (Kind, as_bool, bad_request, check_keys, check_string,
                                        conflict, invalid_input, not_found, standard)
from pocketstack.network.models import FloatingIP, IPAllocation, Network, Port, Subnet

_MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
_VNIC = ("normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder",
         "smart-nic", "vdpa", "remote-managed")
_CREATE = {"name", "description", "network_id", "admin_state_up", "mac_address", "fixed_ips",
           "device_id", "device_owner", "security_groups", "allowed_address_pairs",
           "port_security_enabled", "binding:host_id", "binding:vnic_type", "binding:profile",
           "extra_dhcp_opts", "project_id", "tenant_id", "tags", "dns_name", "qos_policy_id",
           "propagate_uplink_status", "numa_affinity_policy"}
_UPDATE = _CREATE - {"network_id", "project_id", "tenant_id"}
SERVICE_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip",
                  "network:router_interface_distributed", "network:ha_router_replicated_interface")


def random_mac() -> str:
    return "fa:16:3e:%02x:%02x:%02x" % tuple(random.randint(0, 255) for _ in range(3))


class Ports(Kind):
    model = Port
    member = "port"
    collection = "ports"

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        if ctx.is_admin or row.project_id == ctx.project_id:
            return True
        network = s.get(Network, row.network_id)
        return network is not None and network.project_id == ctx.project_id

    def fixed_ips(self, s: Session, port_id: str) -> list[dict[str, str]]:
        rows = s.scalars(select(IPAllocation).where(IPAllocation.port_id == port_id)
                         .order_by(IPAllocation.position))
        return [{"subnet_id": r.subnet_id, "ip_address": r.ip_address} for r in rows]

    def view(self, s: Session, row: Port, ctx: RequestContext | None) -> dict[str, Any]:
        a = row.attrs
        out = standard(row)
        host = a.get("binding:host_id", "")
        out.update({
            "network_id": row.network_id, "mac_address": row.mac_address,
            "admin_state_up": a.get("admin_state_up", True),
            "status": "ACTIVE" if row.device_id and (host or row.device_owner.startswith(
                "network:")) else "DOWN",
            "device_id": row.device_id, "device_owner": row.device_owner,
            "fixed_ips": self.fixed_ips(s, row.id),
            "allowed_address_pairs": a.get("allowed_address_pairs", []),
            "extra_dhcp_opts": a.get("extra_dhcp_opts", []),
            "security_groups": a.get("security_groups", []),
            "port_security_enabled": a.get("port_security_enabled", True),
            "ip_allocation": "immediate", "dns_name": a.get("dns_name", ""),
            "dns_assignment": [], "qos_policy_id": a.get("qos_policy_id"),
            "qos_network_policy_id": None,
            "propagate_uplink_status": a.get("propagate_uplink_status", False),
            "numa_affinity_policy": a.get("numa_affinity_policy"),
            "binding:host_id": host, "binding:vnic_type": a.get("binding:vnic_type", "normal"),
            "binding:profile": a.get("binding:profile", {}),
            "binding:vif_type": "ovs" if host else "unbound",
            "binding:vif_details": {"port_filter": True, "connectivity": "l2",
                                    "bridge_name": "br-int"} if host else {},
        })
        if ctx is not None and not ctx.is_admin:
            for key in ("binding:host_id", "binding:profile", "binding:vif_type",
                        "binding:vif_details"):
                out.pop(key)
        return out

    def keep(self, item: dict[str, Any], query: Any) -> bool:
        """``fixed_ips=ip_address=X``, ``subnet_id=Y``, ``ip_address_substr=Z`` filters."""
        for spec in query.filters.get("fixed_ips", []):
            key, _, value = spec.partition("=")
            ips = item["fixed_ips"]
            if key == "ip_address_substr":
                ok = any(value in f["ip_address"] for f in ips)
            elif key in ("ip_address", "subnet_id"):
                ok = any(f[key] == value for f in ips)
            else:
                raise bad_request(f"Invalid fixed_ips filter {spec}", "HTTPBadRequest")
            if not ok:
                return False
        return True

    # -- validation -----------------------------------------------------------
    def _security_groups(self, s: Session, ctx: RequestContext, ids: Any) -> list[str]:
        if not isinstance(ids, list):
            raise invalid_input("security_groups must be a list")
        from pocketstack.network.models import SecurityGroup

        out = []
        for sg_id in ids:
            sg = s.get(SecurityGroup, sg_id)
            if sg is None or not self.net.secgroups.visible(s, sg, ctx):
                raise not_found("security_group", str(sg_id))
            if sg.id not in out:
                out.append(sg.id)
        return out

    @staticmethod
    def _pairs(pairs: Any, mac: str) -> list[dict[str, str]]:
        if not isinstance(pairs, list):
            raise invalid_input("allowed_address_pairs must be a list")
        out = []
        for p in pairs:
            if not isinstance(p, dict) or "ip_address" not in p or set(p) - {
                    "ip_address", "mac_address"}:
                raise bad_request("Allowed address pairs must contain ip_address",
                                  "AllowedAddressPairsMissingIP")
            ip = str(p["ip_address"])
            try:
                ip = str(ipaddress.ip_network(ip, strict=False)) if "/" in ip else \
                    str(ipaddress.ip_address(ip))
            except ValueError:
                raise invalid_input(f"'{ip}' is not a valid IP address") from None
            pmac = p.get("mac_address") or mac
            if not _MAC.match(str(pmac)):
                raise invalid_input(f"'{pmac}' is not a valid MAC address")
            entry = {"ip_address": ip, "mac_address": pmac.lower()}
            if entry in out:
                raise bad_request("Request contains duplicate address pair: "
                                  f"mac_address {pmac} ip_address {ip}.",
                                  "DuplicateAddressPairInRequest")
            out.append(entry)
        return out

    def _apply(self, s: Session, ctx: RequestContext, row: Port, body: dict[str, Any],
               network: Network, creating: bool) -> None:
        a = dict(row.attrs)
        check_string(body, "name")
        check_string(body, "description", 1024)
        for key in ("name", "description"):
            if key in body:
                setattr(row, key, body[key] or "")
        for key in ("device_id", "device_owner"):
            if key in body:
                check_string(body, key)
                setattr(row, key, body[key] or "")
        for key in ("admin_state_up", "port_security_enabled", "propagate_uplink_status"):
            if key in body:
                a[key] = as_bool(body[key], key)
        if "binding:host_id" in body or "binding:profile" in body:
            if not ctx.is_admin and (not creating or body.get("binding:host_id") or
                                     body.get("binding:profile")):
                raise errors.Forbidden("(rule:create_port:binding:host_id) is disallowed by "
                                       "policy", error_type="PolicyNotAuthorized")
        if "binding:host_id" in body:
            a["binding:host_id"] = body["binding:host_id"] or ""
        if "binding:profile" in body:
            if not isinstance(body["binding:profile"], (dict, type(None))):
                raise invalid_input("binding:profile must be a dictionary")
            a["binding:profile"] = body["binding:profile"] or {}
        if "binding:vnic_type" in body:
            if body["binding:vnic_type"] not in _VNIC:
                raise invalid_input(f"'{body['binding:vnic_type']}' is not in {list(_VNIC)}")
            a["binding:vnic_type"] = body["binding:vnic_type"]
        for key in ("dns_name", "qos_policy_id", "numa_affinity_policy"):
            if key in body:
                a[key] = body[key]
        if "extra_dhcp_opts" in body:
            opts = body["extra_dhcp_opts"] or []
            if not isinstance(opts, list) or any(not isinstance(o, dict) or "opt_name" not in o
                                                 for o in opts):
                raise invalid_input("extra_dhcp_opts must be a list of {opt_name, opt_value}")
            a["extra_dhcp_opts"] = [{"opt_name": o["opt_name"], "opt_value": o.get("opt_value"),
                                     "ip_version": o.get("ip_version", 4)} for o in opts]
        secure = a.get("port_security_enabled", network.attrs.get("port_security_enabled",
                                                                  True))
        a["port_security_enabled"] = secure
        if "security_groups" in body:
            groups = self._security_groups(s, ctx, body["security_groups"] or [])
            if groups and not secure:
                raise conflict("Port has security group associated. Cannot disable port "
                               "security or ip address until security group is removed",
                               "PortSecurityAndIPRequiredForSecurityGroups")
            a["security_groups"] = groups
        elif creating:
            if secure and not row.device_owner.startswith("network:"):
                a["security_groups"] = [self.net.secgroups.ensure_default(s, row.project_id)]
            else:
                a["security_groups"] = []
        elif not secure and a.get("security_groups") and "port_security_enabled" in body:
            raise conflict("Port has security group associated. Cannot disable port security "
                           "or ip address until security group is removed",
                           "PortSecurityAndIPRequiredForSecurityGroups")
        if "allowed_address_pairs" in body:
            pairs = self._pairs(body["allowed_address_pairs"] or [], row.mac_address)
            if pairs and not secure:
                raise conflict("Port Security must be enabled in order to have allowed "
                               "address pairs on a port.", "AddressPairAndPortSecurityRequired")
            a["allowed_address_pairs"] = pairs
        elif not secure and a.get("allowed_address_pairs"):
            raise conflict("Port Security must be enabled in order to have allowed address "
                           "pairs on a port.", "AddressPairAndPortSecurityRequired")
        row.attrs = a

    # -- fixed IPs -------------------------------------------------------------
    def _subnets(self, s: Session, network_id: str) -> list[Subnet]:
        return list(s.scalars(select(Subnet).where(Subnet.network_id == network_id)
                              .order_by(Subnet.created_at, Subnet.id)))

    def _allocate(self, s: Session, row: Port, fixed_ips: Any) -> None:
        subnets = self._subnets(s, row.network_id)
        by_id = {sub.id: sub for sub in subnets}
        if fixed_ips is None:
            done_v4 = done_v6 = False
            pos = 0
            for sub in subnets:
                slaac = sub.ip_version == 6 and sub.attrs.get("ipv6_address_mode") in (
                    "slaac", "dhcpv6-stateless")
                if (sub.ip_version == 4 and done_v4) or (sub.ip_version == 6 and done_v6
                                                         and not slaac):
                    continue
                try:
                    ipam.allocate(s, sub, row.id, row.mac_address, position=pos)
                except errors.Conflict as exc:
                    if exc.error_type == "IpAddressGenerationFailure":
                        continue
                    raise
                pos += 1
                if sub.ip_version == 4:
                    done_v4 = True
                elif not slaac:
                    done_v6 = True
            if subnets and pos == 0:
                raise conflict(f"No more IP addresses available on network {row.network_id}.",
                               "IpAddressGenerationFailure")
            return
        if not isinstance(fixed_ips, list):
            raise invalid_input("fixed_ips must be a list")
        for pos, fip in enumerate(fixed_ips):
            if not isinstance(fip, dict) or not fip or set(fip) - {"subnet_id", "ip_address"}:
                raise invalid_input(f"Invalid data format for fixed IP: '{fip}'")
            sub = None
            if fip.get("subnet_id"):
                sub = by_id.get(fip["subnet_id"])
                if sub is None:
                    raise bad_request(f"Invalid input for operation: Failed to create port on "
                                      f"network {row.network_id}, because fixed_ips included "
                                      f"invalid subnet {fip['subnet_id']}.", "InvalidInput")
            if fip.get("ip_address"):
                addr = ipam.parse_ip(fip["ip_address"])
                if sub is None:
                    sub = next((x for x in subnets if addr in ipaddress.ip_network(x.cidr)),
                               None)
                    if sub is None:
                        raise bad_request(f"Invalid input for operation: IP address "
                                          f"{addr} is not a valid IP for the specified "
                                          "subnet.", "InvalidInput")
                ipam.allocate(s, sub, row.id, row.mac_address, str(addr), position=pos)
            elif sub is not None:
                ipam.allocate(s, sub, row.id, row.mac_address, position=pos)

    # -- operations ------------------------------------------------------------
    def create_in(self, s: Session, ctx: RequestContext, body: dict[str, Any],
                  project: str, skip_quota: bool = False) -> Port:
        """Create a port inside an open write transaction (used by routers and floating IPs)."""
        network = s.get(Network, body.get("network_id") or "")
        if network is None or not self.net.networks.visible(s, network, ctx):
            raise not_found("network", str(body.get("network_id")))
        if not (ctx.is_admin or network.project_id == ctx.project_id or
                self.net.networks.is_shared(s, network, ctx)):
            raise errors.Forbidden("(rule:create_port) is disallowed by policy",
                                   error_type="PolicyNotAuthorized")
        if not skip_quota:
            self.net.quotas.check(s, project, "port")
        mac = body.get("mac_address")
        if mac:
            if not _MAC.match(str(mac)):
                raise invalid_input(f"'{mac}' is not a valid MAC address")
            mac = mac.lower()
            if s.scalar(select(Port.id).where(Port.network_id == network.id,
                                              Port.mac_address == mac)):
                raise conflict(f"Unable to complete operation for network {network.id}. The "
                               f"mac address {mac} is in use.", "MacAddressInUse")
        else:
            for _ in range(16):
                mac = random_mac()
                if not s.scalar(select(Port.id).where(Port.network_id == network.id,
                                                      Port.mac_address == mac)):
                    break
        row = self.new_row(project, body, network_id=network.id, mac_address=mac,
                           device_id=body.get("device_id") or "",
                           device_owner=body.get("device_owner") or "")
        if body.get("tags"):
            row.tags = list(dict.fromkeys(body["tags"]))
        self._apply(s, ctx, row, body, network, creating=True)
        s.add(row)
        s.flush()
        self._allocate(s, row, body.get("fixed_ips"))
        if row.device_id and row.device_owner.startswith("compute:"):
            self.net.notify(s, None, self.view(s, row, None))
        return row

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "port", _CREATE)
        if not body.get("network_id"):
            raise bad_request("Failed to parse request. Required attribute 'network_id' not "
                              "specified", "HTTPBadRequest")
        project = self.owner(ctx, body)
        with self.db.write() as s:
            row = self.create_in(s, ctx, body, project)
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "port", _UPDATE, readonly=("id", "network_id", "status",
                                                     "project_id", "tenant_id"))
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            self.check_revision(row, if_match)
            before = self.view(s, row, None) if self._watched(row, body) else None
            network = s.get(Network, row.network_id)
            if "mac_address" in body and body["mac_address"] != row.mac_address:
                if not ctx.is_admin:
                    raise errors.Forbidden("(rule:update_port:mac_address) is disallowed by "
                                           "policy", error_type="PolicyNotAuthorized")
                if not _MAC.match(str(body["mac_address"])):
                    raise invalid_input(f"'{body['mac_address']}' is not a valid MAC address")
                row.mac_address = body["mac_address"].lower()
            self._apply(s, ctx, row, body, network, creating=False)
            if "fixed_ips" in body:
                wanted = body["fixed_ips"] or []
                keep = {(f.get("subnet_id"), f.get("ip_address")) for f in wanted
                        if isinstance(f, dict)}
                current = list(s.scalars(select(IPAllocation).where(
                    IPAllocation.port_id == row.id)))
                remaining = []
                for alloc in current:
                    if (alloc.subnet_id, alloc.ip_address) in keep or \
                            (None, alloc.ip_address) in keep:
                        keep.discard((alloc.subnet_id, alloc.ip_address))
                        keep.discard((None, alloc.ip_address))
                    elif (alloc.subnet_id, None) in keep:
                        keep.discard((alloc.subnet_id, None))
                    else:
                        s.delete(alloc)
                s.flush()
                remaining = [{k: v for k, v in zip(("subnet_id", "ip_address"), f) if v}
                             for f in keep]
                self._allocate(s, row, remaining)
            self.touch(row)
            s.flush()
            if before is not None or self._watched(row, {}):
                self.net.notify(s, before, self.view(s, row, None))
            return self.view(s, row, ctx)

    @staticmethod
    def _watched(row: Port, body: dict[str, Any]) -> bool:
        """Whether Nova may care about this port (bound to a server, or about to be)."""
        owner = body.get("device_owner", row.device_owner) or ""
        return bool(row.device_id or body.get("device_id")) and (
            owner.startswith("compute:") or row.device_owner.startswith("compute:"))

    def delete_in(self, s: Session, row: Port) -> None:
        if self._watched(row, {}):
            self.net.notify(s, self.view(s, row, None), None)
        for fip in s.scalars(select(FloatingIP).where(FloatingIP.port_id == row.id)):
            fip.port_id = None
            fip.attrs = {**fip.attrs, "fixed_ip_address": None, "router_id": None}
            self.touch(fip)
        s.delete(row)
        s.flush()

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            if row.device_owner in SERVICE_OWNERS:
                raise conflict(f"Port {id_} cannot be deleted directly via the port API: has "
                               f"device owner {row.device_owner}.", "ServicePortInUse")
            self.delete_in(s, row)
