"""Network work on existing servers: interfaces (os-interface), security groups and
floating IPs (Nova's addSecurityGroup/removeSecurityGroup/addFloatingIp/removeFloatingIp),
all through the Network service's in-process API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import states

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

ATTACH_STATES = (states.ACTIVE, states.PAUSED, states.STOPPED, states.SUSPENDED)


def _admin() -> RequestContext:
    return RequestContext.admin()


class ServerInterfaces:
    def __init__(self, cloud: "Cloud") -> None:
        self.cloud = cloud

    @property
    def net(self) -> Any:
        service = self.cloud.service("network")
        net = getattr(service, "net", None) if service is not None else None
        if net is None:
            raise errors.BadRequest("There is no Network service in this cloud.")
        return net

    # -- interfaces -----------------------------------------------------------
    def list(self, inst: Any) -> list[dict[str, Any]]:
        return self.net.ports_for_device(inst.uuid)

    def get(self, inst: Any, port_id: str) -> dict[str, Any]:
        for port in self.list(inst):
            if port["id"] == port_id:
                return port
        raise errors.NotFound(f"Port {port_id} is not attached")

    def attach(self, ctx: RequestContext, inst: Any, net_id: str | None, port_id: str | None,
               fixed_ip: str | None) -> dict[str, Any]:
        if inst.vm_state not in ATTACH_STATES or inst.task_state is not None:
            raise errors.Conflict(f"Cannot 'attach_interface' instance {inst.uuid} while it "
                                  f"is in vm_state {inst.vm_state}")
        net = self.net
        if port_id:
            try:
                port = net.ports.get(ctx, port_id)
            except errors.NotFound:
                raise errors.NotFound(f"Port {port_id} could not be found.") from None
            if port.get("device_id"):
                raise errors.Conflict(f"Port {port_id} is still in use.")
            net_id = port["network_id"]
        elif net_id:
            try:
                net.networks.get(ctx, net_id)
            except errors.NotFound:
                raise errors.NotFound(f"Network {net_id} could not be found.") from None
        else:
            from pocketstack.compute.networks import _auto_network

            net_id = _auto_network(net, ctx)
            if net_id is None:
                raise errors.BadRequest("No network is available to attach an interface to.")
        try:
            return net.allocate_port(inst.project_id, net_id, inst.uuid, host=inst.host or "",
                                     fixed_ip=fixed_ip, port_id=port_id)
        except errors.Conflict as exc:
            raise errors.Conflict(exc.message) from None
        except errors.NotFound as exc:
            raise errors.NotFound(exc.message) from None
        except errors.ApiError as exc:
            raise errors.BadRequest(f"Failed to attach the interface: {exc.message}") from None

    def detach(self, inst: Any, port_id: str) -> None:
        from pocketstack.network.models import Port

        self.get(inst, port_id)
        net = self.net
        with net.db.write() as s:
            port = s.get(Port, port_id)
            if port is None:
                return
            if port.attrs.get("user_port"):
                port.device_id, port.device_owner = "", ""
                port.attrs = {k: v for k, v in port.attrs.items()
                              if k not in ("user_port", "binding:host_id")}
                net.ports.touch(port)
            else:
                net.ports.delete_in(s, port)

    # -- security groups ------------------------------------------------------
    def _group(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        from pocketstack.network.common import Query

        groups = self.net.secgroups.list(ctx, Query(QueryParams("")))[0]
        exact = [g for g in groups if g["id"] == name]
        named = [g for g in groups if g["name"] == name and
                 g.get("project_id") == ctx.project_id]
        if exact:
            return exact[0]
        if len(named) > 1:
            raise errors.Conflict(f"Multiple security groups found matching '{name}'. Use an "
                                  "ID to be more specific.")
        if not named:
            raise errors.NotFound(f"Security group {name} not found for project "
                                  f"{ctx.project_id}.")
        return named[0]

    def groups(self, inst: Any) -> list[dict[str, Any]]:
        ids: list[str] = []
        for port in self.list(inst):
            ids += [g for g in port.get("security_groups") or [] if g not in ids]
        out = []
        for sg_id in ids:
            try:
                out.append(self.net.secgroups.get(_admin(), sg_id))
            except errors.NotFound:
                continue
        return out

    def add_group(self, ctx: RequestContext, inst: Any, name: str) -> None:
        group = self._group(ctx, name)
        ports = self.list(inst)
        if ports and all(group["id"] in p["security_groups"] for p in ports):
            raise errors.BadRequest(f"Security group {name} is already associated with the "
                                    f"instance {inst.uuid}")
        for port in ports:
            if group["id"] not in port["security_groups"]:
                self.net.ports.update(_admin(), port["id"], {
                    "security_groups": [*port["security_groups"], group["id"]]})

    def remove_group(self, ctx: RequestContext, inst: Any, name: str) -> None:
        group = self._group(ctx, name)
        ports = [p for p in self.list(inst) if group["id"] in p["security_groups"]]
        if not ports:
            raise errors.BadRequest(f"Security group {name} not associated with the instance "
                                    f"{inst.uuid}")
        for port in ports:
            self.net.ports.update(_admin(), port["id"], {
                "security_groups": [g for g in port["security_groups"] if g != group["id"]]})

    # -- floating IPs ---------------------------------------------------------
    def _floating(self, ctx: RequestContext, address: str) -> dict[str, Any]:
        from pocketstack.network.common import Query

        found = self.net.floatingips.list(
            ctx, Query(QueryParams({"floating_ip_address": address})))[0]
        if not found:
            raise errors.NotFound(f"floating IP not found: {address}")
        return found[0]

    def add_floating(self, ctx: RequestContext, inst: Any, address: str,
                     fixed_address: str | None) -> None:
        fip = self._floating(ctx, address)
        ports = self.list(inst)
        chosen = None
        for port in ports:
            ips = [f["ip_address"] for f in port["fixed_ips"]]
            if fixed_address is None and any(":" not in ip for ip in ips):
                chosen = port
                break
            if fixed_address is not None and fixed_address in ips:
                chosen = port
                break
        if chosen is None:
            if fixed_address is not None:
                raise errors.BadRequest(f"Specified fixed address '{fixed_address}' not found "
                                        f"on instance {inst.uuid}.")
            raise errors.BadRequest("No nw_info cache associated with instance")
        body: dict[str, Any] = {"port_id": chosen["id"]}
        if fixed_address:
            body["fixed_ip_address"] = fixed_address
        try:
            self.net.floatingips.update(ctx, fip["id"], body)
        except errors.ApiError as exc:
            raise errors.BadRequest(f"Error. Unable to associate floating IP: "
                                    f"{exc.message}") from None

    def remove_floating(self, ctx: RequestContext, inst: Any, address: str) -> None:
        fip = self._floating(ctx, address)
        ports = {p["id"] for p in self.list(inst)}
        if fip.get("port_id") not in ports:
            raise errors.Conflict(f"Floating IP {address} is not associated with instance "
                                  f"{inst.uuid}.")
        self.net.floatingips.update(ctx, fip["id"], {"port_id": None})
