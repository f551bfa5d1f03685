"""/servers/{id}/action, /servers/{id}/metadata and /servers/{id}/os-instance-actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute import disk_config
from pocketstack.compute.api import schemas, views

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
_POLICY = {"os-stop": "servers:stop", "os-start": "servers:start", "reboot": "servers:reboot",
           "pause": "os-pause-server:pause", "unpause": "os-pause-server:unpause",
           "suspend": "os-suspend-server:suspend", "resume": "os-suspend-server:resume",
           "lock": "os-lock-server:lock", "unlock": "os-lock-server:unlock",
           "os-resetState": "os-admin-actions:reset_state", "resize": "servers:resize",
           "confirmResize": "servers:confirm_resize", "revertResize": "servers:revert_resize"}
_SIMPLE = {"os-stop": "stop", "os-start": "start", "pause": "pause", "unpause": "unpause",
           "suspend": "suspend", "resume": "resume"}
_NOT_IMPLEMENTED: set[str] = set()


def _target(inst: Any) -> dict[str, str]:
    return {"project_id": inst.project_id, "user_id": inst.user_id}


class ServerActions:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.servers = svc.servers

    @route("POST", "/v2.1/servers/{server_id}/action", status=202)
    def action(self, req: Request, server_id: str) -> Any:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("Malformed request body: one action expected")
        name, args = next(iter(body.items()))
        if name in self.svc.extra_actions:  # network and image actions (own modules)
            return self.svc.extra_actions[name](req, self.servers.get(
                req.ctx, server_id, all_projects=req.ctx.is_admin), args)
        if name not in _POLICY and name not in _NOT_IMPLEMENTED:
            raise errors.BadRequest(f"There is no such action: {name}")
        inst = self.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        if name in _NOT_IMPLEMENTED:  # a missing server is still a 404 first
            raise errors.NotImplementedYet(f"Server action {name} is not implemented by "
                                           "pocketstack yet.")
        req.enforce(P + _POLICY[name], _target(inst))
        if name in _SIMPLE:
            self.servers.action(req.ctx, inst, _SIMPLE[name])
        elif name == "reboot":
            kind = (args or {}).get("type") if isinstance(args, dict) else None
            if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
                raise errors.BadRequest("Invalid input for field 'reboot.type': must be one "
                                        "of 'SOFT', 'HARD'")
            self.servers.action(req.ctx, inst, "reboot", reboot_type=kind.upper())
        elif name == "lock":
            self._lock(req, inst, args)
        elif name == "unlock":
            self._unlock(req, inst)
        elif name == "resize":
            ref = args.get("flavorRef") if isinstance(args, dict) else None
            if not isinstance(ref, (str, int)) or isinstance(ref, bool) or ref == "":
                raise errors.BadRequest("Invalid input for field 'resize': 'flavorRef' is a "
                                        "required property")
            wanted = disk_config.requested(args, "resize")
            disk_config.check_resize(inst, wanted)
            self.svc.resizes.resize(req.ctx, inst, str(ref))
            if wanted:
                inst = self.servers.update(req.ctx, inst.uuid, {})
                self.servers.update(req.ctx, inst.uuid, disk_config.changes(inst, wanted))
        elif name == "confirmResize":
            self.svc.resizes.confirm(req.ctx, inst)
            return Reply(None, 204)
        elif name == "revertResize":
            self.svc.resizes.revert(req.ctx, inst)
        elif name == "os-resetState":
            state = (args or {}).get("state") if isinstance(args, dict) else None
            if state not in ("active", "error"):
                raise errors.BadRequest("Invalid input for field 'os-resetState.state': must "
                                        "be one of 'active', 'error'")
            self.servers.update(req.ctx, inst.uuid, {"vm_state": state, "task_state": None})
            self.servers.record_action(req.ctx, inst.uuid, "reset_state")
        return None

    def _lock(self, req: Request, inst: Any, args: Any) -> None:
        reason = None
        if isinstance(args, dict) and "locked_reason" in args:
            if not req.at_least("2.73"):
                raise errors.BadRequest("Invalid input for field 'lock': Additional "
                                        "properties are not allowed")
            reason = args["locked_reason"]
            if not isinstance(reason, str) or len(reason) > 255:
                raise errors.BadRequest("Invalid input for field 'lock.locked_reason'")
        elif args not in (None, {}) and not isinstance(args, dict):
            raise errors.BadRequest("Invalid input for field 'lock'")
        owner = "owner" if req.ctx.project_id == inst.project_id else "admin"
        self.servers.update(req.ctx, inst.uuid, {"locked": True, "locked_by": owner,
                                                 "locked_reason": reason})
        self.servers.record_action(req.ctx, inst.uuid, "lock")

    def _unlock(self, req: Request, inst: Any) -> None:
        if inst.locked and inst.locked_by == "admin" and req.ctx.project_id == \
                inst.project_id:
            req.enforce(f"{P}os-lock-server:unlock:unlock_override", _target(inst))
        self.servers.update(req.ctx, inst.uuid, {"locked": False, "locked_by": None,
                                                 "locked_reason": None})
        self.servers.record_action(req.ctx, inst.uuid, "unlock")


class Metadata:
    def __init__(self, svc: "ComputeService") -> None:
        self.servers = svc.servers

    def _inst(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(f"{P}server-metadata:{rule}", _target(inst))
        return inst

    @route("GET", "/v2.1/servers/{server_id}/metadata")
    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        return {"metadata": dict(self._inst(req, server_id, "index").server_metadata or {})}

    @route("POST", "/v2.1/servers/{server_id}/metadata")
    def create(self, req: Request, server_id: str) -> dict[str, Any]:
        self._inst(req, server_id, "create")
        body = validate(schemas.metadata, req.json())["metadata"]
        return {"metadata": self.servers.set_metadata(req.ctx, server_id, body, False)}

    @route("PUT", "/v2.1/servers/{server_id}/metadata")
    def update_all(self, req: Request, server_id: str) -> dict[str, Any]:
        self._inst(req, server_id, "update_all")
        body = validate(schemas.metadata, req.json())["metadata"]
        return {"metadata": self.servers.set_metadata(req.ctx, server_id, body, True)}

    @route("GET", "/v2.1/servers/{server_id}/metadata/{key}")
    def show(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        md = self._inst(req, server_id, "show").server_metadata or {}
        if key not in md:
            raise errors.NotFound("Metadata item was not found")
        return {"meta": {key: md[key]}}

    @route("PUT", "/v2.1/servers/{server_id}/metadata/{key}")
    def update(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        self._inst(req, server_id, "update")
        body = validate(schemas.meta_item, req.json())["meta"]
        if key not in body:
            raise errors.BadRequest("Request body and URI mismatch")
        self.servers.set_metadata(req.ctx, server_id, body, False)
        return {"meta": body}

    @route("DELETE", "/v2.1/servers/{server_id}/metadata/{key}", status=204)
    def delete(self, req: Request, server_id: str, key: str) -> None:
        self._inst(req, server_id, "delete")
        self.servers.delete_metadata(req.ctx, server_id, key)


class InstanceActions:
    def __init__(self, svc: "ComputeService") -> None:
        self.servers = svc.servers
        self.db = svc.cloud.db

    def _inst(self, req: Request, server_id: str, rule: str) -> Any:
        from sqlalchemy import select

        from pocketstack.compute.models import Instance

        with self.db.read() as s:  # actions of deleted servers stay visible (2.21)
            inst = s.scalar(select(Instance).where(Instance.uuid == server_id))
        if inst is None or (inst.deleted and not req.at_least("2.21")) or (
                not req.ctx.is_admin and inst.project_id != req.ctx.project_id):
            raise errors.NotFound(f"Instance {server_id} could not be found.")
        req.enforce(f"{P}os-instance-actions:{rule}", _target(inst))
        return inst

    @staticmethod
    def _view(req: Request, a: Any) -> dict[str, Any]:
        out = {"action": a.action, "instance_uuid": a.instance_uuid, "message": a.message,
               "project_id": a.project_id, "request_id": a.request_id,
               "start_time": views.iso_us(a.start_time), "user_id": a.user_id}
        if req.at_least("2.58"):
            out["updated_at"] = views.iso_us(a.updated_at or a.start_time)
        return out

    @route("GET", "/v2.1/servers/{server_id}/os-instance-actions")
    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self._inst(req, server_id, "list")
        rows = self.servers.actions(server_id)
        out: dict[str, Any] = {}
        if req.at_least("2.58"):
            from pocketstack.compute.api.common import int_param, next_link
            from pocketstack.compute.api.servers import Servers

            for key, keep in (("changes-since", lambda a, t: (a.updated_at or a.start_time) >= t),
                              ("changes-before",
                               lambda a, t: (a.updated_at or a.start_time) <= t)):
                if req.query.get(key) and (key == "changes-since" or req.at_least("2.66")):
                    when = Servers._time(req.query[key], key)
                    rows = [a for a in rows if keep(a, when)]
            marker = req.query.get("marker")
            if marker is not None:
                idx = next((i for i, a in enumerate(rows) if a.request_id == marker), None)
                if idx is None:
                    raise errors.BadRequest(f"Marker {marker} could not be found.")
                rows = rows[idx + 1:]
            limit = int_param(req, "limit")
            if limit is not None:
                rows = rows[:limit]
            links = next_link(req, f"servers/{server_id}/os-instance-actions", rows, limit,
                              rows[-1].request_id if rows else "")
            if links:
                out["links"] = links
        return {"instanceActions": [self._view(req, a) for a in rows], **out}

    @route("GET", "/v2.1/servers/{server_id}/os-instance-actions/{request_id}")
    def show(self, req: Request, server_id: str, request_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "show")
        action = next((a for a in self.servers.actions(server_id)
                       if a.request_id == request_id), None)
        if action is None:
            raise errors.NotFound(f"Action {request_id} not found")
        out = self._view(req, action)
        show_events = req.authorized(f"{P}os-instance-actions:events", _target(inst))
        show_details = req.at_least("2.84") and req.authorized(
            f"{P}os-instance-actions:events:details", _target(inst))
        if show_events or req.at_least("2.51"):
            events = []
            for e in action.events or []:
                ev = {"event": e["event"], "start_time": e["start_time"],
                      "finish_time": e["finish_time"], "result": e["result"]}
                if show_events:
                    ev["traceback"] = e.get("traceback")
                if req.at_least("2.62"):
                    ev["hostId"] = views.host_id(inst.project_id, e.get("host"))
                    if show_events:
                        ev["host"] = e.get("host")
                if req.at_least("2.84") and show_details:
                    ev["details"] = _event_details(e)
                events.append(ev)
            out["events"] = events
        return {"instanceAction": out}


def _event_details(event: dict[str, Any]) -> str | None:
    """An event's fault message (2.84): what failed, without the traceback; None when the
    event succeeded."""
    if event.get("details") is not None or event.get("result") != "Error":
        return event.get("details")
    lines = [line for line in (event.get("traceback") or "").splitlines() if line.strip()]
    return (lines[-1].strip() if lines else "Error")[:255]
