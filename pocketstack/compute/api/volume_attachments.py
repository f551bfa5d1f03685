"""/servers/{server_id}/os-volume_attachments: list, show, attach (200), update (2.85) and
swap (PUT with another volumeId, compute/volume_swap.py), detach (202)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.compute import volume_swap
from pocketstack.compute.api.common import offset_page
from pocketstack.compute.models import BlockDeviceMapping
from pocketstack.compute.volumes import _as_bool
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-volumes-attachments:"
register_defaults([RuleDefault(P + "index", "rule:project_reader_or_admin"),
                   RuleDefault(P + "show", "rule:project_reader_or_admin"),
                   RuleDefault(P + "create", "rule:project_member_or_admin"),
                   RuleDefault(P + "update", "rule:project_member_or_admin"),
                   # Nova: swapping is Cinder's callback (its service user)
                   RuleDefault(P + "swap", "rule:service_or_admin"),
                   RuleDefault(P + "delete", "rule:project_member_or_admin")])
BASE = "/v2.1/servers/{server_id}/os-volume_attachments"


def view(req: Request, row: BlockDeviceMapping, created: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.volume_id, "serverId": row.instance_uuid,
                           "volumeId": row.volume_id, "device": row.device_name}
    if req.at_least("2.70"):
        out["tag"] = row.tag
    if req.at_least("2.79"):
        out["delete_on_termination"] = bool(row.delete_on_termination)
    # 2.89: the Cinder attachment and the BDM, without "id" (= volumeId); Nova's attach
    # reply never got this change
    if req.at_least("2.89") and not created:
        del out["id"]
        out["attachment_id"], out["bdm_uuid"] = row.attachment_id, row.uuid
    return out


class VolumeAttachments:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def _server(self, req: Request, server_id: str, action: str) -> Any:
        every = req.ctx.is_admin or action == "swap" and "service" in req.ctx.roles
        inst = self.svc.servers.get(req.ctx, server_id, all_projects=every)
        req.enforce(P + action, {"project_id": inst.project_id, "user_id": inst.user_id})
        return inst

    @route("GET", BASE)
    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self._server(req, server_id, "index")
        rows = offset_page(req, self.svc.volumes.attachments(inst.uuid))
        return {"volumeAttachments": [view(req, r) for r in rows]}

    @route("GET", BASE + "/{volume_id}")
    def show(self, req: Request, server_id: str, volume_id: str) -> dict[str, Any]:
        inst = self._server(req, server_id, "show")
        return {"volumeAttachment": view(req, self.svc.volumes.find(inst.uuid, volume_id))}

    @route("POST", BASE)
    def create(self, req: Request, server_id: str) -> dict[str, Any]:
        body = req.json()
        att = body.get("volumeAttachment") if isinstance(body, dict) else None
        if not isinstance(att, dict) or not isinstance(att.get("volumeId"), str):
            raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. "
                                    "'volumeId' is a required property")
        allowed = {"volumeId", "device"}
        if req.at_least("2.49"):
            allowed.add("tag")
        if req.at_least("2.79"):
            allowed.add("delete_on_termination")
        extra = set(att) - allowed
        if extra:
            raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. "
                                    "Additional properties are not allowed "
                                    f"({', '.join(sorted(extra))} was unexpected)")
        device = att.get("device")
        if device is not None and not isinstance(device, str):
            raise errors.BadRequest("Invalid input for field/attribute device.")
        tag = att.get("tag")
        if tag is not None and (not isinstance(tag, str) or len(tag) > 60 or "/" in tag
                                or "," in tag):
            raise errors.BadRequest(f"Invalid input for field/attribute tag. Value: {tag}.")
        inst = self._server(req, server_id, "create")
        row = self.svc.volumes.attach(req.ctx, inst, att["volumeId"], device or None, tag,
                                      _as_bool(att.get("delete_on_termination"),
                                               "delete_on_termination"))
        return {"volumeAttachment": view(req, row, created=True)}

    @route("PUT", BASE + "/{volume_id}", status=202)
    def update(self, req: Request, server_id: str, volume_id: str) -> None:
        body = req.json()
        att = body.get("volumeAttachment") if isinstance(body, dict) else None
        if not isinstance(att, dict) or not isinstance(att.get("volumeId"), str):
            raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. "
                                    "'volumeId' is a required property")
        regular = req.at_least("2.85")  # before: a PUT always swaps the volume
        allowed = {"volumeId"} | ({"device", "tag", "delete_on_termination", "serverId",
                                    "id"} if regular else set())
        extra = set(att) - allowed
        if extra:
            raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. "
                                    "Additional properties are not allowed "
                                    f"({', '.join(sorted(extra))} was unexpected)")
        swap = not regular or att["volumeId"] != volume_id
        inst = self._server(req, server_id, "swap" if swap else "update")
        if regular:
            row = self.svc.volumes.find(inst.uuid, volume_id)
            for key, current in (("id", volume_id), ("serverId", inst.uuid),
                                 ("device", row.device_name), ("tag", row.tag)):
                if key in att and att[key] != current:
                    raise errors.BadRequest(f"The {key} property is not mutable")
            if "delete_on_termination" in att:
                if att["delete_on_termination"] is None:
                    raise errors.BadRequest("Invalid input for field/attribute "
                                            "delete_on_termination. Value: None.")
                self.svc.volumes.set_delete_on_termination(
                    inst.uuid, volume_id, _as_bool(att["delete_on_termination"],
                                                   "delete_on_termination"))
        if swap:  # (compute/volume_swap.py: only for a volume being migrated, as Nova)
            volume_swap.swap(self.svc.volumes, req.ctx, inst, volume_id, att["volumeId"])

    @route("DELETE", BASE + "/{volume_id}", status=202)
    def delete(self, req: Request, server_id: str, volume_id: str) -> None:
        inst = self._server(req, server_id, "delete")
        self.svc.volumes.detach(req.ctx, inst, volume_id)
