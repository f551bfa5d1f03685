"""/os-server-groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute.api import schemas
from pocketstack.compute.api.common import bool_param, int_param

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-server-groups:"


class ServerGroups:
    def __init__(self, svc: "ComputeService") -> None:
        self.groups = svc.groups

    @route("POST", "/v2.1/os-server-groups", policy=f"{P}create")
    def create(self, req: Request) -> dict[str, Any]:
        if not req.ctx.project_id:
            raise errors.Forbidden("Creating a server group needs a project-scoped token.")
        body = validate(schemas.server_group_create, req.json())["server_group"]
        if req.at_least("2.64"):
            if "policies" in body or "policy" not in body:
                raise errors.BadRequest("Invalid input for field 'server_group': 'policy' is "
                                        "a required property (and 'policies' is not allowed)")
            policy, rules = body["policy"], body.get("rules") or {}
        else:
            if "policy" in body or "rules" in body or "policies" not in body:
                raise errors.BadRequest("Invalid input for field 'server_group': 'policies' "
                                        "is a required property")
            policy, rules = body["policies"][0], {}
        if policy.startswith("soft-") and not req.at_least("2.15"):
            raise errors.BadRequest(f"Invalid input for field 'policies': {policy!r} needs "
                                    "microversion 2.15")
        if rules:
            rules = {k: int(v) for k, v in rules.items()}
        g = self.groups.create(req.ctx.project_id or "", req.ctx.user_id or "", body["name"],
                               policy, rules)
        return {"server_group": self.groups.view(g, req)}

    @route("GET", "/v2.1/os-server-groups", policy=f"{P}index")
    def index(self, req: Request) -> dict[str, Any]:
        project: str | None = req.ctx.project_id
        if bool_param(req.query.get("all_projects")):
            req.enforce(f"{P}index:all_projects")
            project = None
        rows = self.groups.list(project, int_param(req, "limit", 1),
                                int_param(req, "offset") or 0)
        return {"server_groups": [self.groups.view(g, req) for g in rows]}

    @route("GET", "/v2.1/os-server-groups/{group_id}")
    def show(self, req: Request, group_id: str) -> dict[str, Any]:
        g = self.groups.get(group_id, None if req.ctx.is_admin else req.ctx.project_id)
        req.enforce(f"{P}show", {"project_id": g.project_id, "user_id": g.user_id})
        return {"server_group": self.groups.view(g, req)}

    @route("DELETE", "/v2.1/os-server-groups/{group_id}", status=204)
    def delete(self, req: Request, group_id: str) -> None:
        g = self.groups.get(group_id, None if req.ctx.is_admin else req.ctx.project_id)
        req.enforce(f"{P}delete", {"project_id": g.project_id, "user_id": g.user_id})
        self.groups.delete(group_id, None)
