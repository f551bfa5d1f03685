"""Consoles and what the hypervisor says about a server: os-getConsoleOutput and the
legacy os-get{VNC,SPICE,Serial}Console actions (up to 2.5), /remote-consoles (2.6+),
/os-console-auth-tokens, /diagnostics and /topology (2.78)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
MEMBER, READER, ADMIN = ("rule:project_member_or_admin", "rule:project_reader_or_admin",
                         "rule:admin_required")
register_defaults([RuleDefault(name, check) for name, check in (
    (f"{P}os-console-output", MEMBER), (f"{P}os-remote-consoles", MEMBER),
    (f"{P}os-console-auth-tokens", ADMIN), (f"{P}os-server-diagnostics", ADMIN),
    (f"{P}compute:server:topology:index", READER),
    (f"{P}compute:server:topology:host:index", ADMIN))])
_LEGACY = {"os-getVNCConsole": "vnc", "os-getSPICEConsole": "spice",
           "os-getSerialConsole": "serial"}


def _target(inst: Any) -> dict[str, str]:
    return {"project_id": inst.project_id, "user_id": inst.user_id}


def _length(args: Any) -> int | None:
    if args is None:
        return None
    if not isinstance(args, dict) or set(args) - {"length"}:
        raise errors.BadRequest("Invalid input for field/attribute os-getConsoleOutput.")
    value = args.get("length")
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise errors.BadRequest("Invalid input for field/attribute length. Value: "
                                f"{args.get('length')}. must be an integer >= -1")
    return value


def console_actions(svc: "ComputeService") -> dict[str, Callable[..., Any]]:
    def output(req: Request, inst: Any, args: Any) -> Reply:
        req.enforce(f"{P}os-console-output", _target(inst))
        return Reply({"output": svc.consoles.output(inst, _length(args))}, 200)

    def legacy(name: str) -> Callable[..., Any]:
        protocol = _LEGACY[name]

        def handler(req: Request, inst: Any, args: Any) -> Reply:
            if req.at_least("2.6"):
                raise errors.NotFound("The resource could not be found.")
            req.enforce(f"{P}os-remote-consoles", _target(inst))
            kind = args.get("type") if isinstance(args, dict) else None
            if not isinstance(kind, str):
                raise errors.BadRequest(f"Invalid input for field/attribute {name}. 'type' "
                                        "is a required property")
            url = svc.consoles.remote(inst, protocol, kind)
            return Reply({"console": {"type": kind, "url": url}}, 200)
        return handler

    return {"os-getConsoleOutput": output,
            **{name: legacy(name) for name in _LEGACY}}


_DIAG_DRIVERS = ("libvirt", "xenapi", "vmwareapi", "ironic", "hyperv")


class ServerConsoles:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def _inst(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.svc.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(P + rule, _target(inst))
        return inst

    @route("POST", "/v2.1/servers/{server_id}/remote-consoles", min_version="2.6")
    def create(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "os-remote-consoles")
        body = req.json()
        console = body.get("remote_console") if isinstance(body, dict) else None
        if not isinstance(console, dict) or not isinstance(console.get("protocol"), str) \
                or not isinstance(console.get("type"), str):
            raise errors.BadRequest("Invalid input for field/attribute remote_console. "
                                    "'protocol' and 'type' are required properties")
        protocol, kind = console["protocol"], console["type"]
        valid = {"vnc", "spice", "serial", "rdp"} | ({"mks"} if req.at_least("2.8") else
                                                     set())
        if protocol not in valid:
            raise errors.BadRequest(f"Invalid input for field/attribute protocol. Value: "
                                    f"{protocol}. {protocol!r} is not one of "
                                    f"{sorted(valid)}")
        if protocol in ("rdp", "mks"):
            raise errors.BadRequest(f"Unavailable console type {kind}.")
        url = self.svc.consoles.remote(inst, protocol, kind)
        return {"remote_console": {"protocol": protocol, "type": kind, "url": url}}

    @route("GET", "/v2.1/os-console-auth-tokens/{token}",
           policy=f"{P}os-console-auth-tokens")
    def token(self, req: Request, token: str) -> dict[str, Any]:
        info = self.svc.consoles.token(token)
        if info is None:
            raise errors.NotFound("Token not found")
        if not req.at_least("2.31") and info.console_type != "rdp-html5":
            raise errors.BadRequest("The requested console type details are not "
                                    "accessible")
        return {"console": {"instance_uuid": info.instance_uuid, "host": info.host,
                            "port": info.port,
                            "internal_access_path": info.internal_access_path}}

    @route("GET", "/v2.1/servers/{server_id}/diagnostics")
    def diagnostics(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "os-server-diagnostics")
        if not inst.host:
            raise errors.Conflict(f"Instance {inst.uuid} is not ready")
        from pocketstack.compute.tasks import driver_view

        try:
            diag = self.svc.driver.get_instance_diagnostics(inst.host, driver_view(inst))
        except NotImplementedError:
            raise errors.NotImplementedYet("Unable to get diagnostics, functionality not "
                                           "implemented") from None
        if req.at_least("2.48"):
            if diag.get("driver") not in _DIAG_DRIVERS:  # Nova's enum; its fake says libvirt
                diag = {**diag, "driver": "libvirt"}
            return diag
        # before 2.48 the format was the driver's own: a flat libvirt-like dict
        out: dict[str, Any] = {"memory": diag["memory_details"]["maximum"] * 1024}
        for cpu in diag["cpu_details"]:
            out[f"cpu{cpu['id']}_time"] = cpu["time"]
        for i, disk in enumerate(diag["disk_details"]):
            name = f"vd{chr(ord('a') + i)}"
            out.update({f"{name}_read": disk["read_bytes"],
                        f"{name}_read_req": disk["read_requests"],
                        f"{name}_write": disk["write_bytes"],
                        f"{name}_write_req": disk["write_requests"],
                        f"{name}_errors": disk["errors_count"]})
        return out

    @route("GET", "/v2.1/servers/{server_id}/topology", min_version="2.78")
    def topology(self, req: Request, server_id: str) -> dict[str, Any]:
        from pocketstack.compute.numa import view

        inst = self._inst(req, server_id, "compute:server:topology:index")
        return view(inst.numa_topology, req.authorized(
            f"{P}compute:server:topology:host:index", _target(inst)))
