"""Cut the canonical views down to what a request's microversion and role may see."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.volume import common

VOLUME_SINCE = {"group_id": "3.13", "provider_id": "3.21", "service_uuid": "3.48",
                "shared_targets": "3.48", "cluster_name": "3.61", "volume_type_id": "3.63",
                "encryption_key_id": "3.64", "consumes_quota": "3.65"}
VOLUME_ADMIN = ("os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
                "os-vol-mig-status-attr:name_id", "migration_status", "provider_id",
                "cluster_name")
# shown by the show/list extensions of Cinder only, never in create/update answers
VOLUME_EXTENSIONS = ("os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host",
                     "os-vol-mig-status-attr:migstat", "os-vol-mig-status-attr:name_id",
                     "volume_image_metadata")
SNAPSHOT_SINCE = {"group_snapshot_id": "3.14", "user_id": "3.41", "consumes_quota": "3.65"}
BACKUP_SINCE = {"os-backup-project-attr:project_id": "3.18", "user_id": "3.56",
                "metadata": "3.43", "encryption_key_id": "3.64"}


def _cut(req: Request, d: dict[str, Any], since: dict[str, str],
         admin_only: tuple[str, ...] = ()) -> dict[str, Any]:
    out = dict(d)
    for key, version in since.items():
        if not req.at_least(version):
            out.pop(key, None)
    if not req.ctx.is_admin:
        for key in admin_only:
            out.pop(key, None)
    return out


def volume(req: Request, d: dict[str, Any], extended: bool = True) -> dict[str, Any]:
    """``extended``: GET answers; create and update answers lack the extensions' keys."""
    out = _cut(req, d, VOLUME_SINCE, VOLUME_ADMIN)
    if not extended:
        for key in VOLUME_EXTENSIONS:
            out.pop(key, None)
    out["links"] = common.links(req, "volumes", d["id"])
    return out


def volume_summary(req: Request, d: dict[str, Any]) -> dict[str, Any]:
    return {"id": d["id"], "name": d["name"], "links": common.links(req, "volumes", d["id"])}


def snapshot(req: Request, d: dict[str, Any], extended: bool = True) -> dict[str, Any]:
    """``extended``: show and detail answers; the others lack ``os-extended-...`` keys."""
    out = _cut(req, d, SNAPSHOT_SINCE)
    if not extended:
        out = {k: v for k, v in out.items() if not k.startswith("os-extended")}
    return out


def backup(req: Request, d: dict[str, Any]) -> dict[str, Any]:
    out = _cut(req, d, BACKUP_SINCE)
    out["links"] = common.links(req, "backups", d["id"])
    return out


def transfer(req: Request, d: dict[str, Any], detail: bool = True) -> dict[str, Any]:
    out = {"id": d["id"], "name": d["name"], "volume_id": d["volume_id"],
           "links": common.links(req, "os-volume-transfer", d["id"])}
    if detail:
        out["created_at"] = d["created_at"]
        if req.at_least("3.55"):
            out["no_snapshots"] = d.get("no_snapshots", False)
        if req.at_least("3.57"):
            for k in ("source_project_id", "destination_project_id", "accepted"):
                out[k] = d.get(k)
    if "auth_key" in d:
        out["auth_key"] = d["auth_key"]
    return out
