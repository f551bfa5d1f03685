"""Backups (compressed copies under DATA_DIR/backups) and volume transfers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common
from pocketstack.volume.models import Backup, Snapshot, Transfer, Volume
from pocketstack.volume.volumes import AZ, Volumes, check_metadata


def backup_view(b: Backup, has_dependents: bool = False) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "description": b.description, "status": b.status,
            "availability_zone": b.availability_zone, "volume_id": b.volume_id,
            "snapshot_id": b.snapshot_id, "size": b.size, "object_count": b.object_count,
            "container": b.container, "created_at": common.iso(b.created_at),
            "updated_at": common.iso(b.updated_at),
            "data_timestamp": common.iso(b.data_timestamp or b.created_at),
            "has_dependent_backups": has_dependents, "is_incremental": b.is_incremental,
            "fail_reason": b.fail_reason, "os-backup-project-attr:project_id": b.project_id,
            "user_id": b.user_id, "metadata": dict(b.metadata_ or {}),
            "encryption_key_id": None}


def transfer_view(t: Transfer) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "volume_id": t.volume_id,
            "created_at": common.iso(t.created_at), "source_project_id": t.project_id,
            "destination_project_id": None, "accepted": False, "no_snapshots": t.no_snapshots}


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256((salt + key).encode()).hexdigest()


class Backups:
    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes
        self.db = volumes.db
        self.driver = volumes.driver
        self.worker = volumes.worker

    def find(self, s: Any, ctx: Any, backup_id: str) -> Backup:
        return common.find_owned(s, Backup, "backup", backup_id, ctx)

    def _view(self, s: Any, b: Backup) -> dict[str, Any]:
        deps = s.scalar(select(Backup.id).where(Backup.parent_id == b.id).limit(1)) is not None
        return backup_view(b, deps)

    def create(self, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        volume_id = body.get("volume_id")
        if not volume_id or not isinstance(volume_id, str):
            raise errors.BadRequest("Invalid input for field/attribute volume_id.")
        common.check_strings(body, ("name", "snapshot_id", "container", "availability_zone"))
        common.check_strings(body, ("description",), 0)
        force = common.as_bool(body.get("force", False), "force")
        incremental = common.as_bool(body.get("incremental", False), "incremental")
        snapshot_id = body.get("snapshot_id")
        meta = check_metadata(body.get("metadata") or {})
        bid = new_uuid()
        with self.db.write() as s:
            v = Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)
            if snapshot_id:
                snap = s.get(Snapshot, snapshot_id)
                if snap is None or snap.volume_id != v.id:
                    raise common.not_found("snapshot", snapshot_id)
                if snap.status != "available":
                    raise common.invalid("snapshot", "Snapshot to be backed up must be "
                                         "available, but the current status is "
                                         f"\"{snap.status}\".")
            else:
                ok = ("available", "in-use") if force else ("available",)
                if v.status not in ok:
                    raise common.invalid_volume(f"Volume to be backed up must be available or "
                                                f"in-use, but the current status is "
                                                f"\"{v.status}\".")
            parent = None
            if incremental:
                parent = s.scalar(select(Backup).where(Backup.volume_id == v.id,
                                                       Backup.status == "available")
                                  .order_by(Backup.created_at.desc()).limit(1))
                if parent is None:
                    raise errors.BadRequest("Invalid backup: No backups available to do an "
                                            "incremental backup.")
            self.volumes.quotas.check(s, v.project_id, backups=1, backup_gigabytes=v.size)
            now = utcnow()
            s.add(Backup(id=bid, project_id=v.project_id, user_id=ctx.user_id, volume_id=v.id,
                         snapshot_id=snapshot_id, parent_id=parent.id if parent else None,
                         name=body.get("name"), description=body.get("description"),
                         status="creating", size=v.size,
                         availability_zone=body.get("availability_zone") or AZ,
                         container=body.get("container") or "volumebackups",
                         is_incremental=incremental, metadata_=meta, created_at=now,
                         updated_at=now, data_timestamp=now,
                         volume_metadata=dict(v.metadata_ or {})))
            if not snapshot_id:
                v.previous_status, v.status = v.status, "backing-up"

        def run() -> None:
            count = self.driver.backup_volume(bid, volume_id=volume_id,
                                              snapshot_id=snapshot_id)
            with self.db.write() as s:
                b = s.get(Backup, bid)
                if b is not None and b.status == "creating":
                    b.status, b.object_count = "available", count
                self._volume_back(s, volume_id)

        def fail(s: Any, exc: BaseException) -> None:
            b = s.get(Backup, bid)
            if b is not None:
                b.status, b.fail_reason = "error", str(exc) or type(exc).__name__
            self._volume_back(s, volume_id)

        self.worker.submit(ctx, "VOLUME_BACKUP", bid, "backup_create", run, fail)
        with self.db.read() as s:
            return self._view(s, s.get(Backup, bid))

    @staticmethod
    def _volume_back(s: Any, volume_id: str) -> None:
        v = s.get(Volume, volume_id)
        if v is not None and v.status == "backing-up":
            v.status = v.previous_status or "available"

    def get(self, ctx: Any, backup_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return self._view(s, self.find(s, ctx, backup_id))

    def list(self, ctx: Any, all_projects: bool, filters: dict[str, Any]
             ) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(Backup)
            if not all_projects:
                q = q.where(Backup.project_id == ctx.project_id)
            rows = [self._view(s, b) for b in s.scalars(q)]
        return [r for r in rows if not any(
            k in ("name", "status", "volume_id") and r.get(k) != v for k, v in filters.items())]

    def update(self, ctx: Any, backup_id: str, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name",))
        common.check_strings(body, ("description",), 0)
        with self.db.write() as s:
            b = self.find(s, ctx, backup_id)
            for key in ("name", "description"):
                if key in body:
                    setattr(b, key, body[key])
            if "metadata" in body:
                b.metadata_ = check_metadata(body["metadata"])
            b.updated_at = utcnow()
            s.flush()
            return self._view(s, b)

    def delete(self, ctx: Any, backup_id: str, force: bool = False) -> None:
        with self.db.write() as s:
            b = self.find(s, ctx, backup_id)
            if not force and b.status not in ("available", "error"):
                raise errors.BadRequest("Invalid backup: Backup status must be available or "
                                        "error")
            if s.scalar(select(Backup.id).where(Backup.parent_id == b.id).limit(1)):
                raise errors.BadRequest("Invalid backup: Incremental backups exist for this "
                                        "backup.")
            b.status = "deleting"
        self.driver.delete_backup(backup_id)
        with self.db.write() as s:
            b = s.get(Backup, backup_id)
            if b is not None:
                s.delete(b)

    def reset_status(self, ctx: Any, backup_id: str, status: Any) -> None:
        if status not in ("available", "error"):
            raise errors.BadRequest(f"Invalid input received: Must specify a valid status: "
                                    f"{status}")
        with self.db.write() as s:
            self.find(s, ctx, backup_id).status = status

    def restore(self, ctx: Any, backup_id: str, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("volume_id", "name", "volume_type", "availability_zone"))
        volume_id = body.get("volume_id")
        with self.db.read() as s:
            b = self.find(s, ctx, backup_id)
            if b.status != "available":
                raise errors.BadRequest("Invalid backup: Backup status must be available")
            size = b.size
        if not volume_id:
            vol = self.volumes.create(ctx, {"size": size, "name": body.get("name") or
                                            f"restore_backup_{backup_id}",
                                            "volume_type": body.get("volume_type"),
                                            "availability_zone": body.get(
                                                "availability_zone")})
            volume_id = vol["id"]
        with self.db.write() as s:
            b = self.find(s, ctx, backup_id)
            v = Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)
            if v.status != "available":
                raise common.invalid_volume(f"Volume to be restored to must be available, "
                                            f"but the current status is \"{v.status}\".")
            if v.size < b.size:
                raise common.invalid_volume(f"volume size {v.size} is too small to restore "
                                            f"backup of size {b.size}.")
            b.status, v.status = "restoring", "restoring-backup"
            name = v.name
            # as Cinder, the backed-up volume's metadata comes back with the data
            v.metadata_ = {**(v.metadata_ or {}), **(b.volume_metadata or {})}

        def settle(s: Any, vstatus: str) -> None:
            b = s.get(Backup, backup_id)
            if b is not None and b.status == "restoring":
                b.status = "available"
            v = s.get(Volume, volume_id)
            if v is not None and v.status == "restoring-backup":
                v.status = vstatus

        def run() -> None:
            self.driver.restore_backup(backup_id, volume_id)
            with self.db.write() as s:
                settle(s, "available")

        self.worker.submit(ctx, "VOLUME", volume_id, "backup_restore", run,
                           lambda s, exc: settle(s, "error_restoring"))
        return {"backup_id": backup_id, "volume_id": volume_id, "volume_name": name}


def _export(b: Backup) -> str:
    record = {k: getattr(b, k) for k in ("id", "project_id", "user_id", "volume_id",
                                          "snapshot_id", "parent_id", "name", "description",
                                          "size", "availability_zone", "container",
                                          "object_count", "is_incremental")}
    record["metadata"] = dict(b.metadata_ or {})
    record["data_id"] = b.id  # whose file holds the data (an import may take a new id)
    return base64.b64encode(json.dumps(record).encode()).decode()


class BackupRecords:
    """export_record / import_record: the backup's row, base64 JSON, as its backup_url."""

    # Clients (Tempest) expect a Cinder backup driver's name: backups here are files on
    # a local file system, as with Cinder's posix driver. The older name still imports.
    SERVICE = "cinder.backup.drivers.posix"
    ALIASES = (SERVICE, "pocketstack.volume.drivers.file")

    def __init__(self, backups: Backups) -> None:
        self.backups = backups
        self.db = backups.db

    def export(self, ctx: Any, backup_id: str) -> dict[str, str]:
        with self.db.read() as s:
            b = self.backups.find(s, ctx, backup_id)
            if b.status != "available":
                raise errors.BadRequest(f"Invalid backup: Backup status must be available "
                                        f"and not {b.status}.")
            return {"backup_service": self.SERVICE, "backup_url": _export(b)}

    def import_(self, ctx: Any, service: Any, url: Any) -> dict[str, Any]:
        if service not in self.ALIASES:
            raise errors.BadRequest(f"Service {service} could not be found.")
        try:
            record = json.loads(base64.b64decode(str(url), validate=True))
            backup_id = str(record["id"])
        except (ValueError, KeyError, TypeError):
            raise errors.BadRequest("Invalid input received: Can't parse backup record.") \
                from None
        data_id = str(record.get("data_id") or backup_id)
        source = self.backups.driver.backup_path(data_id)
        if not os.path.exists(source):
            raise errors.BadRequest(f"Invalid backup: the data of backup {data_id} is not "
                                    "in this cloud's backup store.")
        with self.db.write() as s:
            if s.get(Backup, backup_id) is not None:
                raise errors.BadRequest(f"Invalid backup: Backup {backup_id} already exists.")
            target = self.backups.driver.backup_path(backup_id)
            if data_id != backup_id and not os.path.exists(target):
                # the record was imported under a new id: both names share the data (a hard
                # link), and deleting either backup leaves the other's intact
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copyfile(source, target)
            now = utcnow()
            b = Backup(id=backup_id, project_id=ctx.project_id or record.get("project_id"),
                       user_id=ctx.user_id, volume_id=str(record.get("volume_id") or ""),
                       snapshot_id=None, parent_id=None, name=record.get("name"),
                       description=record.get("description"), status="available",
                       size=int(record.get("size") or 1),
                       availability_zone=record.get("availability_zone") or AZ,
                       container=record.get("container"),
                       object_count=int(record.get("object_count") or 0),
                       is_incremental=False, metadata_=record.get("metadata") or {},
                       created_at=now, updated_at=now, data_timestamp=now)
            s.add(b)
            s.flush()
            return backup_view(b)


class Transfers:
    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes
        self.db = volumes.db

    def find(self, s: Any, ctx: Any, transfer_id: str) -> Transfer:
        return common.find_owned(s, Transfer, "transfer", transfer_id, ctx)

    def create(self, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        volume_id = body.get("volume_id")
        if not volume_id or not isinstance(volume_id, str):
            raise errors.BadRequest("Invalid input for field/attribute volume_id.")
        common.check_strings(body, ("name",))
        no_snapshots = common.as_bool(body.get("no_snapshots", False), "no_snapshots")
        key = secrets.token_hex(8)
        salt = secrets.token_hex(8)
        with self.db.write() as s:
            v = Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)
            if v.status != "available":
                raise common.invalid_volume(f"Volume {v.id} status must be available to "
                                            f"transfer, but current status is: {v.status}.")
            v.status = "awaiting-transfer"
            t = Transfer(id=new_uuid(), volume_id=v.id, project_id=v.project_id,
                         name=body.get("name"), salt=salt, crypt_hash=_hash(salt, key),
                         no_snapshots=no_snapshots, created_at=utcnow())
            s.add(t)
            s.flush()
            return {**transfer_view(t), "auth_key": key}

    def get(self, ctx: Any, transfer_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return transfer_view(self.find(s, ctx, transfer_id))

    def list(self, ctx: Any, all_projects: bool) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(Transfer)
            if not all_projects:
                q = q.where(Transfer.project_id == ctx.project_id)
            return [transfer_view(t) for t in s.scalars(q)]

    def delete(self, ctx: Any, transfer_id: str) -> None:
        with self.db.write() as s:
            t = self.find(s, ctx, transfer_id)
            v = s.get(Volume, t.volume_id)
            if v is not None and v.status == "awaiting-transfer":
                v.status = "available"
            s.delete(t)

    def accept(self, ctx: Any, transfer_id: str, auth_key: Any) -> dict[str, Any]:
        if not auth_key or not isinstance(auth_key, str):
            raise errors.BadRequest("Invalid input for field/attribute auth_key.")
        if not ctx.project_id:
            raise errors.BadRequest("Accepting a transfer needs a project-scoped token.")
        with self.db.write() as s:
            t = s.get(Transfer, transfer_id)
            if t is None:
                raise common.not_found("transfer", transfer_id)
            if not hmac.compare_digest(t.crypt_hash, _hash(t.salt, auth_key)):
                raise errors.BadRequest(f"Invalid auth key: Attempt to transfer {transfer_id} "
                                        "with invalid auth key.")
            v = s.get(Volume, t.volume_id)
            snaps = list(s.scalars(select(Snapshot).where(Snapshot.volume_id == v.id)))
            if snaps and t.no_snapshots:
                raise common.invalid_volume("Volume has snapshots and the transfer excludes "
                                            "them.")
            self.volumes.quotas.check(s, ctx.project_id, volumes=1, gigabytes=v.size +
                                      sum(x.size for x in snaps), snapshots=len(snaps))
            v.project_id, v.user_id, v.status = ctx.project_id, ctx.user_id, "available"
            for x in snaps:
                x.project_id, x.user_id = ctx.project_id, ctx.user_id
            out = {"id": t.id, "name": t.name, "volume_id": v.id}
            s.delete(t)
            return out
