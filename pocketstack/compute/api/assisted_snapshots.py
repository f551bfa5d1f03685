"""/os-assisted-volume-snapshots (admin or service role): the Block Storage service asks
Compute to snapshot a volume attached to a server whose hypervisor manages the volume
file (Nova's libvirt with file-based volumes). The volume must be attached; the snapshot
(its new_file and type) is recorded on the attached server's system_metadata
(``assisted_snapshots``), where delete removes it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.compute.models import BlockDeviceMapping, Instance
from pocketstack.compute.transitions import sysmeta
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-assisted-volume-snapshots:"
RULE = "rule:admin_required or rule:service_role"
register_defaults([RuleDefault(f"{P}create", RULE), RuleDefault(f"{P}delete", RULE)])
KEY = "assisted_snapshots"


class AssistedVolumeSnapshots:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.db = svc.cloud.db

    def _attached_to(self, volume_id: str) -> Instance:
        with self.db.read() as s:
            row = s.scalar(select(BlockDeviceMapping).where(
                BlockDeviceMapping.volume_id == volume_id,
                BlockDeviceMapping.destination_type == "volume"))
            inst = s.scalar(select(Instance).where(
                Instance.uuid == row.instance_uuid, Instance.deleted.is_(False))) \
                if row is not None else None
        if inst is None:
            raise errors.NotFound(f"No volume Block Device Mapping with id {volume_id}.")
        return inst

    def _record(self, req: Request, inst: Instance, snapshots: dict[str, Any]) -> None:
        self.svc.servers.update(req.ctx, inst.uuid, {"system_metadata": sysmeta(
            inst, **{KEY: snapshots or None})})

    @route("POST", "/v2.1/os-assisted-volume-snapshots", policy=f"{P}create")
    def create(self, req: Request) -> dict[str, Any]:
        body = req.json()
        snap = body.get("snapshot") if isinstance(body, dict) else None
        info = snap.get("create_info") if isinstance(snap, dict) else None
        if not isinstance(snap, dict) or not isinstance(snap.get("volume_id"), str) or \
                not isinstance(info, dict) or not isinstance(info.get("snapshot_id"), str):
            raise errors.BadRequest("Invalid input for field/attribute snapshot: "
                                    "'volume_id' and 'create_info.snapshot_id' are required")
        if info.get("type") not in ("qcow2", None) or "new_file" not in info:
            raise errors.BadRequest("Invalid input for field/attribute create_info: type "
                                    "must be 'qcow2' and new_file is required")
        inst = self._attached_to(snap["volume_id"])
        snapshots = dict((inst.system_metadata or {}).get(KEY) or {})
        snapshots[info["snapshot_id"]] = {"volume_id": snap["volume_id"],
                                          "new_file": info["new_file"], "type": "qcow2"}
        self._record(req, inst, snapshots)
        return {"snapshot": {"id": info["snapshot_id"], "volumeId": snap["volume_id"]}}

    @route("DELETE", "/v2.1/os-assisted-volume-snapshots/{snapshot_id}", status=204,
           policy=f"{P}delete")
    def delete(self, req: Request, snapshot_id: str) -> Reply:
        raw = req.query.get("delete_info")
        try:
            info = json.loads(raw) if raw else None
        except ValueError:
            info = None
        if not isinstance(info, dict) or not isinstance(info.get("volume_id"), str):
            raise errors.BadRequest("Invalid delete_info: a JSON object with volume_id is "
                                    "needed")
        inst = self._attached_to(info["volume_id"])
        snapshots = dict((inst.system_metadata or {}).get(KEY) or {})
        snapshots.pop(snapshot_id, None)
        self._record(req, inst, snapshots)
        return Reply(None, 204)
