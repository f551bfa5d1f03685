"""Volumes: create (blank, from snapshot, from volume, from backup), read, update, delete,
metadata, and the canonical view every API answer is cut from."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common, images, worker
from pocketstack.volume.drivers.backends import NoValidBackend
from pocketstack.volume.models import Attachment, Backup, Snapshot, Transfer, Volume, VolumeType
from pocketstack.volume.types import Types

AZ = "nova"
DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")
STATUS_MSG = ("Volume status must be available or error or error_restoring or error_extending "
              "or error_managing and must not be migrating, attached, belong to a group, have "
              "snapshots, awaiting a transfer, or be disassociated from snapshots after volume "
              "transfer.")


def attachment_summary(a: Attachment, vol: Volume) -> dict[str, Any]:
    return {"id": vol.id, "attachment_id": a.id, "volume_id": vol.id,
            "server_id": a.instance_uuid, "host_name": a.attached_host,
            "device": a.mountpoint, "attached_at": common.iso(a.attach_time)}


def volume_view(s: Session, v: Volume, host: str) -> dict[str, Any]:
    """Every field any microversion shows; the API cuts it down."""
    t = s.get(VolumeType, v.volume_type_id) if v.volume_type_id else None
    atts = [attachment_summary(a, v) for a in s.scalars(
        select(Attachment).where(Attachment.volume_id == v.id,
                                 Attachment.attach_status == "attached"))]
    out: dict[str, Any] = {
        "id": v.id, "name": v.name, "description": v.description, "status": v.status,
        "size": v.size, "availability_zone": v.availability_zone,
        "created_at": common.iso(v.created_at), "updated_at": common.iso(v.updated_at),
        "attachments": atts, "volume_type": t.name if t else None,
        "volume_type_id": v.volume_type_id, "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        # Cinder shows the admin metadata (readonly, attached_mode) among the metadata
        "metadata": {**(v.metadata_ or {}), **(v.admin_metadata or {})},
        "bootable": "true" if v.bootable else "false", "encrypted": False,
        "multiattach": v.multiattach, "replication_status": None,
        "consistencygroup_id": None, "user_id": v.user_id,
        "os-vol-tenant-attr:tenant_id": v.project_id,
        "os-vol-host-attr:host": v.host, "os-vol-mig-status-attr:migstat": v.migration_status,
        "os-vol-mig-status-attr:name_id": None, "migration_status": v.migration_status,
        "group_id": v.group_id, "provider_id": None,
        "service_uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, v.host or host)),
        "shared_targets": False, "cluster_name": None, "encryption_key_id": None,
        "consumes_quota": True,
    }
    if v.image_metadata:
        out["volume_image_metadata"] = dict(v.image_metadata)
    return out


def check_metadata(meta: Any) -> dict[str, str]:
    if not isinstance(meta, dict):
        raise errors.BadRequest("Invalid input received: metadata must be a dict")
    for k, v in meta.items():
        if not isinstance(k, str) or not k or len(k) > 255:
            raise errors.BadRequest("Invalid input received: Metadata property key blank or "
                                    "greater than 255 characters.")
        if not isinstance(v, str) or len(v) > 255:
            raise errors.BadRequest("Invalid input received: Metadata property value must be "
                                    "a string of at most 255 characters.")
    return dict(meta)


class Volumes:
    def __init__(self, cloud: Any, driver: Any, quotas: Any, host: str,
                 worker: Any = None) -> None:
        self.cloud = cloud
        self.worker = worker
        self.db = cloud.db
        self.driver = driver
        self.quotas = quotas
        self.host = host  # HOST@file#file

    # -- lookups ---------------------------------------------------------------------
    @staticmethod
    def find(s: Session, volume_id: str, project_id: str | None, admin: bool) -> Volume:
        v = s.get(Volume, volume_id)
        if v is None or not (admin or v.project_id == project_id):
            raise common.not_found("volume", volume_id)
        return v

    def view(self, volume_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            v = s.get(Volume, volume_id)
            if v is None:
                raise common.not_found("volume", volume_id)
            return volume_view(s, v, self.host)

    def get(self, volume_id: str, project_id: str | None, admin: bool) -> dict[str, Any]:
        with self.db.read() as s:
            return volume_view(s, self.find(s, volume_id, project_id, admin), self.host)

    def list(self, project_id: str | None, all_projects: bool, filters: dict[str, Any]
             ) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(Volume)
            if not all_projects:
                q = q.where(Volume.project_id == project_id)
            elif filters.get("project_id"):
                q = q.where(Volume.project_id == filters["project_id"])
            rows = [volume_view(s, v, self.host) for v in s.scalars(q)]
        out = []
        for r in rows:
            ok = True
            for key, want in filters.items():
                if key == "project_id":
                    continue
                if key == "metadata":
                    ok = all(r["metadata"].get(k) == str(v) for k, v in want.items())
                elif key == "bootable":
                    ok = r["bootable"] == ("true" if common.as_bool(want, "bootable")
                                           else "false")
                elif key == "name~":
                    ok = want.lower() in (r["name"] or "").lower()
                elif key in ("volume_type",):
                    ok = want in (r["volume_type"], r["volume_type_id"])
                elif key in r and isinstance(r[key], bool):
                    ok = r[key] == common.as_bool(want, key)
                elif key in r:
                    ok = str(r[key]) == str(want)
                if not ok:
                    break
            if ok:
                out.append(r)
        return out

    # -- create -------------------------------------------------------------------
    def create(self, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name", "display_name", "volume_type", "snapshot_id",
                                    "source_volid", "backup_id", "imageRef",
                                    "availability_zone", "consistencygroup_id", "group_id"))
        common.check_strings(body, ("description", "display_description"), 0)
        snapshot_id = body.get("snapshot_id")
        source_volid = body.get("source_volid")
        backup_id = body.get("backup_id")
        image_ref = body.get("imageRef")
        if sum(1 for x in (snapshot_id, source_volid, backup_id, image_ref) if x) > 1:
            raise errors.BadRequest("Invalid input received: Only one of snapshot_id, "
                                    "source_volid, backup_id and imageRef may be given.")
        image = images.lookup(self.cloud, ctx, image_ref) if image_ref else None
        if image is not None and images.snapshot_of(image):  # a volume-backed server's
            snapshot_id, image = images.snapshot_of(image), None  # image: its snapshot
        if not ctx.project_id:
            raise errors.BadRequest("Creating a volume needs a project-scoped token.")
        size = body.get("size")
        admin = ctx.is_admin
        vid = new_uuid()
        with self.db.write() as s:
            source_size = None
            source_type = None
            if snapshot_id:
                snap = s.get(Snapshot, snapshot_id)
                if snap is None or not (admin or snap.project_id == ctx.project_id):
                    raise common.not_found("snapshot", snapshot_id)
                if snap.status != "available":
                    raise errors.BadRequest("Invalid snapshot: Originating snapshot status "
                                            "must be one of 'available' values")
                source_size = snap.size
                source_type = s.get(Volume, snap.volume_id).volume_type_id
            if source_volid:
                src = s.get(Volume, source_volid)
                if src is None or not (admin or src.project_id == ctx.project_id):
                    raise common.not_found("volume", source_volid)
                if src.status not in ("available", "in-use"):
                    raise common.invalid_volume(f"Unable to clone volumes that are in "
                                                f"{src.status} status")
                source_size, source_type = src.size, src.volume_type_id
            if image is not None:
                source_size = images.min_size_gb(image)
            if backup_id:
                b = s.get(Backup, backup_id)
                if b is None or not (admin or b.project_id == ctx.project_id):
                    raise common.not_found("backup", backup_id)
                if b.status != "available":
                    raise errors.BadRequest("Invalid backup: Backup status must be available")
                source_size = b.size
            raw = size
            if raw is None:
                size = source_size
            elif isinstance(raw, bool) or not (
                    isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit())):
                raise errors.BadRequest(f"Invalid input for field/attribute size. Value: "
                                        f"{raw}. {raw!r} is not valid under any of the "
                                        "given schemas")
            else:
                size = int(raw)
            if size is None:
                raise errors.BadRequest("Invalid input for field/attribute size. Value: None. "
                                        "None is not valid under any of the given schemas")
            if size < 1:
                raise errors.BadRequest(f"Invalid input received: Volume size '{size}' must "
                                        "be an integer and greater than 0")
            if source_size is not None and size < source_size:
                if image is not None:
                    raise errors.BadRequest(f"Invalid input received: Size of specified "
                                            f"image {source_size}GB is larger than volume "
                                            f"size {size}GB.")
                raise errors.BadRequest(f"Invalid input received: Volume size '{size}'GB "
                                        f"cannot be smaller than the source size "
                                        f"{source_size}GB.")
            vt = body.get("volume_type")
            if vt:
                vtype = Types.find(s, vt, ctx.project_id, admin)
            elif source_type:
                vtype = s.get(VolumeType, source_type) or Types.default(s, ctx.project_id)
            else:
                vtype = Types.default(s, ctx.project_id)
            if vtype.encryption:
                raise errors.BadRequest(f"Invalid volume type: Volume type {vtype.name} is "
                                        "encrypted and this cloud has no key manager to "
                                        "create encrypted volumes.")
            group_id = body.get("group_id")
            if group_id:
                from pocketstack.volume.groups import check_member
                check_member(s, ctx, group_id, vtype.id, creating=True)
            az = body.get("availability_zone") or AZ
            if az != AZ:
                raise errors.BadRequest(f"Invalid input received: Availability zone '{az}' "
                                        "is invalid.")
            self.quotas.check(s, ctx.project_id, volumes=1, gigabytes=size, per_volume=size,
                              type_name=vtype.name)
            source_host = None  # clones and volumes from snapshots stay on their back end
            if source_volid:
                source_host = s.get(Volume, source_volid).host
            elif snapshot_id:
                source_host = s.get(Volume, s.get(Snapshot, snapshot_id).volume_id).host
            unplaced: NoValidBackend | None = None
            try:
                host = self.driver.place(vtype.extra_specs, source_host)
            except NoValidBackend as exc:  # the volume exists, in error (as Cinder's)
                host, unplaced = None, exc
            meta = check_metadata(body.get("metadata") or {})
            multiattach = common.as_bool(body.get("multiattach", False), "multiattach")
            if common.type_multiattach(vtype.extra_specs):
                multiattach = True
            bootable = image is not None
            origin = s.get(Volume, source_volid) if source_volid else \
                s.get(Volume, s.get(Snapshot, snapshot_id).volume_id) if snapshot_id else None
            if origin is not None:  # a clone / a volume from a snapshot: as its origin,
                bootable = origin.bootable  # with its image metadata (Cinder copies it)
            now = utcnow()
            v = Volume(id=vid, project_id=ctx.project_id, user_id=ctx.user_id,
                       name=body.get("name") or body.get("display_name"),
                       description=body.get("description") or body.get("display_description"),
                       size=size, status="creating", attach_status="detached",
                       availability_zone=az, volume_type_id=vtype.id, snapshot_id=snapshot_id,
                       source_volid=source_volid, bootable=bootable, multiattach=multiattach,
                       host=host, metadata_=meta,
                       image_metadata=images.image_metadata(image) if image else
                       dict(origin.image_metadata or {}) if origin is not None else {},
                       admin_metadata={}, group_id=group_id or None,
                       created_at=now, updated_at=now)
            s.add(v)
        slow = unplaced is None and (image is not None or bool(backup_id) or (
            bool(snapshot_id or source_volid) and not self.driver.copy_on_write(vid)))

        def run() -> None:
            if unplaced is not None:
                raise unplaced
            if snapshot_id:
                self.driver.create_from_snapshot(vid, snapshot_id, size)
            elif source_volid:
                self.driver.clone_volume(vid, source_volid, size)
            elif image is not None:
                self.driver.create_volume(vid, size)
                self._set_status(vid, "downloading")
                images.copy_into(self.cloud, image, self.driver.volume_path(vid))
            elif backup_id:
                self.driver.create_volume(vid, size)
                self.driver.restore_backup(backup_id, vid)
                self.driver.extend_volume(vid, size)
            else:
                self.driver.create_volume(vid, size)
            with self.db.write() as s:
                v = s.get(Volume, vid)
                if v is not None and v.status in ("creating", "downloading"):
                    v.status, v.launched_at = "available", utcnow()
                self._backup_done(s, backup_id)

        def fail(s: Session, exc: BaseException) -> None:
            v = s.get(Volume, vid)  # the volume exists in error state, as Cinder leaves it
            if v is not None and v.status in ("creating", "downloading"):
                v.status = "error"
            self._backup_done(s, backup_id)

        action = ("create" if unplaced is not None else "copy_image_to_volume"
                  if image is not None else "backup_restore" if backup_id
                  else "create_from_source" if snapshot_id or source_volid else "create")
        if slow:
            if backup_id:
                with self.db.write() as s:
                    s.get(Backup, backup_id).status = "restoring"
            with self.db.read() as s:  # the answer says creating, as Cinder's, whatever
                reply = volume_view(s, s.get(Volume, vid), self.host)  # the worker does next
            self.worker.submit(ctx, "VOLUME", vid, action, run, fail,
                               detail=lambda e: "image" if image is not None and not
                               isinstance(e, OSError) else worker.detail_of(e))
            return reply
        self.worker.run_now(ctx, "VOLUME", vid, action, run, fail)
        with self.db.read() as s:
            return volume_view(s, s.get(Volume, vid), self.host)

    def _set_status(self, volume_id: str, status: str) -> None:
        with self.db.write() as s:
            v = s.get(Volume, volume_id)
            if v is not None:
                v.status, v.updated_at = status, utcnow()

    @staticmethod
    def _backup_done(s: Session, backup_id: str | None) -> None:
        b = s.get(Backup, backup_id) if backup_id else None
        if b is not None and b.status == "restoring":
            b.status = "available"

    # -- update / delete ------------------------------------------------------------
    def update(self, ctx: Any, volume_id: str, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name", "display_name"))
        common.check_strings(body, ("description", "display_description"), 0)
        with self.db.write() as s:
            v = self.find(s, volume_id, ctx.project_id, ctx.is_admin)
            for src, dst in (("name", "name"), ("display_name", "name"),
                             ("description", "description"),
                             ("display_description", "description")):
                if src in body:
                    val = body[src]
                    if val is not None and (not isinstance(val, str) or len(val) > 255
                                            and dst == "name"):
                        raise errors.BadRequest(f"Invalid input for field/attribute {src}.")
                    setattr(v, dst, val)
            if "metadata" in body:
                v.metadata_ = check_metadata(body["metadata"])
            v.updated_at = utcnow()
            s.flush()
            return volume_view(s, v, self.host)

    def delete(self, ctx: Any, volume_id: str, cascade: bool = False, force: bool = False
               ) -> None:
        with self.db.write() as s:
            v = self.find(s, volume_id, ctx.project_id, ctx.is_admin)
            snaps = list(s.scalars(select(Snapshot).where(Snapshot.volume_id == v.id)))
            if not force:
                if v.status not in DELETABLE or v.attach_status == "attached" or \
                        v.migration_status not in (None, "", "success", "error"):
                    raise common.invalid_volume(STATUS_MSG)
                if snaps and not cascade:
                    raise common.invalid_volume(
                        f"Volume {v.id} has dependent snapshots; delete the snapshots first "
                        "or use cascade.")
                if cascade and any(x.status not in ("available", "error") for x in snaps):
                    raise common.invalid_volume("Snapshot of volume not in a valid state: "
                                                "available, error.")
            elif snaps and not cascade:
                raise common.invalid_volume(f"Volume {v.id} has dependent snapshots.")
            v.status = "deleting"
            for x in snaps:
                x.status = "deleting"
            snap_ids = [x.id for x in snaps]
        for sid in snap_ids:
            self.driver.delete_snapshot(sid)
        self.driver.delete_volume(volume_id)
        with self.db.write() as s:  # bulk deletes: no rows loaded
            if snap_ids:
                s.execute(sql_delete(Snapshot).where(Snapshot.id.in_(snap_ids)))
            s.execute(sql_delete(Attachment).where(Attachment.volume_id == volume_id))
            s.execute(sql_delete(Transfer).where(Transfer.volume_id == volume_id))
            s.execute(sql_delete(Volume).where(Volume.id == volume_id))

    # -- metadata -----------------------------------------------------------------------
    def metadata(self, ctx: Any, volume_id: str) -> dict[str, str]:
        with self.db.read() as s:
            return dict(self.find(s, volume_id, ctx.project_id, ctx.is_admin).metadata_ or {})

    def set_metadata(self, ctx: Any, volume_id: str, meta: Any, replace: bool
                     ) -> dict[str, str]:
        meta = check_metadata(meta)
        with self.db.write() as s:
            v = self.find(s, volume_id, ctx.project_id, ctx.is_admin)
            if v.status == "maintenance":
                raise common.invalid_volume("Volume is in maintenance.")
            v.metadata_ = meta if replace else {**(v.metadata_ or {}), **meta}
            v.updated_at = utcnow()
            return dict(v.metadata_)

    def delete_metadata(self, ctx: Any, volume_id: str, key: str) -> None:
        with self.db.write() as s:
            v = self.find(s, volume_id, ctx.project_id, ctx.is_admin)
            meta = dict(v.metadata_ or {})
            if key not in meta:
                raise errors.NotFound(f"Volume {volume_id} has no metadata with key {key}.")
            del meta[key]
            v.metadata_ = meta

    def set_image_metadata(self, ctx: Any, volume_id: str, meta: Any) -> dict[str, str]:
        meta = check_metadata(meta)
        with self.db.write() as s:
            v = self.find(s, volume_id, ctx.project_id, ctx.is_admin)
            v.image_metadata = {**(v.image_metadata or {}), **meta}
            return dict(v.image_metadata)

    def unset_image_metadata(self, ctx: Any, volume_id: str, key: str) -> None:
        with self.db.write() as s:
            v = self.find(s, volume_id, ctx.project_id, ctx.is_admin)
            meta = dict(v.image_metadata or {})
            if key not in meta:
                raise errors.NotFound(f"Glance metadata for volume/snapshot {volume_id} "
                                      f"cannot be found.")
            del meta[key]
            v.image_metadata = meta
