"""/servers/{id}/tags (2.26)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-server-tags:"
MAX_TAGS = 50
_TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
_TAGS = {"type": "object", "properties": {"tags": {"type": "array", "items": _TAG,
                                                   "maxItems": MAX_TAGS}},
         "required": ["tags"], "additionalProperties": False}


class Tags:
    def __init__(self, svc: "ComputeService") -> None:
        self.servers = svc.servers

    def _inst(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(P + rule, {"project_id": inst.project_id, "user_id": inst.user_id})
        return inst

    def _save(self, req: Request, inst: Any, tags: list[str]) -> list[str]:
        self.servers.check_lock(req.ctx, inst)
        if len(tags) > MAX_TAGS:
            raise errors.BadRequest(f"The number of tags exceeded the per-server limit "
                                    f"{MAX_TAGS}")
        return list(self.servers.update(req.ctx, inst.uuid, {"tags": tags}).tags)

    @route("GET", "/v2.1/servers/{server_id}/tags", min_version="2.26")
    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        return {"tags": list(self._inst(req, server_id, "index").tags or [])}

    @route("PUT", "/v2.1/servers/{server_id}/tags", min_version="2.26")
    def update_all(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "update_all")
        body = validate(_TAGS, req.json())
        return {"tags": self._save(req, inst, list(dict.fromkeys(body["tags"])))}

    @route("DELETE", "/v2.1/servers/{server_id}/tags", status=204, min_version="2.26")
    def delete_all(self, req: Request, server_id: str) -> None:
        self._save(req, self._inst(req, server_id, "delete_all"), [])

    @route("GET", "/v2.1/servers/{server_id}/tags/{tag}", status=204, min_version="2.26")
    def show(self, req: Request, server_id: str, tag: str) -> None:
        if tag not in (self._inst(req, server_id, "show").tags or []):
            raise errors.NotFound(f"Tag '{tag}' could not be found for instance {server_id}.")

    @route("PUT", "/v2.1/servers/{server_id}/tags/{tag}", status=201, min_version="2.26")
    def update(self, req: Request, server_id: str, tag: str) -> Any:
        from pocketstack.api.request import Reply

        inst = self._inst(req, server_id, "update")
        validate(_TAG, tag)
        tags = list(inst.tags or [])
        if tag in tags:
            return Reply(None, 204)
        self._save(req, inst, [*tags, tag])
        return Reply(None, 201, {"Location": f"{req.base_url}/v2.1/servers/{server_id}/tags/"
                                             f"{tag}"})

    @route("DELETE", "/v2.1/servers/{server_id}/tags/{tag}", status=204, min_version="2.26")
    def delete(self, req: Request, server_id: str, tag: str) -> None:
        inst = self._inst(req, server_id, "delete")
        tags = list(inst.tags or [])
        if tag not in tags:
            raise errors.NotFound(f"Tag '{tag}' could not be found for instance {server_id}.")
        tags.remove(tag)
        self._save(req, inst, tags)
