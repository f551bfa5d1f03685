"""Networking of existing servers over HTTP: os-interface, os-security-groups of a
server, /ips, os-server-external-events and the network server actions
(addSecurityGroup, removeSecurityGroup, addFloatingIp, removeFloatingIp)."""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any, Callable

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.compute.api.legacy_secgroups import nova_group
from pocketstack.compute.interfaces import ServerInterfaces
from pocketstack.compute.networks import addresses
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
MEMBER = "rule:project_member_or_admin"
READER = "rule:project_reader_or_admin"
register_defaults([RuleDefault(name, rule) for name, rule in (
    (f"{P}os-attach-interfaces:list", READER), (f"{P}os-attach-interfaces:show", READER),
    (f"{P}os-attach-interfaces:create", MEMBER), (f"{P}os-attach-interfaces:delete", MEMBER),
    (f"{P}os-security-groups:list", READER), (f"{P}os-security-groups:add", MEMBER),
    (f"{P}os-security-groups:remove", MEMBER), (f"{P}ips:index", READER),
    (f"{P}ips:show", READER), (f"{P}os-floating-ips:add", MEMBER),
    (f"{P}os-floating-ips:remove", MEMBER),
    (f"{P}os-server-external-events:create", "rule:admin_required or rule:service_role"),
)])

EVENTS = ("network-changed", "network-vif-plugged", "network-vif-unplugged",
          "network-vif-deleted", "volume-extended", "power-update",
          "accelerator-request-bound", "volume-reimaged")
# the microversion that added each newer event name (Nova's schema enums per version)
EVENT_SINCE = {"volume-extended": "2.51", "power-update": "2.76",
               "accelerator-request-bound": "2.82", "volume-reimaged": "2.93"}


def _target(inst: Any) -> dict[str, str]:
    return {"project_id": inst.project_id, "user_id": inst.user_id}


def _name_arg(args: Any, action: str, key: str = "name") -> str:
    value = args.get(key) if isinstance(args, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise errors.BadRequest(f"Invalid input for field/attribute {action}. '{key}' is a "
                                "required property")
    return value


def _ip_arg(args: Any, action: str, key: str, required: bool = True) -> str | None:
    value = args.get(key) if isinstance(args, dict) else None
    if value is None and not required:
        return None
    try:
        ipaddress.ip_address(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute {action}.{key}") from None
    return value


def network_actions(svc: "ComputeService") -> dict[str, Callable[..., Any]]:
    """Server action name -> handler(req, inst, args), for /servers/{id}/action."""
    ifaces = ServerInterfaces(svc.cloud)

    def add_sg(req: Request, inst: Any, args: Any) -> None:
        req.enforce(f"{P}os-security-groups:add", _target(inst))
        ifaces.add_group(req.ctx, inst, _name_arg(args, "addSecurityGroup"))

    def remove_sg(req: Request, inst: Any, args: Any) -> None:
        req.enforce(f"{P}os-security-groups:remove", _target(inst))
        ifaces.remove_group(req.ctx, inst, _name_arg(args, "removeSecurityGroup"))

    def add_fip(req: Request, inst: Any, args: Any) -> None:
        if req.at_least("2.44"):
            raise errors.NotFound("The addFloatingIp action was removed in microversion 2.44")
        req.enforce(f"{P}os-floating-ips:add", _target(inst))
        ifaces.add_floating(req.ctx, inst, _ip_arg(args, "addFloatingIp", "address") or "",
                            _ip_arg(args, "addFloatingIp", "fixed_address", required=False))

    def remove_fip(req: Request, inst: Any, args: Any) -> None:
        if req.at_least("2.44"):
            raise errors.NotFound("The removeFloatingIp action was removed in microversion "
                                  "2.44")
        req.enforce(f"{P}os-floating-ips:remove", _target(inst))
        ifaces.remove_floating(req.ctx, inst,
                               _ip_arg(args, "removeFloatingIp", "address") or "")

    return {"addSecurityGroup": add_sg, "removeSecurityGroup": remove_sg,
            "addFloatingIp": add_fip, "removeFloatingIp": remove_fip}


def _attachment(req: Request, port: dict[str, Any]) -> dict[str, Any]:
    out = {"port_state": port.get("status", "ACTIVE"), "port_id": port["id"],
           "net_id": port["network_id"], "mac_addr": port["mac_address"],
           "fixed_ips": [{"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
                         for f in port["fixed_ips"]]}
    if req.at_least("2.70"):
        out["tag"] = None
    return out


class Interfaces:
    def __init__(self, svc: "ComputeService") -> None:
        self.servers = svc.servers
        self.ifaces = ServerInterfaces(svc.cloud)

    def _inst(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(f"{P}os-attach-interfaces:{rule}", _target(inst))
        return inst

    @route("GET", "/v2.1/servers/{server_id}/os-interface")
    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "list")
        return {"interfaceAttachments": [_attachment(req, p) for p in self.ifaces.list(inst)]}

    @route("GET", "/v2.1/servers/{server_id}/os-interface/{port_id}")
    def show(self, req: Request, server_id: str, port_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "show")
        return {"interfaceAttachment": _attachment(req, self.ifaces.get(inst, port_id))}

    @route("POST", "/v2.1/servers/{server_id}/os-interface")
    def create(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "create")
        body = req.json()
        att = body.get("interfaceAttachment") if isinstance(body, dict) else None
        if body is not None and not isinstance(att, dict):
            raise errors.BadRequest("Invalid input for field/attribute interfaceAttachment.")
        att = att or {}
        allowed = {"net_id", "port_id", "fixed_ips", "tag"}
        extra = set(att) - allowed
        if extra:
            raise errors.BadRequest("Additional properties are not allowed "
                                    f"('{sorted(extra)[0]}' was unexpected)")
        net_id, port_id = att.get("net_id"), att.get("port_id")
        if net_id and port_id:
            raise errors.BadRequest("Must not input both network_id and port_id")
        fixed = att.get("fixed_ips")
        fixed_ip = None
        if fixed is not None:
            if not isinstance(fixed, list) or len(fixed) != 1 or not isinstance(
                    fixed[0], dict):
                raise errors.BadRequest("Invalid input for field/attribute fixed_ips.")
            fixed_ip = _ip_arg(fixed[0], "fixed_ips", "ip_address")
            if not net_id:
                raise errors.BadRequest("Must input network_id when request IP address")
        self.servers.check_lock(req.ctx, inst)
        port = self.ifaces.attach(req.ctx, inst, net_id, port_id, fixed_ip)
        self.servers.record_action(req.ctx, inst.uuid, "attach_interface")
        return {"interfaceAttachment": _attachment(req, port)}

    @route("DELETE", "/v2.1/servers/{server_id}/os-interface/{port_id}", status=202)
    def delete(self, req: Request, server_id: str, port_id: str) -> None:
        inst = self._inst(req, server_id, "delete")
        self.servers.check_lock(req.ctx, inst)
        self.ifaces.detach(inst, port_id)
        self.servers.record_action(req.ctx, inst.uuid, "detach_interface")


class ServerViews:
    """GET /servers/{id}/os-security-groups and /servers/{id}/ips[/{network}]."""

    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.servers = svc.servers
        self.ifaces = ServerInterfaces(svc.cloud)

    def _inst(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(f"{P}{rule}", _target(inst))
        return inst

    @route("GET", "/v2.1/servers/{server_id}/os-security-groups")
    def groups(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "os-security-groups:list")
        groups = self.ifaces.groups(inst)
        names = {g["id"]: {"name": g["name"], "tenant_id": g.get("project_id") or ""}
                 for g in groups}
        return {"security_groups": [nova_group(g, names) for g in groups]}

    def _ips(self, inst: Any) -> dict[str, list[dict[str, Any]]]:
        return {name: [{"version": a["version"], "addr": a["addr"]} for a in entries]
                for name, entries in addresses(self.svc.cloud, inst).items()}

    @route("GET", "/v2.1/servers/{server_id}/ips")
    def ips(self, req: Request, server_id: str) -> dict[str, Any]:
        return {"addresses": self._ips(self._inst(req, server_id, "ips:index"))}

    @route("GET", "/v2.1/servers/{server_id}/ips/{network}")
    def ips_one(self, req: Request, server_id: str, network: str) -> dict[str, Any]:
        found = self._ips(self._inst(req, server_id, "ips:show"))
        if network not in found:
            raise errors.NotFound("Instance is not a member of specified network")
        return {network: found[network]}


class ExternalEvents:
    """os-server-external-events: the Network service tells Nova what happened to a port
    (over HTTP, or in-process with :meth:`dispatch` when both run in one cloud)."""

    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        svc.external_events = self

    @route("POST", "/v2.1/os-server-external-events",
           policy=f"{P}os-server-external-events:create")
    def create(self, req: Request) -> Reply:
        body = req.json()
        events = body.get("events") if isinstance(body, dict) else None
        for event in events if isinstance(events, list) else ():
            since = EVENT_SINCE.get(event.get("name")) if isinstance(event, dict) else None
            if since and not req.at_least(since):
                raise errors.BadRequest(f"Invalid input for field/attribute name. Value: "
                                        f"{event['name']}. '{event['name']}' is not one of "
                                        "the event names of this microversion")
        out, status = self.dispatch(req.ctx, events)
        return Reply({"events": out}, status)

    def dispatch(self, ctx: Any, events: Any) -> tuple[list[dict[str, Any]], int]:
        """Validate and deliver events; each accepted one is recorded as an event of the
        server's latest instance action (its key: ``name-tag``, as Nova keys them)."""
        if not isinstance(events, list) or not events:
            raise errors.BadRequest("Invalid input for field/attribute events.")
        out, found = [], 0
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("server_uuid"), str) \
                    or event.get("name") not in EVENTS:
                raise errors.BadRequest("Invalid input for field/attribute events.")
            status = event.get("status", "completed")
            if status not in ("failed", "completed", "in-progress"):
                raise errors.BadRequest("Invalid input for field/attribute status.")
            item = {"name": event["name"], "server_uuid": event["server_uuid"],
                    "status": status, "code": 200}
            if "tag" in event:
                item["tag"] = event["tag"]
            try:
                inst = self.svc.servers.get(ctx, event["server_uuid"], all_projects=True)
                if not inst.host:
                    item["code"] = 422
                else:
                    found += 1
            except errors.NotFound:
                item["code"] = 404
            if item["code"] != 200:
                item["status"] = "failed"
            else:
                self._record(inst, item)
                if item["name"] == "volume-extended" and item.get("tag"):
                    self.svc.tasks.submit(self._volume_extended, inst.uuid, item["tag"])
            out.append(item)
        if not found:
            raise errors.NotFound("No instances found for any event")
        return out, 200 if found == len(out) else 207

    def _volume_extended(self, uuid: str, volume_id: str) -> None:
        """As Nova's compute manager: the volume's new size to the driver (errors
        logged; the event is recorded either way)."""
        from pocketstack.api.context import RequestContext
        from pocketstack.compute.tasks import driver_view

        log = logging.getLogger(__name__)
        try:
            inst = self.svc.servers.get(RequestContext.admin(), uuid, all_projects=True)
            self.svc.volumes.find(uuid, volume_id)  # (404: not this server's volume)
            vol = self.svc.volumes.volume
            info = vol.connection_info(RequestContext.admin(), volume_id)
            size = int(vol.get_volume(RequestContext.admin(), volume_id)["size"]) << 30
            if inst.host:
                self.svc.driver.extend_volume(inst.host, driver_view(inst), info, size)
        except (NotImplementedError, errors.NotFound) as exc:  # not attached (any more)
            log.info("volume-extended of volume %s on server %s: %s", volume_id, uuid, exc)
        except Exception:  # noqa: BLE001
            log.exception("volume-extended of volume %s on server %s", volume_id, uuid)

    def _record(self, inst: Any, item: dict[str, Any]) -> None:
        from sqlalchemy import select

        from pocketstack.compute.models import InstanceAction
        from pocketstack.db import utcnow

        key = item["name"] + (f"-{item['tag']}" if item.get("tag") else "")
        now = utcnow().isoformat()
        with self.svc.cloud.db.write() as s:
            act = s.scalar(select(InstanceAction).where(
                InstanceAction.instance_uuid == inst.uuid).order_by(
                InstanceAction.start_time.desc(), InstanceAction.id.desc()).limit(1))
            if act is not None:
                act.events = [*act.events, {
                    "event": key, "start_time": now, "finish_time": now,
                    "result": "Success" if item["status"] == "completed" else "Error",
                    "traceback": None, "host": inst.host}]
