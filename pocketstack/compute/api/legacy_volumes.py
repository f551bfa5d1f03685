"""Nova's deprecated volume proxies of the Block Storage service, served up to microversion
2.35 as Nova does: ``/os-volumes`` and ``/os-snapshots`` (attachments, which stayed, are
in :mod:`volume_attachments`). Nova's camelCase views over Cinder's records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.api.validation import obj, validate, wrapped
from pocketstack.compute.api.common import offset_page
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-volumes:"
register_defaults([RuleDefault(P + n, "rule:project_member_or_admin")
                   for n in ("list", "detail", "show", "create", "delete", "snapshots:list",
                             "snapshots:detail", "snapshots:show", "snapshots:create",
                             "snapshots:delete")])
MAX = "2.35"
_STR = {"type": ["string", "null"], "maxLength": 255}
_VOLUME = wrapped("volume", obj({
    "size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
    "availability_zone": _STR, "display_name": _STR, "display_description": _STR,
    "volume_type": _STR, "snapshot_id": _STR,
    "metadata": {"type": "object", "additionalProperties": {"type": "string",
                                                            "maxLength": 255}}},
    ["size"], additional=False))
_SNAPSHOT = wrapped("snapshot", obj({
    "volume_id": {"type": "string"}, "force": {"type": ["boolean", "string"]},
    "display_name": _STR, "display_description": _STR}, ["volume_id"], additional=False))


def _volume_view(v: dict[str, Any]) -> dict[str, Any]:
    attachments = [{"id": a.get("attachment_id") or a.get("id"), "volumeId": v["id"],
                    "serverId": a.get("server_id"), "device": a.get("device")}
                   for a in v.get("attachments") or []]
    return {"id": v["id"], "status": v["status"], "size": v["size"],
            "availabilityZone": v.get("availability_zone"), "createdAt": v.get("created_at"),
            "displayName": v.get("name"), "displayDescription": v.get("description"),
            "volumeType": v.get("volume_type"), "snapshotId": v.get("snapshot_id"),
            "metadata": v.get("metadata") or {},
            "attachments": attachments or [{}]}  # Nova's "not attached" is one empty dict


def _snapshot_view(x: dict[str, Any]) -> dict[str, Any]:
    return {"id": x["id"], "volumeId": x["volume_id"], "status": x["status"],
            "size": x["size"], "createdAt": x.get("created_at"),
            "displayName": x.get("name"), "displayDescription": x.get("description")}


class VolumeProxy:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def _cinder(self) -> Any:
        cinder = self.svc.cloud.service("volume")
        if cinder is None:
            raise errors.NotFound("There is no Block Storage service in this cloud.")
        return cinder

    def _get(self, req: Request, volume_id: str) -> dict[str, Any]:
        try:
            return self._cinder().get_volume(req.ctx, volume_id)
        except errors.NotFound:
            raise errors.NotFound(f"Volume {volume_id} could not be found.") from None

    # -- volumes --------------------------------------------------------------------
    def _list(self, req: Request) -> dict[str, Any]:
        rows = self._cinder().volumes.list(req.ctx.project_id, False, {})
        rows.sort(key=lambda v: v.get("created_at") or "", reverse=True)
        return {"volumes": [_volume_view(v) for v in offset_page(req, rows)]}

    @route("GET", "/v2.1/os-volumes", max_version=MAX, policy=P + "list")
    def index(self, req: Request) -> dict[str, Any]:
        if req.raw.url.path.endswith("/"):  # GET os-volumes/ (no id): Nova's 404
            raise errors.NotFound("Volume  could not be found.")
        return self._list(req)

    @route("GET", "/v2.1/os-volumes/detail", max_version=MAX, policy=P + "detail")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req)

    @route("GET", "/v2.1/os-volumes/{volume_id}", max_version=MAX, policy=P + "show")
    def show(self, req: Request, volume_id: str) -> dict[str, Any]:
        return {"volume": _volume_view(self._get(req, volume_id))}

    @route("POST", "/v2.1/os-volumes", max_version=MAX, policy=P + "create")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(_VOLUME, req.json())["volume"]
        cinder_body: dict[str, Any] = {"size": int(body["size"]),
                                       "metadata": body.get("metadata") or {}}
        for ours, theirs in (("display_name", "name"), ("display_description", "description"),
                             ("volume_type", "volume_type"), ("snapshot_id", "snapshot_id"),
                             ("availability_zone", "availability_zone")):
            if body.get(ours) is not None:
                cinder_body[theirs] = body[ours]
        volume = self._cinder().volumes.create(req.ctx, cinder_body)
        return {"volume": _volume_view(volume)}

    @route("DELETE", "/v2.1/os-volumes", max_version=MAX)
    def delete_nothing(self, req: Request) -> None:
        raise errors.NotFound("A volume id is needed.")

    @route("DELETE", "/v2.1/os-volumes/{volume_id}", status=202, max_version=MAX,
           policy=P + "delete")
    def delete(self, req: Request, volume_id: str) -> Reply:
        self._get(req, volume_id)
        self._cinder().volumes.delete(req.ctx, volume_id)
        return Reply(None, 202)

    # -- snapshots ------------------------------------------------------------------
    def _snapshot(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        try:
            return self._cinder().snapshots.get(req.ctx, snapshot_id)
        except errors.NotFound:
            raise errors.NotFound(f"Snapshot {snapshot_id} could not be found.") from None

    def _snapshots(self, req: Request) -> dict[str, Any]:
        rows = self._cinder().snapshots.list(req.ctx, False, {})
        return {"snapshots": [_snapshot_view(x) for x in offset_page(req, rows)]}

    @route("GET", "/v2.1/os-snapshots", max_version=MAX, policy=P + "snapshots:list")
    def snapshots(self, req: Request) -> dict[str, Any]:
        return self._snapshots(req)

    @route("GET", "/v2.1/os-snapshots/detail", max_version=MAX, policy=P + "snapshots:detail")
    def snapshots_detail(self, req: Request) -> dict[str, Any]:
        return self._snapshots(req)

    @route("GET", "/v2.1/os-snapshots/{snapshot_id}", max_version=MAX,
           policy=P + "snapshots:show")
    def show_snapshot(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        return {"snapshot": _snapshot_view(self._snapshot(req, snapshot_id))}

    @route("POST", "/v2.1/os-snapshots", max_version=MAX, policy=P + "snapshots:create")
    def create_snapshot(self, req: Request) -> dict[str, Any]:
        body = validate(_SNAPSHOT, req.json())["snapshot"]
        force = str(body.get("force", False)).strip().lower() in ("true", "1", "yes", "on")
        self._get(req, body["volume_id"])
        wanted = {"volume_id": body["volume_id"], "force": force}
        for ours, theirs in (("display_name", "name"), ("display_description", "description")):
            if body.get(ours) is not None:
                wanted[theirs] = body[ours]
        snap = self._cinder().snapshots.create(req.ctx, wanted, force)
        return {"snapshot": _snapshot_view(snap)}

    @route("DELETE", "/v2.1/os-snapshots/{snapshot_id}", status=202, max_version=MAX,
           policy=P + "snapshots:delete")
    def delete_snapshot(self, req: Request, snapshot_id: str) -> Reply:
        self._snapshot(req, snapshot_id)
        self._cinder().snapshots.delete(req.ctx, snapshot_id)
        return Reply(None, 202)
