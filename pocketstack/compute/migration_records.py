"""Migration records (Nova's ``migrations`` table): one per resize, cold migration, live
migration and evacuation, with Nova's status flows:

- resize / migration: pre-migrating -> migrating -> post-migrating -> finished, then
  confirming -> confirmed, or reverting -> reverted; error on failure;
- live-migration: queued -> preparing -> running -> completed (failed, cancelled);
- evacuation: accepted -> pre-migrating -> done (failed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.compute.models import Flavor, Migration
from pocketstack.db import Database, new_uuid, utcnow

IN_PROGRESS_LIVE = ("queued", "preparing", "running")


class MigrationRecords:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, s: Any, inst: Any, kind: str, status: str, dest: str | None = None,
               new_flavorid: str | None = None) -> Migration:
        """A new record, inside the caller's write (the server's row is locked there)."""
        ids = {}
        for fid in {inst.flavorid, new_flavorid or inst.flavorid}:
            ids[fid] = s.scalar(select(Flavor.id).where(Flavor.flavorid == fid))
        now = utcnow()
        mig = Migration(uuid=new_uuid(), instance_uuid=inst.uuid, migration_type=kind,
                        status=status, source_compute=inst.host, source_node=inst.node,
                        dest_host=dest, old_instance_type_id=ids[inst.flavorid],
                        new_instance_type_id=ids[new_flavorid or inst.flavorid],
                        user_id=inst.user_id, project_id=inst.project_id, created_at=now,
                        updated_at=now)
        s.add(mig)
        s.flush()
        return mig

    def update(self, uuid: str, **fields: Any) -> Migration | None:
        with self.db.write() as s:
            mig = s.scalar(select(Migration).where(Migration.uuid == uuid))
            if mig is None:
                return None
            for k, v in fields.items():
                setattr(mig, k, v)
            mig.updated_at = utcnow()
            return mig

    def get(self, uuid: str) -> Migration | None:
        with self.db.read() as s:
            return s.scalar(select(Migration).where(Migration.uuid == uuid))

    def for_server(self, instance_uuid: str, migration_id: int | None = None
                   ) -> list[Migration]:
        """The server's live migrations in progress (what /servers/{id}/migrations shows)."""
        with self.db.read() as s:
            q = select(Migration).where(Migration.instance_uuid == instance_uuid,
                                        Migration.migration_type == "live-migration",
                                        Migration.status.in_(IN_PROGRESS_LIVE))
            if migration_id is not None:
                q = q.where(Migration.id == migration_id)
            return list(s.scalars(q.order_by(Migration.id)))

    def by_id(self, instance_uuid: str, migration_id: int) -> Migration:
        with self.db.read() as s:
            mig = s.scalar(select(Migration).where(Migration.id == migration_id))
        if mig is None or mig.instance_uuid != instance_uuid:
            raise errors.NotFound(f"Migration {migration_id} could not be found.")
        return mig

    def list(self, filters: dict[str, Any], limit: int | None = None,
             marker: str | None = None, since: dt.datetime | None = None,
             before: dt.datetime | None = None) -> list[Migration]:
        """Newest first (Nova sorts by created_at, id descending)."""
        with self.db.read() as s:
            q = select(Migration).where(Migration.hidden.is_(False))
            for key in ("status", "migration_type", "instance_uuid", "source_compute",
                        "user_id", "project_id"):
                if filters.get(key):
                    q = q.where(getattr(Migration, key) == filters[key])
            if filters.get("host"):
                h = filters["host"]
                q = q.where((Migration.source_compute == h) | (Migration.dest_compute == h))
            if since is not None:
                q = q.where(Migration.updated_at >= since)
            if before is not None:
                q = q.where(Migration.updated_at <= before)
            rows = list(s.scalars(q.order_by(Migration.created_at.desc(),
                                             Migration.id.desc())))
        if marker is not None:
            idx = next((i for i, m in enumerate(rows) if m.uuid == marker), None)
            if idx is None:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            rows = rows[idx + 1:]
        if limit is not None:
            rows = rows[:limit]
        return rows
