"""Snapshots: point-in-time copies of a volume's file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common
from pocketstack.volume.models import Snapshot, Volume
from pocketstack.volume.volumes import Volumes, check_metadata


def snapshot_view(x: Snapshot) -> dict[str, Any]:
    return {"id": x.id, "name": x.name, "description": x.description, "status": x.status,
            "size": x.size, "volume_id": x.volume_id, "metadata": dict(x.metadata_ or {}),
            "created_at": common.iso(x.created_at), "updated_at": common.iso(x.updated_at),
            "os-extended-snapshot-attributes:project_id": x.project_id,
            "os-extended-snapshot-attributes:progress": x.progress,
            "group_snapshot_id": x.group_snapshot_id, "user_id": x.user_id, "consumes_quota": True}


class Snapshots:
    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes
        self.db = volumes.db
        self.driver = volumes.driver

    def find(self, s: Any, ctx: Any, snapshot_id: str) -> Snapshot:
        return common.find_owned(s, Snapshot, "snapshot", snapshot_id, ctx)

    def create(self, ctx: Any, body: dict[str, Any], in_use_ok: bool) -> dict[str, Any]:
        volume_id = body.get("volume_id")
        if "volume_id" in body and volume_id is None:  # Cinder looks a null id up: 404
            raise common.not_found("volume", "None")
        if not volume_id or not isinstance(volume_id, str):
            raise errors.BadRequest("Invalid input for field/attribute volume_id.")
        common.check_strings(body, ("name", "display_name"))
        common.check_strings(body, ("description", "display_description"), 0)
        force = common.as_bool(body.get("force", False), "force")
        meta = check_metadata(body.get("metadata") or {})
        sid = new_uuid()
        with self.db.write() as s:
            v = Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)
            ok = ("available", "in-use") if (force or in_use_ok) else ("available",)
            if v.status not in ok:
                raise common.invalid_volume(f"Volume {v.id} status must be "
                                            f"{' or '.join(ok)}, but current status is: "
                                            f"{v.status}.")
            self.volumes.quotas.check(s, v.project_id, snapshots=1, gigabytes=v.size)
            now = utcnow()
            s.add(Snapshot(id=sid, project_id=v.project_id, user_id=ctx.user_id,
                           volume_id=v.id, name=body.get("name") or body.get("display_name"),
                           description=body.get("description") or
                           body.get("display_description"),
                           status="creating", progress="0%", size=v.size, metadata_=meta,
                           created_at=now, updated_at=now))
        try:
            self.driver.create_snapshot(sid, volume_id)
            status = "available"
        except OSError:
            status = "error"
        with self.db.write() as s:
            x = s.get(Snapshot, sid)
            x.status, x.progress = status, "100%" if status == "available" else "0%"
            s.flush()
            return snapshot_view(x)

    def get(self, ctx: Any, snapshot_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return snapshot_view(self.find(s, ctx, snapshot_id))

    def list(self, ctx: Any, all_projects: bool, filters: dict[str, Any]
             ) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(Snapshot)
            if not all_projects:
                q = q.where(Snapshot.project_id == ctx.project_id)
            elif filters.get("project_id"):
                q = q.where(Snapshot.project_id == filters["project_id"])
            rows = [snapshot_view(x) for x in s.scalars(q)]
        out = []
        for r in rows:
            if any(k in ("name", "status", "volume_id") and r.get(k) != v
                   for k, v in filters.items()):
                continue
            if "metadata" in filters and not all(r["metadata"].get(k) == str(v) for k, v in
                                                 filters["metadata"].items()):
                continue
            out.append(r)
        return out

    def update(self, ctx: Any, snapshot_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.db.write() as s:
            x = self.find(s, ctx, snapshot_id)
            for src, dst in (("name", "name"), ("display_name", "name"),
                             ("description", "description"),
                             ("display_description", "description")):
                if src in body:
                    if body[src] is not None and not isinstance(body[src], str):
                        raise errors.BadRequest(f"Invalid input for field/attribute {src}.")
                    setattr(x, dst, body[src])
            x.updated_at = utcnow()
            s.flush()
            return snapshot_view(x)

    def delete(self, ctx: Any, snapshot_id: str, force: bool = False) -> None:
        with self.db.write() as s:
            x = self.find(s, ctx, snapshot_id)
            if not force and x.status not in ("available", "error", "error_deleting"):
                raise common.invalid("snapshot", f"Volume Snapshot status must be available "
                                     f"or error, but current status is: {x.status}.")
            if s.scalar(select(Volume.id).where(Volume.snapshot_id == x.id,
                                                Volume.status == "creating").limit(1)):
                raise common.invalid("snapshot", "Snapshot is in use by a volume being "
                                     "created.")
            x.status = "deleting"
        self.driver.delete_snapshot(snapshot_id)
        with self.db.write() as s:
            x = s.get(Snapshot, snapshot_id)
            if x is not None:
                s.delete(x)

    def reset_status(self, ctx: Any, snapshot_id: str, status: Any) -> None:
        if status not in ("creating", "available", "deleting", "error", "error_deleting",
                          "backing-up", "restoring", "unmanaging"):
            raise errors.BadRequest(f"Invalid input received: Must specify a valid status: "
                                    f"{status}")
        with self.db.write() as s:
            self.find(s, ctx, snapshot_id).status = status

    # the transitions os-update_snapshot_status allows (what Nova reports of an assisted
    # snapshot), as Cinder checks them
    UPDATES = {"creating": ("creating", "available", "error"),
               "deleting": ("deleting", "error_deleting")}

    def update_status(self, ctx: Any, snapshot_id: str, args: dict[str, Any]) -> None:
        status = args.get("status")
        progress = args.get("progress")
        if progress is not None and not (isinstance(progress, str) and
                                         progress.rstrip("%").isdigit()):
            raise errors.BadRequest(f"Invalid input received: progress must be a "
                                    f"percentage: {progress}")
        with self.db.write() as s:
            x = self.find(s, ctx, snapshot_id)
            if status not in self.UPDATES.get(x.status, ()):
                raise errors.BadRequest(f"Invalid input received: Snapshot status "
                                        f"{x.status} not allowed for update_snapshot_status "
                                        f"to {status}")
            x.status = status
            if progress is not None:
                x.progress = progress

    def metadata(self, ctx: Any, snapshot_id: str) -> dict[str, str]:
        with self.db.read() as s:
            return dict(self.find(s, ctx, snapshot_id).metadata_ or {})

    def set_metadata(self, ctx: Any, snapshot_id: str, meta: Any, replace: bool
                     ) -> dict[str, str]:
        meta = check_metadata(meta)
        with self.db.write() as s:
            x = self.find(s, ctx, snapshot_id)
            x.metadata_ = meta if replace else {**(x.metadata_ or {}), **meta}
            return dict(x.metadata_)

    def delete_metadata(self, ctx: Any, snapshot_id: str, key: str) -> None:
        with self.db.write() as s:
            x = self.find(s, ctx, snapshot_id)
            meta = dict(x.metadata_ or {})
            if key not in meta:
                raise errors.NotFound(f"Snapshot {snapshot_id} has no metadata with key {key}.")
            del meta[key]
            x.metadata_ = meta
