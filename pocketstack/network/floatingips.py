"""Floating IPs: an address of an external network, associated with a port behind a router."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api.context import RequestContext
from pocketstack.network.common import (Kind, bad_request, check_keys, conflict, not_found,
                                        standard)
from pocketstack.network.models import FloatingIP, IPAllocation, Network, Port
from pocketstack.network.routers import FIP, GW, IFACE, _ADMIN

_KEYS = {"floating_network_id", "floating_ip_address", "subnet_id", "port_id",
         "fixed_ip_address", "description", "project_id", "tenant_id", "tags",
         "dns_name", "dns_domain", "qos_policy_id"}


class FloatingIPs(Kind):
    model = FloatingIP
    member = "floatingip"
    collection = "floatingips"

    def view(self, s: Session, row: FloatingIP, ctx: RequestContext) -> dict[str, Any]:
        out = standard(row)
        out.pop("name")
        a = row.attrs
        details = None
        if row.port_id:
            port = s.get(Port, row.port_id)
            if port is not None:
                details = {"name": port.name, "network_id": port.network_id,
                           "mac_address": port.mac_address,
                           "admin_state_up": port.attrs.get("admin_state_up", True),
                           "status": "ACTIVE" if port.device_id else "DOWN",
                           "device_id": port.device_id, "device_owner": port.device_owner}
        out.update({"floating_ip_address": row.floating_ip_address,
                    "floating_network_id": row.floating_network_id,
                    "router_id": a.get("router_id"), "port_id": row.port_id,
                    "fixed_ip_address": a.get("fixed_ip_address"),
                    "status": "ACTIVE" if row.port_id else "DOWN", "port_details": details,
                    "qos_policy_id": a.get("qos_policy_id"), "port_forwardings": [],
                    "dns_name": a.get("dns_name", ""), "dns_domain": a.get("dns_domain", "")})
        return out

    def _associate(self, s: Session, ctx: RequestContext, row: FloatingIP, port_id: str | None,
                   fixed_ip: str | None) -> None:
        a = dict(row.attrs)
        self.net.address_changed(s, row.port_id)
        if not port_id:
            row.port_id = None
            a["fixed_ip_address"] = a["router_id"] = None
            row.attrs = a
            return
        port = s.get(Port, port_id)
        if port is None or not self.net.ports.visible(s, port, ctx):
            raise not_found("port", port_id)
        fixed = self.net.ports.fixed_ips(s, port.id)
        v4 = [f for f in fixed if ipaddress.ip_address(f["ip_address"]).version == 4]
        if fixed_ip:
            chosen = next((f for f in v4 if f["ip_address"] == fixed_ip), None)
            if chosen is None:
                raise bad_request(f"Port {port.id} does not have fixed ip {fixed_ip}",
                                  "BadRequest")
        else:
            if not v4:
                raise bad_request(f"Bad floatingip request: Port {port.id} does not have any "
                                  "IPv4 address.", "BadRequest")
            chosen = v4[0]
        other = s.scalar(select(FloatingIP).where(FloatingIP.port_id == port.id,
                                                  FloatingIP.id != row.id))
        if other is not None and other.attrs.get("fixed_ip_address") == chosen["ip_address"]:
            raise conflict(f"Cannot associate floating IP {row.floating_ip_address} "
                           f"({row.id}) with port {port.id} using fixed IP "
                           f"{chosen['ip_address']}, as that fixed IP already has a floating "
                           f"IP on external network {row.floating_network_id}.",
                           "FloatingIPPortAlreadyAssociated")
        router_id = self._router_for(s, chosen["subnet_id"], row.floating_network_id)
        if router_id is None:
            raise self._no_gateway(chosen["subnet_id"], port.id, row.floating_network_id)
        row.port_id = port.id
        self.net.address_changed(s, port.id)
        a["fixed_ip_address"] = chosen["ip_address"]
        a["router_id"] = router_id
        row.attrs = a

    @staticmethod
    def _no_gateway(subnet_id: str, port_id: str, network_id: str) -> Exception:
        from pocketstack.api import errors

        return errors.NotFound(f"External network {network_id} is not reachable from subnet "
                               f"{subnet_id}.  Therefore, cannot associate Port {port_id} with "
                               "a Floating IP.", error_type="ExternalGatewayForFloatingIPNotFound")

    def _router_for(self, s: Session, subnet_id: str, ext_net: str) -> str | None:
        iface_ports = s.scalars(select(IPAllocation.port_id).where(
            IPAllocation.subnet_id == subnet_id))
        for pid in iface_ports:
            port = s.get(Port, pid)
            if port is None or port.device_owner != IFACE:
                continue
            gw = s.scalar(select(Port).where(Port.device_id == port.device_id,
                                             Port.device_owner == GW))
            if gw is not None and gw.network_id == ext_net:
                return port.device_id
        return None

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "floatingip", _KEYS)
        if not body.get("floating_network_id"):
            raise bad_request("Failed to parse request. Required attribute "
                              "'floating_network_id' not specified", "HTTPBadRequest")
        project = self.owner(ctx, body)
        if body.get("floating_ip_address") and not ctx.is_admin:
            from pocketstack.api import errors

            raise errors.Forbidden("(rule:create_floatingip:floating_ip_address) is disallowed "
                                   "by policy", error_type="PolicyNotAuthorized")
        with self.db.write() as s:
            network = s.get(Network, body["floating_network_id"])
            if network is None or not self.net.networks.visible(s, network, ctx):
                raise not_found("network", body["floating_network_id"])
            if not network.attrs.get("router:external"):
                raise bad_request(f"Bad floatingip request: Network {network.id} is not a valid "
                                  "external network.", "BadRequest")
            self.net.quotas.check(s, project, "floatingip")
            fixed = None
            if body.get("floating_ip_address") or body.get("subnet_id"):
                fixed = [{k: v for k, v in (("subnet_id", body.get("subnet_id")),
                                            ("ip_address", body.get("floating_ip_address")))
                          if v}]
            row = self.new_row(project, body, floating_network_id=network.id,
                               floating_ip_address="", port_id=None)
            row.attrs = {"router_id": None, "fixed_ip_address": None,
                         "dns_name": body.get("dns_name") or "",
                         "dns_domain": body.get("dns_domain") or ""}
            port = self.net.ports.create_in(s, _ADMIN, {
                "network_id": network.id, "device_id": row.id, "device_owner": FIP,
                "fixed_ips": fixed}, "", skip_quota=True)
            v4 = [f for f in self.net.ports.fixed_ips(s, port.id)
                  if ipaddress.ip_address(f["ip_address"]).version == 4]
            if not v4:
                raise conflict(f"No more IP addresses available on network {network.id}.",
                               "IpAddressGenerationFailure")
            row.floating_ip_address = v4[0]["ip_address"]
            if body.get("tags"):
                row.tags = list(dict.fromkeys(body["tags"]))
            s.add(row)
            s.flush()
            if body.get("port_id"):
                self._associate(s, ctx, row, body["port_id"], body.get("fixed_ip_address"))
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "floatingip", {"port_id", "fixed_ip_address", "description",
                                        "qos_policy_id"},
                   readonly=("id", "floating_ip_address", "floating_network_id"))
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            self.check_revision(row, if_match)
            if "description" in body:
                row.description = body["description"] or ""
            if "port_id" in body:
                self._associate(s, ctx, row, body["port_id"], body.get("fixed_ip_address"))
            self.touch(row)
            s.flush()
            return self.view(s, row, ctx)

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            port = s.scalar(select(Port).where(Port.device_id == row.id,
                                               Port.device_owner == FIP))
            if port is not None:
                self.net.ports.delete_in(s, port)
            self.net.address_changed(s, row.port_id)
            s.delete(row)
