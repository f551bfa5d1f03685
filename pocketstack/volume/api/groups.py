"""/group_types (3.11+), /groups (3.13+) and /group_snapshots (3.14+)."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.volume import common
from pocketstack.volume.api.types import one_spec
from pocketstack.volume.api.volumes import body_of
from pocketstack.volume.common import vroute
from pocketstack.volume.groups import Groups, GroupSnapshots, GroupTypes

GROUP_SINCE = {"group_snapshot_id": "3.14", "source_group_id": "3.14",
               "replication_status": "3.38", "project_id": "3.58"}


def _group(req: Request, g: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in g.items() if k not in GROUP_SINCE or req.at_least(GROUP_SINCE[k])}
    if not (req.at_least("3.25") and common.as_bool(req.query.get("list_volume", False),
                                                      "list_volume")):
        out.pop("volumes", None)
    return out


def _group_snapshot(req: Request, x: dict[str, Any]) -> dict[str, Any]:
    out = dict(x)
    if not req.at_least("3.58"):
        out.pop("project_id", None)
    return out


def _page(req: Request, items: list[dict[str, Any]], collection: str, key: str,
          detail: bool, view: Any) -> dict[str, Any]:
    page, links = common.paginate(req, items, collection)
    out: dict[str, Any] = {key: [view(req, i) if detail else {"id": i["id"], "name": i["name"]}
                                 for i in page]}
    if links:
        out[f"{key}_links"] = links
    return out


def _action_arg(body: Any, name: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        return None
    return body[name]


class GroupTypesApi:
    def __init__(self, group_types: GroupTypes) -> None:
        self.types = group_types

    @vroute("POST", "/group_types", status=202, policy="group:group_types_manage",
            min_version="3.11")
    def create(self, req: Request) -> dict[str, Any]:
        return {"group_type": self.types.create(body_of(req, "group_type"))}

    @vroute("GET", "/group_types", policy="group:group_types:get_all", min_version="3.11")
    def list(self, req: Request) -> dict[str, Any]:
        items = self.types.list(req.ctx.is_admin, req.query.get("is_public"))
        page, _ = common.paginate(req, items, "group_types")
        return {"group_types": page}

    @vroute("GET", "/group_types/default", policy="group:group_types:get_all",
            min_version="3.11")
    def default(self, req: Request) -> dict[str, Any]:
        raise errors.NotFound("Default group type can not be found.")

    @vroute("GET", "/group_types/{type_id}", policy="group:group_types:get_all",
            min_version="3.11")
    def get(self, req: Request, type_id: str) -> dict[str, Any]:
        return {"group_type": self.types.get(type_id, req.ctx.is_admin)}

    @vroute("PUT", "/group_types/{type_id}", policy="group:group_types_manage",
            min_version="3.11")
    def update(self, req: Request, type_id: str) -> dict[str, Any]:
        return {"group_type": self.types.update(type_id, body_of(req, "group_type"))}

    @vroute("DELETE", "/group_types/{type_id}", status=202, policy="group:group_types_manage",
            min_version="3.11")
    def delete(self, req: Request, type_id: str) -> None:
        self.types.delete(type_id)

    @vroute("GET", "/group_types/{type_id}/group_specs", policy="group:group_types_specs",
            min_version="3.11")
    def specs(self, req: Request, type_id: str) -> dict[str, Any]:
        return {"group_specs": self.types.specs(type_id)}

    @vroute("POST", "/group_types/{type_id}/group_specs", status=202,
            policy="group:group_types_specs", min_version="3.11")
    def set_specs(self, req: Request, type_id: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("group_specs"), dict):
            raise errors.BadRequest("Missing required element 'group_specs' in request body.")
        return {"group_specs": self.types.set_specs(type_id, body["group_specs"])}

    @vroute("GET", "/group_types/{type_id}/group_specs/{key}",
            policy="group:group_types_specs", min_version="3.11")
    def get_spec(self, req: Request, type_id: str, key: str) -> dict[str, Any]:
        specs = self.types.specs(type_id)
        if key not in specs:
            raise errors.NotFound(f"Group Type {type_id} has no specs with key {key}.")
        return {key: specs[key]}

    @vroute("PUT", "/group_types/{type_id}/group_specs/{key}",
            policy="group:group_types_specs", min_version="3.11")
    def put_spec(self, req: Request, type_id: str, key: str) -> dict[str, Any]:
        return self.types.set_specs(type_id, one_spec(req, key))

    @vroute("DELETE", "/group_types/{type_id}/group_specs/{key}", status=202,
            policy="group:group_types_specs", min_version="3.11")
    def delete_spec(self, req: Request, type_id: str, key: str) -> None:
        self.types.delete_spec(type_id, key)


class GroupsApi:
    def __init__(self, groups: Groups, group_snapshots: GroupSnapshots) -> None:
        self.groups = groups
        self.group_snapshots = group_snapshots

    @vroute("POST", "/groups", status=202, policy="group:create", min_version="3.13")
    def create(self, req: Request) -> dict[str, Any]:
        g = self.groups.create(req.ctx, body_of(req, "group"))
        return {"group": {"id": g["id"], "name": g["name"]}}

    @vroute("GET", "/groups", policy="group:get_all", min_version="3.13")
    def list(self, req: Request) -> dict[str, Any]:
        return _page(req, self.groups.list(req.ctx, common.all_projects(req)), "groups",
                     "groups", False, _group)

    @vroute("GET", "/groups/detail", policy="group:get_all", min_version="3.13")
    def detail(self, req: Request) -> dict[str, Any]:
        return _page(req, self.groups.list(req.ctx, common.all_projects(req)),
                     "groups/detail", "groups", True, _group)

    @vroute("GET", "/groups/{group_id}", policy="group:get", min_version="3.13")
    def get(self, req: Request, group_id: str) -> dict[str, Any]:
        return {"group": _group(req, self.groups.get(req.ctx, group_id))}

    @vroute("PUT", "/groups/{group_id}", status=202, policy="group:update",
            min_version="3.13")
    def update(self, req: Request, group_id: str) -> None:
        self.groups.update(req.ctx, group_id, body_of(req, "group"))

    @vroute("POST", "/groups/{group_id}/action", status=202, policy="group:update",
            min_version="3.13")
    def action(self, req: Request, group_id: str) -> None:
        body = req.json()
        delete = _action_arg(body, "delete")
        if delete is not None:
            req.enforce("group:delete")
            if not isinstance(delete, dict):
                raise errors.BadRequest("Missing required element 'delete' in request body.")
            flag = common.as_bool(delete.get("delete-volumes", False), "delete-volumes")
            self.groups.delete(req.ctx, group_id, flag)
            return
        reset = _action_arg(body, "reset_status")
        if reset is not None and req.at_least("3.20"):
            req.enforce("group:reset_status")
            status = reset.get("status") if isinstance(reset, dict) else None
            self.groups.reset_status(req.ctx, group_id, status)
            return
        raise errors.BadRequest("There is no such action: "
                                f"{', '.join(body) if isinstance(body, dict) else body}")

    @vroute("POST", "/groups/action", status=202, policy="group:create", min_version="3.14")
    def create_from_source(self, req: Request) -> dict[str, Any]:
        g = self.groups.create_from_source(req.ctx, body_of(req, "create-from-src"))
        return {"group": {"id": g["id"], "name": g["name"]}}


class GroupSnapshotsApi:
    def __init__(self, group_snapshots: GroupSnapshots) -> None:
        self.snaps = group_snapshots

    @vroute("POST", "/group_snapshots", status=202, policy="group:create_group_snapshot",
            min_version="3.14")
    def create(self, req: Request) -> dict[str, Any]:
        x = self.snaps.create(req.ctx, body_of(req, "group_snapshot"))
        return {"group_snapshot": {"id": x["id"], "name": x["name"],
                                   "group_type_id": x["group_type_id"]}}

    @vroute("GET", "/group_snapshots", policy="group:get_all_group_snapshots",
            min_version="3.14")
    def list(self, req: Request) -> dict[str, Any]:
        return _page(req, self.snaps.list(req.ctx, common.all_projects(req)),
                     "group_snapshots", "group_snapshots", False, _group_snapshot)

    @vroute("GET", "/group_snapshots/detail", policy="group:get_all_group_snapshots",
            min_version="3.14")
    def detail(self, req: Request) -> dict[str, Any]:
        return _page(req, self.snaps.list(req.ctx, common.all_projects(req)),
                     "group_snapshots/detail", "group_snapshots", True, _group_snapshot)

    @vroute("GET", "/group_snapshots/{snapshot_id}", policy="group:get_group_snapshot",
            min_version="3.14")
    def get(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        return {"group_snapshot": _group_snapshot(req, self.snaps.get(req.ctx, snapshot_id))}

    @vroute("DELETE", "/group_snapshots/{snapshot_id}", status=202,
            policy="group:delete_group_snapshot", min_version="3.14")
    def delete(self, req: Request, snapshot_id: str) -> None:
        self.snaps.delete(req.ctx, snapshot_id)

    @vroute("POST", "/group_snapshots/{snapshot_id}/action", status=202,
            policy="group:reset_group_snapshot_status", min_version="3.19")
    def action(self, req: Request, snapshot_id: str) -> None:
        reset = _action_arg(req.json(), "reset_status")
        if not isinstance(reset, dict):
            raise errors.BadRequest("Missing required element 'reset_status' in request "
                                    "body.")
        self.snaps.reset_status(req.ctx, snapshot_id, reset.get("status"))
