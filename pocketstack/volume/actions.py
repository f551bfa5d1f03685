"""Volume actions (``POST /volumes/{id}/action``) and the attachments API.

The state machine follows Cinder's: available -> reserved/attaching -> in-use ->
detaching -> available, with extending, retyping, and the error states; actions
in a wrong state answer 400 ``Invalid volume: ...`` as Cinder does.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common
from pocketstack.volume.models import Attachment, Snapshot, Volume
from pocketstack.volume.types import Types
from pocketstack.volume.volumes import Volumes, volume_view

LOG = logging.getLogger(__name__)

VOLUME_STATUSES = ("creating", "available", "reserved", "attaching", "detaching", "in-use",
                   "maintenance", "deleting", "awaiting-transfer", "error", "error_deleting",
                   "backing-up", "restoring-backup", "error_backing-up", "error_restoring",
                   "error_extending", "downloading", "uploading", "retyping", "extending")


def attachment_view(a: Attachment, conn: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": a.id, "status": a.attach_status, "instance": a.instance_uuid,
            "volume_id": a.volume_id, "attached_at": common.iso(a.attach_time),
            "detached_at": None, "attach_mode": a.attach_mode,
            "connection_info": conn or {}}


class Actions:
    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes
        self.db = volumes.db
        self.driver = volumes.driver

    def _find(self, s: Session, ctx: Any, volume_id: str) -> Volume:
        return Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)

    @staticmethod
    def _active(s: Session, v: Volume) -> list[Attachment]:
        return list(s.scalars(select(Attachment).where(Attachment.volume_id == v.id,
                                                       Attachment.attach_status != "detached")))

    # -- size, flags, type -------------------------------------------------------------
    def extend(self, ctx: Any, volume_id: str, new_size: Any, in_use_ok: bool) -> None:
        if isinstance(new_size, bool) or not isinstance(new_size, (int, str)) or \
                not str(new_size).strip().isdigit():
            raise errors.BadRequest(f"Invalid input for field/attribute new_size. Value: "
                                    f"{new_size}.")
        new_size = int(new_size)
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            allowed = ("available", "in-use") if in_use_ok else ("available",)
            if v.status not in allowed:
                raise common.invalid_volume(
                    f"Volume status must be {' or '.join(allowed)} to extend, "
                    f"but current status is: {v.status}.")
            if new_size <= v.size:
                raise errors.BadRequest(f"Invalid input received: New size for extend must be "
                                        f"greater than current size. (current: {v.size}, "
                                        f"extended: {new_size}).")
            self.volumes.quotas.check(s, v.project_id, gigabytes=new_size - v.size,
                                      per_volume=new_size)
            v.previous_status, v.status = v.status, "extending"

        def run() -> None:
            self.driver.extend_volume(volume_id, new_size)
            servers: list[str] = []
            with self.db.write() as s:
                v = s.get(Volume, volume_id)
                if v is not None and v.status == "extending":
                    v.size, v.status = new_size, v.previous_status or "available"
                    v.updated_at = utcnow()
                    if v.status == "in-use":
                        servers = [a.instance_uuid for a in self._active(s, v)
                                   if a.instance_uuid]
            if servers:  # as Cinder: Nova's volume-extended event for each server
                self._notify_extended(volume_id, servers)

        def fail(s: Any, exc: BaseException) -> None:
            v = s.get(Volume, volume_id)
            if v is not None and v.status == "extending":
                v.status, v.updated_at = "error_extending", utcnow()

        self.volumes.worker.submit(ctx, "VOLUME", volume_id, "extend", run, fail)

    def _notify_extended(self, volume_id: str, servers: list[str]) -> None:
        compute = self.volumes.cloud.service("compute")
        dispatcher = getattr(compute, "external_events", None)
        if dispatcher is None:
            return
        from pocketstack.api.context import RequestContext

        ctx = RequestContext(user_id="cinder", roles=["admin", "member", "reader", "service"],
                             system_scope="all")
        try:
            dispatcher.dispatch(ctx, [{"name": "volume-extended", "server_uuid": uuid,
                                       "tag": volume_id} for uuid in servers])
        except Exception as exc:  # noqa: BLE001  (as Cinder: logged, the extend stands)
            LOG.info("volume-extended of %s not delivered: %s", volume_id, exc)

    def reset_status(self, ctx: Any, volume_id: str, body: dict[str, Any]) -> None:
        status = body.get("status")
        attach = body.get("attach_status")
        migration = body.get("migration_status")
        if status is None and attach is None and migration is None:
            raise errors.BadRequest("Must specify 'status', 'attach_status' or "
                                    "'migration_status' for update.")
        if status is not None and status not in VOLUME_STATUSES:
            raise errors.BadRequest(f"Invalid input received: Must specify a valid status: "
                                    f"{status}")
        if attach is not None and attach not in ("attached", "detached"):
            raise errors.BadRequest(f"Must specify a valid attach status: {attach}")
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            if status is not None:
                v.status = status
            if attach is not None:
                v.attach_status = attach
                if attach == "detached":
                    for a in self._active(s, v):
                        a.attach_status = "detached"
            if migration is not None:
                v.migration_status = None if migration in ("none", "") else migration
            v.updated_at = utcnow()

    def set_bootable(self, ctx: Any, volume_id: str, value: Any) -> None:
        flag = common.as_bool(value, "bootable")
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            v.bootable = flag

    def update_readonly(self, ctx: Any, volume_id: str, value: Any) -> None:
        flag = common.as_bool(value, "readonly")
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            if v.status != "available":
                raise common.invalid_volume(f"Volume {v.id} status must be available to "
                                            f"update readonly flag, but current status is: "
                                            f"{v.status}.")
            v.admin_metadata = {**(v.admin_metadata or {}), "readonly": str(flag)}

    def retype(self, ctx: Any, volume_id: str, new_type: Any, policy: Any) -> None:
        if not new_type:
            raise errors.BadRequest("New volume type must be specified.")
        if policy not in (None, "never", "on-demand"):
            raise errors.BadRequest(f"Invalid input received: migration_policy must be "
                                    f"'on-demand' or 'never', passed: {policy}")
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            t = Types.find(s, str(new_type), ctx.project_id, ctx.is_admin)
            if v.status not in ("available", "in-use"):
                raise common.invalid_volume(f"Volume {v.id} status must be available or "
                                            f"in-use, but current status is: {v.status}.")
            if t.id == v.volume_type_id:
                raise common.invalid_volume("New volume type must be different from the "
                                            "original.")
            want = (t.extra_specs or {}).get("volume_backend_name")
            if want is not None and not self.driver.legacy and v.host and \
                    self.driver.for_host(v.host).backend_name != str(want):
                # another back end: Cinder migrates the volume; this cloud cannot
                raise errors.BadRequest(f"Invalid volume: Retype of volume {v.id} to type "
                                        f"{t.name} needs a migration to back end {want}, "
                                        "which this cloud does not do.")
            v.volume_type_id = t.id
            # as Cinder: the volume is multiattach when its new type says so
            v.multiattach = common.type_multiattach(t.extra_specs)
            v.updated_at = utcnow()

    def revert(self, ctx: Any, volume_id: str, snapshot_id: Any) -> None:
        if not snapshot_id:
            raise errors.BadRequest("Must specify snapshot to revert to.")
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            snap = s.get(Snapshot, str(snapshot_id))
            if snap is None or snap.volume_id != v.id:
                raise common.not_found("snapshot", str(snapshot_id))
            latest = s.scalar(select(Snapshot).where(Snapshot.volume_id == v.id)
                              .order_by(Snapshot.created_at.desc()).limit(1))
            if latest.id != snap.id:
                raise common.invalid("snapshot", "Volume %s is not the latest snapshot of the "
                                     "volume." % snap.id)
            if v.status != "available" or snap.status != "available":
                raise common.invalid_volume("Volume and snapshot must be available to revert.")
            if v.size != snap.size:
                raise common.invalid_volume("Volume size and snapshot size must be equal to "
                                            "revert.")
            v.status, snap.status = "reverting", "restoring"
        try:
            self.driver.revert_to_snapshot(volume_id, snap.id)
        finally:
            with self.db.write() as s:
                s.get(Volume, volume_id).status = "available"
                s.get(Snapshot, snap.id).status = "available"

    def reimage(self, ctx: Any, volume_id: str, image_id: Any, reserved_ok: bool) -> None:
        from pocketstack.volume import images

        if not image_id or not isinstance(image_id, str):
            raise errors.BadRequest("Invalid input for field/attribute image_id.")
        image = images.lookup(self.volumes.cloud, ctx, image_id)
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            ok = ("available", "error") + (("reserved",) if reserved_ok else ())
            if v.status not in ok:
                raise common.invalid_volume(f"Volume {v.id} status must be "
                                            f"{' or '.join(ok)}, but current status is: "
                                            f"{v.status}.")
            if images.min_size_gb(image) > v.size:
                raise errors.BadRequest(f"Invalid input received: Size of specified image "
                                        f"{images.min_size_gb(image)}GB is larger than "
                                        f"volume size {v.size}GB.")
            v.previous_status, v.status = v.status, "downloading"
            size = v.size
        status = "available"
        try:
            self.driver.delete_volume(volume_id)
            self.driver.create_volume(volume_id, size)
            images.copy_into(self.volumes.cloud, image, self.driver.volume_path(volume_id))
        except Exception:  # noqa: BLE001  (the volume records the failure, as Cinder does)
            status = "error"
        with self.db.write() as s:
            v = s.get(Volume, volume_id)
            keep_reserved = status == "available" and v.previous_status == "reserved"
            v.status = "reserved" if keep_reserved else status
            if status == "available":
                v.image_metadata = images.image_metadata(image)
                v.bootable = True
            v.updated_at = utcnow()

    # -- the classic attach flow ----------------------------------------------------------
    def _transition(self, ctx: Any, volume_id: str, allowed: tuple[str, ...], new: str,
                    verb: str) -> None:
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            if v.status not in allowed:
                raise common.invalid_volume(f"Volume status must be {' or '.join(allowed)} "
                                            f"to {verb}, but current status is: {v.status}.")
            v.previous_status, v.status = v.status, new
            v.updated_at = utcnow()

    def reserve(self, ctx: Any, volume_id: str) -> None:
        with self.db.read() as s:
            multi = self._find(s, ctx, volume_id).multiattach
        allowed = ("available", "in-use") if multi else ("available",)
        # Cinder's legacy os-reserve says attaching (the attachments API says reserved)
        self._transition(ctx, volume_id, allowed, "attaching", "reserve")

    def unreserve(self, ctx: Any, volume_id: str) -> None:
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            if v.status in ("attaching", "reserved"):
                v.status = "in-use" if self._active(s, v) else "available"

    def begin_detaching(self, ctx: Any, volume_id: str) -> None:
        self._transition(ctx, volume_id, ("in-use",), "detaching", "begin detaching")

    def roll_detaching(self, ctx: Any, volume_id: str) -> None:
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            if v.status == "detaching":
                v.status = "in-use"

    def attach(self, ctx: Any, volume_id: str, body: dict[str, Any]) -> None:
        common.check_strings(body, ("instance_uuid", "host_name", "mountpoint", "mode"))
        instance = body.get("instance_uuid")
        host = body.get("host_name")
        if not instance and not host:
            raise errors.BadRequest("Invalid request to attach volume to an invalid target")
        if instance and host:
            raise errors.BadRequest("Invalid request to attach volume to an instance "
                                    "and a host")
        mode = body.get("mode", "rw")
        if mode not in ("rw", "ro"):
            raise errors.BadRequest("Invalid request to attach volume with an invalid mode. "
                                    "Attaching mode should be 'rw' or 'ro'")
        mountpoint = body.get("mountpoint")
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            ok = ("available", "reserved", "attaching") + (("in-use",) if v.multiattach else ())
            if v.status not in ok:
                raise common.invalid_volume(f"Volume status must be available or reserved to "
                                            f"attach, but current status is: {v.status}.")
            if (v.admin_metadata or {}).get("readonly") == "True" and mode == "rw":
                raise common.invalid_volume("Volume is read-only; attach it with mode ro.")
            s.add(Attachment(id=new_uuid(), volume_id=v.id, instance_uuid=instance,
                             attached_host=host, mountpoint=mountpoint,
                             attach_status="attached", attach_mode=mode,
                             attach_time=utcnow()))
            v.status, v.attach_status = "in-use", "attached"
            v.admin_metadata = {**(v.admin_metadata or {}), "attached_mode": mode}
            v.updated_at = utcnow()

    def detach(self, ctx: Any, volume_id: str, attachment_id: Any, force: bool = False
               ) -> None:
        if attachment_id is not None and not isinstance(attachment_id, str):
            raise errors.BadRequest("Invalid input for field/attribute attachment_id.")
        with self.db.write() as s:
            v = self._find(s, ctx, volume_id)
            active = self._active(s, v)
            if force and not attachment_id:
                for a in active:
                    s.delete(a)
                active = []
                s.flush()
            if not active and not force and not attachment_id:
                # Cinder's manager: nothing attached, so the volume is simply available
                if v.status in ("in-use", "detaching", "attaching", "reserved"):
                    v.status, v.attach_status = "available", "detached"
                return
            if not active and not force:
                raise common.invalid_volume("Volume must be attached in order to detach.")
            if attachment_id:
                chosen = [a for a in active if a.id == attachment_id]
                if not chosen:
                    raise common.not_found("attachment", attachment_id)
            elif force:
                chosen = []
            elif len(active) > 1:
                raise common.invalid_volume("Volume has multiple attachments; specify "
                                            "attachment_id.")
            else:
                chosen = active
            for a in chosen:
                s.delete(a)
            s.flush()
            if self._active(s, v):
                v.status = "in-use"
            else:
                v.status, v.attach_status = "available", "detached"
                v.admin_metadata = {k: val for k, val in (v.admin_metadata or {}).items()
                                    if k != "attached_mode"}
            v.updated_at = utcnow()

    def initialize_connection(self, ctx: Any, volume_id: str, connector: Any
                              ) -> dict[str, Any]:
        if not isinstance(connector, dict):
            raise errors.BadRequest("Must specify 'connector'")
        with self.db.read() as s:
            v = self._find(s, ctx, volume_id)
            if v.status not in ("available", "reserved", "attaching", "in-use", "detaching"):
                raise common.invalid_volume(f"Volume {v.id} status must be available, reserved "
                                            f"or in-use to initialize a connection, but current "
                                            f"status is: {v.status}.")
            readonly = (v.admin_metadata or {}).get("readonly") == "True"
        info = self.driver.connection_info(volume_id, connector)
        info["data"]["access_mode"] = "ro" if readonly else "rw"
        return info

    def terminate_connection(self, ctx: Any, volume_id: str, connector: Any) -> None:
        if not isinstance(connector, dict):
            raise errors.BadRequest("Must specify 'connector'")
        with self.db.read() as s:
            self._find(s, ctx, volume_id)

    # -- attachments API (3.27+) -------------------------------------------------------------
    def attachment_create(self, ctx: Any, volume_id: Any, instance: Any, connector: Any,
                          mode: str | None) -> dict[str, Any]:
        if not volume_id or not isinstance(volume_id, str):
            raise errors.BadRequest("Invalid input for field/attribute volume_uuid.")
        if instance is not None and not isinstance(instance, str):
            raise errors.BadRequest("Invalid input for field/attribute instance_uuid.")
        if connector is not None and not isinstance(connector, dict):
            raise errors.BadRequest("Invalid input for field/attribute connector.")
        mode = mode or "rw"
        if mode not in ("rw", "ro"):
            raise errors.BadRequest("Invalid attach mode, must be 'rw' or 'ro'.")
        with self.db.write() as s:
            v = self._find(s, ctx, str(volume_id))
            active = self._active(s, v)
            ok = ("available", "reserved") + (("in-use", "attaching") if v.multiattach else ())
            if v.status not in ok and not (v.status == "in-use" and not active):
                raise common.invalid_volume(f"Volume {v.id} status must be available or "
                                            f"downloading to reserve, but the current status "
                                            f"is {v.status}.")
            if active and not v.multiattach and any(a.instance_uuid != instance for a in active):
                raise common.invalid_volume("Volume is already attached and is not "
                                            "multiattach.")
            a = Attachment(id=new_uuid(), volume_id=v.id, instance_uuid=instance,
                           attach_status="attaching" if connector else "reserved",
                           attach_mode=mode, connector=connector or None)
            s.add(a)
            if v.status != "in-use":
                v.status = "attaching" if connector else "reserved"
            s.flush()
            conn = self._conn(a, v) if connector else None
            return attachment_view(a, conn)

    def _conn(self, a: Attachment, v: Volume) -> dict[str, Any]:
        info = self.driver.connection_info(v.id, a.connector)
        info["data"]["access_mode"] = a.attach_mode
        info["attachment_id"] = a.id
        return {**info["data"], "driver_volume_type": info["driver_volume_type"],
                "attachment_id": a.id}

    def _attachment(self, s: Session, ctx: Any, attachment_id: str) -> tuple[Attachment, Volume]:
        a = s.get(Attachment, attachment_id)
        if a is None:
            raise common.not_found("attachment", attachment_id)
        v = s.get(Volume, a.volume_id)
        if v is None or not (ctx.is_admin or v.project_id == ctx.project_id):
            raise common.not_found("attachment", attachment_id)
        return a, v

    def attachment_get(self, ctx: Any, attachment_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            a, v = self._attachment(s, ctx, attachment_id)
            return attachment_view(a, self._conn(a, v) if a.connector else None)

    def attachment_list(self, ctx: Any, all_projects: bool, filters: dict[str, Any]
                        ) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(Attachment, Volume).join(Volume, Volume.id == Attachment.volume_id)
            if not all_projects:
                q = q.where(Volume.project_id == ctx.project_id)
            out = []
            for a, v in s.execute(q):
                view = attachment_view(a)
                if filters.get("volume_id") and a.volume_id != filters["volume_id"]:
                    continue
                if filters.get("instance_id") and a.instance_uuid != filters["instance_id"]:
                    continue
                if filters.get("status") and a.attach_status != filters["status"]:
                    continue
                view["created_at"] = common.iso(a.created_at)
                out.append(view)
            return out

    def attachment_update(self, ctx: Any, attachment_id: str, connector: Any
                          ) -> dict[str, Any]:
        if not isinstance(connector, dict):
            raise errors.BadRequest("Invalid input for field/attribute connector.")
        with self.db.write() as s:
            a, v = self._attachment(s, ctx, attachment_id)
            a.connector = connector
            a.attach_status = "attaching"
            if v.status in ("reserved", "available"):
                v.status = "attaching"
            s.flush()
            return attachment_view(a, self._conn(a, v))

    def attachment_complete(self, ctx: Any, attachment_id: str) -> None:
        with self.db.write() as s:
            a, v = self._attachment(s, ctx, attachment_id)
            if a.connector is None:
                raise errors.BadRequest("Invalid attachment: the attachment has no connector "
                                        "yet; update it first.")
            a.attach_status, a.attach_time = "attached", utcnow()
            v.status, v.attach_status = "in-use", "attached"
            v.admin_metadata = {**(v.admin_metadata or {}), "attached_mode": a.attach_mode}
            v.updated_at = utcnow()

    def attachment_delete(self, ctx: Any, attachment_id: str) -> None:
        with self.db.write() as s:
            a, v = self._attachment(s, ctx, attachment_id)
            s.delete(a)
            s.flush()
            if self._active(s, v):
                v.status = "in-use"
            else:
                v.status, v.attach_status = "available", "detached"
                v.admin_metadata = {k: val for k, val in (v.admin_metadata or {}).items()
                                    if k != "attached_mode"}
            v.updated_at = utcnow()

    def volume_view(self, volume_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return volume_view(s, s.get(Volume, volume_id), self.volumes.host)
