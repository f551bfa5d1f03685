"""Routers (external gateway, interfaces, extra routes) and floating IPs."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.network.common import (Kind, as_bool, bad_request, check_keys, check_string,
                                        conflict, invalid_input, not_found, standard)
from pocketstack.network.models import (FloatingIP, IPAllocation, Network, Port, Router,
                                        Subnet)

GW = "network:router_gateway"
IFACE = "network:router_interface"
FIP = "network:floatingip"
_ADMIN = RequestContext.admin()


class Routers(Kind):
    model = Router
    member = "router"
    collection = "routers"

    def gateway_port(self, s: Session, router_id: str) -> Port | None:
        return s.scalar(select(Port).where(Port.device_id == router_id, Port.device_owner == GW))

    def view(self, s: Session, row: Router, ctx: RequestContext) -> dict[str, Any]:
        out = standard(row)
        a = row.attrs
        gw = self.gateway_port(s, row.id)
        info = None
        if gw is not None:
            info = {"network_id": gw.network_id, "enable_snat": a.get("enable_snat", True),
                    "external_fixed_ips": self.net.ports.fixed_ips(s, gw.id)}
        out.update({"status": "ACTIVE", "admin_state_up": a.get("admin_state_up", True),
                    "external_gateway_info": info, "routes": a.get("routes", []),
                    "availability_zone_hints": a.get("availability_zone_hints", []),
                    "availability_zones": ["nova"], "distributed": a.get("distributed", False),
                    "ha": a.get("ha", False), "flavor_id": None,
                    "enable_ndp_proxy": None})
        return out

    def _gateway(self, s: Session, ctx: RequestContext, row: Router, info: Any) -> None:
        current = self.gateway_port(s, row.id)
        if not info:
            if current is not None:
                if any(f.attrs.get("router_id") == row.id for f in s.scalars(
                        select(FloatingIP).where(FloatingIP.port_id.is_not(None)))):
                    raise conflict(f"Gateway cannot be updated for router {row.id}, since a "
                                   "gateway to external network is required by one or more "
                                   "floating IPs.", "RouterExternalGatewayInUseByFloatingIp")
                self.net.ports.delete_in(s, current)
            return
        if not isinstance(info, dict) or not info.get("network_id"):
            raise invalid_input("external_gateway_info needs a network_id")
        network = s.get(Network, info["network_id"])
        if network is None or not self.net.networks.visible(s, network, ctx):
            raise not_found("network", info["network_id"])
        if not network.attrs.get("router:external"):
            raise bad_request(f"Bad router request: Network {network.id} is not an external "
                              "network.", "BadRequest")
        attrs = dict(row.attrs)
        if "enable_snat" in info:
            attrs["enable_snat"] = as_bool(info["enable_snat"], "enable_snat")
        row.attrs = attrs
        if current is not None and current.network_id == network.id and \
                "external_fixed_ips" not in info:
            return
        if current is not None:
            self.net.ports.delete_in(s, current)
        self.net.ports.create_in(s, _ADMIN, {
            "network_id": network.id, "device_id": row.id, "device_owner": GW,
            "fixed_ips": info.get("external_fixed_ips")}, "", skip_quota=True)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "router", {"name", "description", "admin_state_up",
                                    "external_gateway_info", "project_id", "tenant_id",
                                    "distributed", "ha", "availability_zone_hints", "tags",
                                    "flavor_id", "enable_ndp_proxy"})
        check_string(body, "name")
        project = self.owner(ctx, body)
        with self.db.write() as s:
            self.net.quotas.check(s, project, "router")
            row = self.new_row(project, body)
            row.attrs = {"admin_state_up": as_bool(body.get("admin_state_up", True),
                                                   "admin_state_up"),
                         "enable_snat": True, "routes": [],
                         "availability_zone_hints": body.get("availability_zone_hints") or [],
                         "distributed": bool(body.get("distributed", False)),
                         "ha": bool(body.get("ha", False))}
            if body.get("tags"):
                row.tags = list(dict.fromkeys(body["tags"]))
            s.add(row)
            s.flush()
            if body.get("external_gateway_info"):
                self._gateway(s, ctx, row, body["external_gateway_info"])
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "router", {"name", "description", "admin_state_up",
                                    "external_gateway_info", "routes", "distributed", "ha",
                                    "enable_ndp_proxy"},
                   readonly=("id", "project_id", "tenant_id", "status"))
        check_string(body, "name")
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            self.check_revision(row, if_match)
            for key in ("name", "description"):
                if key in body:
                    setattr(row, key, body[key] or "")
            if "admin_state_up" in body:
                row.attrs = {**row.attrs, "admin_state_up": as_bool(body["admin_state_up"],
                                                                    "admin_state_up")}
            if "routes" in body:
                row.attrs = {**row.attrs, "routes": self._routes(s, row, body["routes"])}
            if "external_gateway_info" in body:
                self._gateway(s, ctx, row, body["external_gateway_info"])
            self.touch(row)
            s.flush()
            return self.view(s, row, ctx)

    def edit_routes(self, ctx: RequestContext, id_: str, body: Any, add: bool
                    ) -> dict[str, Any]:
        """``add_extraroutes`` / ``remove_extraroutes`` (extraroute-atomic)."""
        routes = body.get("router", {}).get("routes") if isinstance(body, dict) and \
            isinstance(body.get("router"), dict) else None
        if not isinstance(routes, list):
            raise bad_request("Resource body required: {'router': {'routes': [...]}}",
                              "HTTPBadRequest")
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            current = list(row.attrs.get("routes", []))
            if add:
                for r in self._routes(s, row, routes):
                    if r not in current:
                        current.append(r)
            else:
                try:
                    drop = [{"destination": str(ipaddress.ip_network(r["destination"],
                                                                     strict=False)),
                             "nexthop": str(ipaddress.ip_address(r["nexthop"]))}
                            for r in routes]
                except (TypeError, KeyError, ValueError):
                    raise invalid_input(f"Invalid routes {routes}") from None
                current = [r for r in current if r not in drop]
            row.attrs = {**row.attrs, "routes": current}
            self.touch(row)
            s.flush()
            return self.view(s, row, ctx)

    def _routes(self, s: Session, row: Router, routes: Any) -> list[dict[str, str]]:
        if routes is None:  # ``routes: null`` clears them
            return []
        if not isinstance(routes, list):
            raise invalid_input("routes must be a list")
        nets = [ipaddress.ip_network(sub.cidr) for sub in self._subnets(s, row.id)]
        out = []
        for r in routes or []:
            if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
                raise invalid_input(f"Invalid route {r}")
            try:
                dest = ipaddress.ip_network(r["destination"], strict=False)
                hop = ipaddress.ip_address(r["nexthop"])
            except ValueError:
                raise invalid_input(f"Invalid route {r}") from None
            if not any(hop in n for n in nets):
                raise bad_request(f"Invalid format for routes: {r}, the nexthop is not "
                                  "connected with router", "InvalidRoutes")
            out.append({"destination": str(dest), "nexthop": str(hop)})
        return out

    def _check_overlap(self, s: Session, router_id: str, new: list[Subnet | None]) -> None:
        """A router cannot route between subnets whose CIDRs overlap."""
        for sub in self._subnets(s, router_id):
            cidr = ipaddress.ip_network(sub.cidr)
            for other in filter(None, new):
                if other.id != sub.id and cidr.overlaps(ipaddress.ip_network(other.cidr)):
                    raise bad_request(f"Bad router request: Cidr {other.cidr} of subnet "
                                      f"{other.id} overlaps with cidr {sub.cidr} of subnet "
                                      f"{sub.id}.", "BadRequest")

    def _subnets(self, s: Session, router_id: str) -> list[Subnet]:
        ports = s.scalars(select(Port.id).where(Port.device_id == router_id,
                                                Port.device_owner == IFACE))
        ids = set(s.scalars(select(IPAllocation.subnet_id).where(
            IPAllocation.port_id.in_(list(ports)))))
        return [s.get(Subnet, i) for i in sorted(ids)]

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            if s.scalar(select(Port.id).where(Port.device_id == id_, Port.device_owner == IFACE)):
                raise conflict(f"Router {id_} still has ports", "RouterInUse")
            gw = self.gateway_port(s, id_)
            if gw is not None:
                self._gateway(s, ctx, row, None)
            s.delete(row)

    # -- interfaces ------------------------------------------------------------
    @staticmethod
    def _iface_info(row: Router, port: Port, subnet_ids: list[str]) -> dict[str, Any]:
        return {"id": row.id, "tenant_id": row.project_id, "project_id": row.project_id,
                "port_id": port.id, "network_id": port.network_id,
                "subnet_id": subnet_ids[0] if subnet_ids else None, "subnet_ids": subnet_ids}

    def add_interface(self, ctx: RequestContext, id_: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or bool(body.get("port_id")) == bool(body.get("subnet_id")):
            raise bad_request("Bad router request: Either subnet_id or port_id must be "
                              "specified (not both).", "BadRequest")
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            attached = {sub.id for sub in self._subnets(s, row.id)}
            if body.get("port_id"):
                port = s.get(Port, body["port_id"])
                if port is None or not self.net.ports.visible(s, port, ctx):
                    raise not_found("port", body["port_id"])
                if port.device_id:
                    raise conflict(f"Unable to complete operation on port {port.id} for "
                                   f"network {port.network_id}. Port already has an attached "
                                   f"device {port.device_id}.", "PortInUse")
                fixed = self.net.ports.fixed_ips(s, port.id)
                if not fixed:
                    raise bad_request("Bad router request: Router port must have at least "
                                      "one fixed IP.", "BadRequest")
                if {f["subnet_id"] for f in fixed} & attached:
                    raise bad_request("Bad router request: Router already has a port on "
                                      "subnet.", "BadRequest")
                self._check_overlap(s, row.id, [s.get(Subnet, f["subnet_id"]) for f in fixed])
                port.device_id, port.device_owner = row.id, IFACE
                self.touch(port)
                subnet_ids = [f["subnet_id"] for f in fixed]
            else:
                subnet = s.get(Subnet, body["subnet_id"])
                if subnet is None or not self.net.subnets.visible(s, subnet, ctx):
                    raise not_found("subnet", body["subnet_id"])
                if not subnet.attrs.get("gateway_ip"):
                    raise bad_request(f"Bad router request: Subnet {subnet.id} does not have "
                                      "a gateway IP.", "BadRequest")
                if subnet.id in attached:
                    raise bad_request(f"Bad router request: Router already has a port on "
                                      f"subnet {subnet.id}.", "BadRequest")
                self._check_overlap(s, row.id, [subnet])
                port = self.net.ports.create_in(s, _ADMIN, {
                    "network_id": subnet.network_id, "device_id": row.id,
                    "device_owner": IFACE, "fixed_ips": [{
                        "subnet_id": subnet.id, "ip_address": subnet.attrs["gateway_ip"]}]},
                    row.project_id, skip_quota=True)
                subnet_ids = [subnet.id]
            self.touch(row)
            return self._iface_info(row, port, subnet_ids)

    def remove_interface(self, ctx: RequestContext, id_: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not (body.get("port_id") or body.get("subnet_id")):
            raise bad_request("Bad router request: Either subnet_id or port_id must be "
                              "specified.", "BadRequest")
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            ports = list(s.scalars(select(Port).where(Port.device_id == row.id,
                                                      Port.device_owner == IFACE)))
            if body.get("port_id"):
                port = next((p for p in ports if p.id == body["port_id"]), None)
                if port is None:
                    raise errors.NotFound(f"Router {row.id} does not have an interface with "
                                          f"id {body['port_id']}",
                                          error_type="RouterInterfaceNotFound")
            else:
                port = next((p for p in ports if any(
                    f["subnet_id"] == body["subnet_id"]
                    for f in self.net.ports.fixed_ips(s, p.id))), None)
                if port is None:
                    raise errors.NotFound(f"Router {row.id} has no interface on subnet "
                                          f"{body['subnet_id']}",
                                          error_type="RouterInterfaceNotFoundForSubnet")
            subnet_ids = [f["subnet_id"] for f in self.net.ports.fixed_ips(s, port.id)]
            info = self._iface_info(row, port, subnet_ids)
            self.net.ports.delete_in(s, port)
            self.touch(row)
            return info
