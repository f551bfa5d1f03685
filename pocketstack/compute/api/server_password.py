"""/servers/{id}/os-server-password: the password the instance posted to the metadata API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-server-password:"
register_defaults([RuleDefault(P + "show", "rule:project_reader_or_admin"),
                   RuleDefault(P + "clear", "rule:project_member_or_admin")])


class ServerPassword:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def _passwords(self) -> Any:
        metadata = self.svc.cloud.service("metadata")
        if metadata is None:
            raise errors.NotImplementedYet("There is no metadata service in this cloud.")
        return metadata.passwords

    def _inst(self, req: Request, server_id: str, rule: str) -> Any:
        inst = self.svc.servers.get(req.ctx, server_id, all_projects=req.ctx.is_admin)
        req.enforce(P + rule, {"project_id": inst.project_id, "user_id": inst.user_id})
        return inst

    @route("GET", "/v2.1/servers/{server_id}/os-server-password")
    def show(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._inst(req, server_id, "show")
        return {"password": self._passwords().get(inst.uuid)}

    @route("DELETE", "/v2.1/servers/{server_id}/os-server-password", status=204)
    def clear(self, req: Request, server_id: str) -> None:
        inst = self._inst(req, server_id, "clear")
        self._passwords().clear(inst.uuid)
