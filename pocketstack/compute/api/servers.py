"""/servers: create, list, show, update, delete."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute import disk_config, states
from pocketstack.compute.api import schemas, views
from pocketstack.compute.api.common import bool_param, int_param, next_link
from pocketstack.compute.networks import prefetch_ports
from pocketstack.compute.server_queries import BRIEF_COLUMNS, VIEW_COLUMNS, show_server

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:servers:"
_USER_FILTERS = {"name", "status", "image", "flavor", "changes-since", "reservation_id",
                 "ip", "ip6", "limit", "marker", "sort_key", "sort_dir", "all_tenants",
                 "tags", "tags-any", "not-tags", "not-tags-any", "locked",
                 "availability_zone", "changes-before", "deleted", "config_drive",
                 "key_name", "created_at", "description", "launched_at", "terminated_at",
                 "user_id", "project_id", "tenant_id", "host", "node", "task_state",
                 "vm_state", "power_state", "uuid", "hostname", "progress", "launch_index",
                 "access_ip_v4", "access_ip_v6", "kernel_id", "ramdisk_id",
                 "root_device_name", "display_name", "display_description"}

_FILTERS_283 = ("availability_zone", "config_drive", "key_name", "created_at", "launched_at",
                "terminated_at", "power_state", "task_state", "vm_state", "progress",
                "user_id")

_UPDATE_HIDDEN = ("OS-EXT-AZ:", "OS-EXT-SRV-ATTR:", "OS-EXT-STS:", "OS-SRV-USG:",
                  "os-extended-volumes:", "config_drive", "host_status", "key_name",
                  "security_groups", "server_groups")


_HOSTNAME = re.compile(r"^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$")
_FQDN = re.compile(r"^[a-zA-Z0-9-._]*$")


def check_hostname(req: Request, value: Any) -> None:
    """``hostname`` of create, update and rebuild: from 2.90 on, a host name of 2 to 63
    characters; from 2.94 on, any FQDN-like name of 1 to 255."""
    if not req.at_least("2.90"):
        raise errors.BadRequest("Additional properties are not allowed ('hostname' was "
                                "unexpected)")
    fqdn = req.at_least("2.94")
    low, high, pattern = (1, 255, _FQDN) if fqdn else (2, 63, _HOSTNAME)
    if not isinstance(value, str) or not low <= len(value) <= high or \
            not pattern.match(value):
        raise errors.BadRequest(f"Invalid input for field/attribute hostname. Value: "
                                f"{value}. '{value}' does not match '{pattern.pattern}' "
                                f"(or is not {low} to {high} characters long)")


def check_personality(svc: "ComputeService", req: Request, files: Any) -> None:
    """``personality`` of create and rebuild (up to 2.56): path/contents items, the contents
    base64, within the project's injected-file quotas (403 as Nova's Onset*LimitExceeded)."""
    if req.at_least("2.57"):
        raise errors.BadRequest("Additional properties are not allowed ('personality' was "
                                "unexpected)")
    validate(schemas.personality, files)
    limits = svc.quotas.limits(req.ctx.project_id or "")
    if 0 <= limits["injected_files"] < len(files):
        raise errors.Forbidden("Personality file limit exceeded")
    for item in files:
        try:
            contents = base64.b64decode(item["contents"].encode(), validate=True)
        except (ValueError, binascii.Error):
            raise errors.BadRequest("Invalid input for field/attribute contents. Value: "
                                    f"{item['contents']}. '{item['contents']}' is not a "
                                    "'base64'") from None
        if 0 <= limits["injected_file_path_bytes"] < len(item["path"].encode()):
            raise errors.Forbidden("Personality file path exceeds maximum "
                                   f"{limits['injected_file_path_bytes']}")
        if 0 <= limits["injected_file_content_bytes"] < len(contents):
            raise errors.Forbidden("Personality file content exceeds maximum "
                                   f"{limits['injected_file_content_bytes']}")


class Servers:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.servers = svc.servers

    def _get(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(rule, {"project_id": inst.project_id, "user_id": inst.user_id})
        return inst

    # -- create ---------------------------------------------------------------
    @route("POST", "/v2.1/servers", status=202, policy=f"{P}create")
    def create(self, req: Request) -> Reply:
        if not req.ctx.project_id:
            raise errors.Forbidden("Creating a server needs a project-scoped token.")
        raw = req.json()
        if not isinstance(raw, dict):
            raise errors.BadRequest("Invalid input for field 'body': must be an object")
        hints = raw.pop("os:scheduler_hints", None) or raw.pop("OS-SCH-HNT:scheduler_hints",
                                                               None) or {}
        if not isinstance(hints, dict):
            raise errors.BadRequest("Invalid input for field 'os:scheduler_hints'")
        body = validate(schemas.server_create, raw)["server"]
        if req.at_least("2.37") and "networks" not in body:
            raise errors.BadRequest("Invalid input for field 'server': 'networks' is a "
                                    "required property")
        if not req.at_least("2.37") and body.get("networks") in ("auto", "none"):
            raise errors.BadRequest("Invalid input for field 'networks': 'auto'/'none' need "
                                    "microversion 2.37 or later")
        if "tags" in body and not req.at_least("2.52"):
            raise errors.BadRequest("Additional properties are not allowed ('tags' was "
                                    "unexpected)")
        if "description" in body and not req.at_least("2.19"):
            raise errors.BadRequest("Additional properties are not allowed ('description' "
                                    "was unexpected)")
        if "personality" in body:
            check_personality(self.svc, req, body["personality"])
        if "hostname" in body:
            check_hostname(req, body["hostname"])
            if int(body.get("max_count", 1) or 1) > 1:
                raise errors.BadRequest("Unable to allocate a single hostname to multiple "
                                        "instances")
        for key, version in (("host", "2.74"), ("hypervisor_hostname", "2.74"),
                             ("trusted_image_certificates", "2.63")):
            if key in body and not req.at_least(version):
                raise errors.BadRequest(f"Additional properties are not allowed ('{key}' was "
                                        "unexpected)")
        if ("host" in body or "hypervisor_hostname" in body):
            req.enforce("os_compute_api:servers:create:requested_destination")
        if body.get("trusted_image_certificates"):
            raise errors.BadRequest("Image certificate validation is not supported by the "
                                    "fake driver.")
        for key in ("min_count", "max_count"):
            if key in body:
                try:
                    body[key] = int(body[key])
                except ValueError:
                    raise errors.BadRequest(f"Invalid input for field '{key}'") from None
                if body[key] < 1:
                    raise errors.BadRequest(f"Invalid input for field '{key}': must be >= 1")
        instances, admin_pass = self.servers.create(req.ctx, body, hints, req.ctx.request_id)
        if body.get("return_reservation_id"):
            return Reply({"reservation_id": instances[0].reservation_id}, 202)
        first = instances[0]
        server = {"id": first.uuid, "links": views.links(req, "servers", first.uuid),
                  "OS-DCF:diskConfig": disk_config.value(first),
                  "adminPass": admin_pass}
        if body.get("networks") not in ("none", None, "auto") or \
                self.svc.cloud.service("network") is not None:
            server["security_groups"] = [{"name": g["name"]} for g in body.get(
                "security_groups") or [{"name": "default"}]]
        return Reply({"server": server}, 202,
                     {"Location": f"{req.base_url}/v2.1/servers/{first.uuid}"})

    # -- list -----------------------------------------------------------------
    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        q = req.query
        admin = req.authorized(f"{P}{'detail' if detail else 'index'}:get_all_tenants")
        all_tenants = q.get("all_tenants")
        all_projects = False
        if all_tenants is not None:
            all_projects = all_tenants == "" or bool_param(all_tenants)
            if all_projects and not admin:
                raise errors.Forbidden(f"Policy doesn't allow {P}"
                                       f"{'detail' if detail else 'index'}:get_all_tenants "
                                       "to be performed.")
        project_id = None if all_projects else req.ctx.project_id
        if admin and (q.get("project_id") or q.get("tenant_id")) and all_projects:
            project_id = q.get("project_id") or q.get("tenant_id")
        filters: dict[str, Any] = {}
        for key in ("name", "flavor", "image", "reservation_id"):
            if q.get(key) is not None:
                filters[key] = q.get(key)
        # what a non-admin may filter on grew at 2.83 and 2.90 (others are ignored, as Nova)
        wider = _FILTERS_283 if admin or req.at_least("2.83") else ()
        if admin or req.at_least("2.90"):
            wider += ("hostname",)
        for key in wider + (("host", "node") if admin else ()):
            if q.get(key) is not None:
                filters[key] = q.get(key)
        for key in ("power_state", "progress"):
            if key in filters:
                filters[key] = int_param(req, key)
        if "config_drive" in filters:
            filters["config_drive"] = bool_param(filters["config_drive"])
        if req.at_least("2.26"):
            for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
                if q.get(key):
                    filters[key] = q.get(key)
        if q.get("ip") or q.get("ip6"):
            filters["ip"] = (q.get("ip"), q.get("ip6"))
        status = q.get("status")
        if status is not None:
            vm = states.STATUS_TO_VM.get(status.upper())
            if vm is None:
                if req.at_least("2.38"):
                    raise errors.BadRequest("Invalid status value")
                vm = []
            filters["vm_states"] = vm
            if status.upper() in ("REBOOT", "HARD_REBOOT"):
                filters["task_states"] = [states.REBOOTING if status.upper() == "REBOOT"
                                          else states.REBOOTING_HARD]
            elif status.upper() == "RESIZE":
                filters["task_states"] = list(states.RESIZE_TASKS)
            elif status.upper() == "MIGRATING":
                filters["task_states"] = ["migrating"]
            elif status.upper() == "PASSWORD":
                filters["task_states"] = [states.UPDATING_PASSWORD]
            elif status.upper() in ("ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED", "ERROR"):
                filters["task_states"] = [None, states.POWERING_OFF, states.POWERING_ON,
                                          states.PAUSING, states.UNPAUSING,
                                          states.SUSPENDING, states.RESUMING, states.DELETING]
        if q.get("locked") is not None and req.at_least("2.73"):
            filters["locked"] = bool_param(q.get("locked"))
        if q.get("changes-since"):
            filters["changes-since"] = self._time(q.get("changes-since"), "changes-since")
        if q.get("changes-before") and req.at_least("2.66"):
            filters["changes-before"] = self._time(q.get("changes-before"), "changes-before")
            since = filters.get("changes-since")
            if since is not None and since > filters["changes-before"]:
                raise errors.BadRequest("The value of changes-since must be less than or "
                                        "equal to changes-before.")
        if q.get("deleted") is not None and admin and bool_param(q.get("deleted")):
            filters["deleted"] = True
        limit = int_param(req, "limit")
        marker = q.get("marker")
        sort_key, sort_dir = q.get("sort_key", "created_at"), q.get("sort_dir", "desc")
        if sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid input for query parameters sort_dir. Value: "
                                    f"{sort_dir}")
        rows = self.servers.list(project_id, filters, limit, marker, sort_key, sort_dir,
                                 VIEW_COLUMNS if detail else BRIEF_COLUMNS)
        if detail:
            req._ports = prefetch_ports(self.svc.cloud, [r.uuid for r in rows])  # type: ignore
            items = [views.server(self.svc, req, r) for r in rows]
        else:
            items = [views.server_brief(req, r) for r in rows]
        out: dict[str, Any] = {"servers": items}
        nxt = next_link(req, "servers/detail" if detail else "servers", rows, limit,
                        rows[-1].uuid if rows else "")
        if nxt:
            out["servers_links"] = nxt
        return out

    @staticmethod
    def _time(text: str, name: str) -> dt.datetime:
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise errors.BadRequest(f"Invalid input for query parameters {name}. Value: "
                                    f"{text}. '{text}' is not a 'date-time'") from None
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    @route("GET", "/v2.1/servers", policy=f"{P}index")
    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=False)

    @route("GET", "/v2.1/servers/detail", policy=f"{P}detail")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=True)

    # -- one server -----------------------------------------------------------
    @route("GET", "/v2.1/servers/{server_id}")
    def show(self, req: Request, server_id: str) -> dict[str, Any]:
        inst, extras = show_server(self.svc.cloud.db, self.svc.cloud, server_id)
        if inst is None or inst.deleted or (not req.ctx.is_admin and
                                            inst.project_id != req.ctx.project_id):
            raise errors.NotFound(f"Instance {server_id} could not be found.")
        req.enforce(f"{P}show", {"project_id": inst.project_id, "user_id": inst.user_id})
        for name, value in extras.items():
            setattr(req, name, value)
        return {"server": views.server(self.svc, req, inst, show=True)}

    @route("PUT", "/v2.1/servers/{server_id}")
    def update(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._get(req, server_id, f"{P}update")
        body = validate(schemas.server_update, req.json())["server"]
        if "description" in body and not req.at_least("2.19"):
            raise errors.BadRequest("Additional properties are not allowed ('description' "
                                    "was unexpected)")
        if "hostname" in body:
            check_hostname(req, body["hostname"])
        self.servers.check_lock(req.ctx, inst)
        changes = {}
        if "name" in body:
            changes["display_name"] = body["name"]
        if "description" in body:
            changes["description"] = body["description"]
        if "hostname" in body:
            changes["hostname"] = body["hostname"]
        if "accessIPv4" in body:
            changes["access_ip_v4"] = body["accessIPv4"] or None
        if "accessIPv6" in body:
            changes["access_ip_v6"] = body["accessIPv6"] or None
        changes.update(disk_config.changes(inst, body.get(disk_config.KEY)))
        inst = self.servers.update(req.ctx, server_id, changes)
        out = views.server(self.svc, req, inst, show=True)
        if not req.at_least("2.75"):  # Nova's update view before 2.75: no extensions
            out = {k: v for k, v in out.items() if not k.startswith(_UPDATE_HIDDEN)}
            out["addresses"] = {n: [{"version": a["version"], "addr": a["addr"]} for a in e]
                                for n, e in out["addresses"].items()}
        return {"server": out}

    @route("DELETE", "/v2.1/servers/{server_id}", status=204)
    def delete(self, req: Request, server_id: str) -> None:
        inst = self._get(req, server_id, f"{P}delete")
        self.svc.soft_deletes.delete(req.ctx, inst)
