"""Moving servers: the migrate / os-migrateLive / evacuate actions, ``/os-migrations``
and ``/servers/{id}/migrations`` (show, force_complete, abort)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.compute.api import views
from pocketstack.compute.api.common import bool_param, int_param, next_link
from pocketstack.compute.migration_records import IN_PROGRESS_LIVE

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"


def _target(inst: Any) -> dict[str, str]:
    return {"project_id": inst.project_id, "user_id": inst.user_id}


def _fields(req: Request, name: str, args: Any, allowed: set[str],
            required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    if args is None and not required:
        return {}
    if not isinstance(args, dict):
        raise errors.BadRequest(f"Invalid input for field '{name}': must be an object")
    extra = sorted(set(args) - allowed)
    if extra:
        raise errors.BadRequest(f"Invalid input for field '{name}': Additional properties "
                                f"are not allowed ('{extra[0]}' was unexpected)")
    for key in sorted(required - set(args)):
        raise errors.BadRequest(f"Invalid input for field '{name}': '{key}' is a required "
                                "property")
    return args


def _host(name: str, args: dict[str, Any]) -> str | None:
    host = args.get("host")
    if host is not None and (not isinstance(host, str) or not host or len(host) > 255):
        raise errors.BadRequest(f"Invalid input for field '{name}.host'")
    return host


def _boolean(name: str, value: Any, auto: bool = False) -> Any:
    if auto and value == "auto":
        return value
    if isinstance(value, bool):
        return value
    try:
        if isinstance(value, str):
            return bool_param(value)
    except errors.BadRequest:
        pass
    raise errors.BadRequest(f"Invalid input for field '{name}': {value!r} is not of type "
                            "'boolean'")


def migrate(svc: "ComputeService", req: Request, inst: Any, args: Any) -> None:
    req.enforce(P + "os-migrate-server:migrate", _target(inst))
    allowed = {"host"} if req.at_least("2.56") else set()
    host = _host("migrate", _fields(req, "migrate", args, allowed))
    if host is not None:
        req.enforce(P + "os-migrate-server:migrate:host", _target(inst))
    svc.resizes.migrate(req.ctx, inst, host)


def migrate_live(svc: "ComputeService", req: Request, inst: Any, args: Any) -> None:
    req.enforce(P + "os-migrate-server:migrate_live", _target(inst))
    allowed, required = {"host", "block_migration"}, {"host", "block_migration"}
    if not req.at_least("2.25"):
        allowed, required = allowed | {"disk_over_commit"}, required | {"disk_over_commit"}
    if req.at_least("2.30") and not req.at_least("2.68"):
        allowed = allowed | {"force"}
    body = _fields(req, "os-migrateLive", args, allowed, required)
    _boolean("os-migrateLive.block_migration", body["block_migration"],
             auto=req.at_least("2.25"))
    if "disk_over_commit" in body:
        _boolean("os-migrateLive.disk_over_commit", body["disk_over_commit"])
    force = bool(_boolean("os-migrateLive.force", body["force"])) if "force" in body else False
    svc.live.live_migrate(req.ctx, inst, _host("os-migrateLive", body), force)


def evacuate(svc: "ComputeService", req: Request, inst: Any, args: Any) -> Reply:
    req.enforce(P + "os-evacuate", _target(inst))
    allowed, required = {"host", "adminPass"}, set()
    if not req.at_least("2.14"):
        allowed, required = allowed | {"onSharedStorage"}, {"onSharedStorage"}
    if req.at_least("2.29") and not req.at_least("2.68"):
        allowed = allowed | {"force"}
    body = _fields(req, "evacuate", args if args is not None else {}, allowed, required)
    if "onSharedStorage" in body:
        shared = _boolean("evacuate.onSharedStorage", body["onSharedStorage"])
        if shared and body.get("adminPass"):
            raise errors.BadRequest("admin password can't be changed on existing disk")
    password = body.get("adminPass")
    if password is not None and not isinstance(password, str):
        raise errors.BadRequest("Invalid input for field 'evacuate.adminPass'")
    force = bool(_boolean("evacuate.force", body["force"])) if "force" in body else False
    password = svc.live.evacuate(req.ctx, inst, _host("evacuate", body), password, force,
                                 stop=req.at_least("2.95"))
    if req.at_least("2.14"):
        return Reply(None, 200)
    return Reply({"adminPass": password}, 200)


def move_actions(svc: "ComputeService") -> dict[str, Any]:
    """Server actions served here (server_actions dispatches by name)."""
    return {"migrate": lambda req, inst, args: migrate(svc, req, inst, args),
            "os-migrateLive": lambda req, inst, args: migrate_live(svc, req, inst, args),
            "evacuate": lambda req, inst, args: evacuate(svc, req, inst, args)}


class Migrations:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.servers = svc.servers

    def _view(self, req: Request, m: Any) -> dict[str, Any]:
        out = {"created_at": views.iso_us(m.created_at), "dest_compute": m.dest_compute,
               "dest_host": m.dest_host, "dest_node": m.dest_node, "id": m.id,
               "instance_uuid": m.instance_uuid,
               "new_instance_type_id": m.new_instance_type_id,
               "old_instance_type_id": m.old_instance_type_id,
               "source_compute": m.source_compute, "source_node": m.source_node,
               "status": m.status, "updated_at": views.iso_us(m.updated_at)}
        if req.at_least("2.23"):
            out["migration_type"] = m.migration_type
            if m.migration_type == "live-migration" and m.status in IN_PROGRESS_LIVE:
                out["links"] = views.links(req, f"servers/{m.instance_uuid}/migrations",
                                           str(m.id))
        if req.at_least("2.59"):
            out["uuid"] = m.uuid
        if req.at_least("2.80"):
            out["user_id"], out["project_id"] = m.user_id, m.project_id
        return out

    @route("GET", "/v2.1/os-migrations")
    def index(self, req: Request) -> dict[str, Any]:
        req.enforce(P + "os-migrations:index", {})
        q = req.query
        filters = {k: q.get(k) for k in ("host", "status", "instance_uuid", "migration_type",
                                         "source_compute")}
        if req.at_least("2.59"):  # from 2.59 on Nova's query schema is closed
            known = {"hidden", "host", "instance_uuid", "source_compute", "status",
                     "migration_type", "limit", "marker", "changes-since"}
            known |= {"changes-before"} if req.at_least("2.66") else set()
            known |= {"user_id", "project_id"} if req.at_least("2.80") else set()
            extra = sorted(set(q) - known)
            if extra:
                raise errors.BadRequest("Invalid input for query parameters "
                                        f"{extra[0]}. Additional properties are not "
                                        f"allowed ('{extra[0]}' was unexpected)")
        if req.at_least("2.80"):  # filters by owner (before 2.80 they are ignored)
            filters.update(user_id=q.get("user_id"), project_id=q.get("project_id"))
        limit = marker = since = before = None
        if req.at_least("2.59"):
            from pocketstack.compute.api.servers import Servers

            limit, marker = int_param(req, "limit"), q.get("marker")
            if q.get("changes-since"):
                since = Servers._time(q["changes-since"], "changes-since")
            if q.get("changes-before") and req.at_least("2.66"):
                before = Servers._time(q["changes-before"], "changes-before")
                if since is not None and since > before:
                    raise errors.BadRequest("The value of changes-since must be less than or "
                                            "equal to changes-before.")
        rows = self.svc.migrations.list(filters, limit, marker, since, before)
        out: dict[str, Any] = {"migrations": [self._view(req, m) for m in rows]}
        if req.at_least("2.59"):
            links = next_link(req, "os-migrations", rows, limit,
                              rows[-1].uuid if rows else "")
            if links:
                out["migrations_links"] = links
        return out

    def _server(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(f"{P}servers:migrations:{rule}", _target(inst))
        return inst

    def _server_view(self, req: Request, m: Any) -> dict[str, Any]:
        out = {"created_at": views.iso_us(m.created_at), "dest_compute": m.dest_compute,
               "dest_host": m.dest_host, "dest_node": m.dest_node,
               "disk_processed_bytes": m.disk_processed,
               "disk_remaining_bytes": m.disk_remaining, "disk_total_bytes": m.disk_total,
               "id": m.id, "memory_processed_bytes": m.memory_processed,
               "memory_remaining_bytes": m.memory_remaining,
               "memory_total_bytes": m.memory_total, "server_uuid": m.instance_uuid,
               "source_compute": m.source_compute, "source_node": m.source_node,
               "status": m.status, "updated_at": views.iso_us(m.updated_at)}
        if req.at_least("2.59"):
            out["uuid"] = m.uuid
        if req.at_least("2.80"):
            out["user_id"], out["project_id"] = m.user_id, m.project_id
        return out

    @staticmethod
    def _mid(migration_id: str) -> int:
        if not migration_id.isdigit():
            raise errors.NotFound(f"Migration {migration_id} could not be found.")
        return int(migration_id)

    @route("GET", "/v2.1/servers/{server_id}/migrations", min_version="2.23")
    def server_index(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._server(req, server_id, "index")
        return {"migrations": [self._server_view(req, m)
                               for m in self.svc.migrations.for_server(inst.uuid)]}

    @route("GET", "/v2.1/servers/{server_id}/migrations/{migration_id}", min_version="2.23")
    def server_show(self, req: Request, server_id: str, migration_id: str) -> dict[str, Any]:
        inst = self._server(req, server_id, "show")
        rows = self.svc.migrations.for_server(inst.uuid, self._mid(migration_id))
        if not rows:
            raise errors.NotFound(f"In-progress live migration {migration_id} is not found "
                                  f"for server {server_id}.")
        return {"migration": self._server_view(req, rows[0])}

    @route("POST", "/v2.1/servers/{server_id}/migrations/{migration_id}/action", status=202,
           min_version="2.22")
    def server_action(self, req: Request, server_id: str, migration_id: str) -> None:
        body = req.json()
        if not isinstance(body, dict) or list(body) != ["force_complete"]:
            raise errors.BadRequest("Invalid input for field 'force_complete': one "
                                    "'force_complete' action expected")
        inst = self._server(req, server_id, "force_complete")
        self.svc.live.force_complete(req.ctx, inst, self._mid(migration_id))

    @route("DELETE", "/v2.1/servers/{server_id}/migrations/{migration_id}", status=202,
           min_version="2.24")
    def server_abort(self, req: Request, server_id: str, migration_id: str) -> None:
        inst = self._server(req, server_id, "delete")
        self.svc.live.abort(req.ctx, inst, self._mid(migration_id), req.at_least("2.65"))
