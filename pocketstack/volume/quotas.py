"""Quotas: limits per project (defaults from config, overrides in volume_quota), usage
counted from the real rows every time (nothing to drift)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.config import Opt, register
from pocketstack.volume import common
from pocketstack.volume.models import Backup, Quota, Snapshot, Volume, VolumeType

DEFAULTS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000, "backups": 10,
            "backup_gigabytes": 1000, "groups": 10, "per_volume_gigabytes": -1}
register(*(Opt("DEFAULT", f"quota_{k}", int, v, f"Default {k} quota of a project.")
           for k, v in DEFAULTS.items()))

RESOURCES = tuple(DEFAULTS)


class Quotas:
    #: rows of this pseudo project hold the 'default' quota class (over the config defaults)
    CLASS = "__quota_class_default__"

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def defaults(self, session: Session) -> dict[str, int]:
        out = {k: int(self.cloud.conf.get("DEFAULT", f"quota_{k}")) for k in RESOURCES}
        for t in session.scalars(select(VolumeType.name)):
            for res in ("volumes", "gigabytes", "snapshots"):
                out[f"{res}_{t}"] = -1
        for q in session.scalars(select(Quota).where(Quota.project_id == self.CLASS)):
            if q.resource in out:
                out[q.resource] = q.hard_limit
        return out

    def limits(self, session: Session, project_id: str) -> dict[str, int]:
        out = self.defaults(session)
        if project_id == self.CLASS:
            return out
        for q in session.scalars(select(Quota).where(Quota.project_id == project_id)):
            out[q.resource] = q.hard_limit
        return out

    def usage(self, session: Session, project_id: str) -> dict[str, int]:
        vols = session.execute(
            select(func.count(Volume.id), func.coalesce(func.sum(Volume.size), 0)).where(
                Volume.project_id == project_id)).one()
        snaps = session.execute(
            select(func.count(Snapshot.id), func.coalesce(func.sum(Snapshot.size), 0)).where(
                Snapshot.project_id == project_id)).one()
        backups = session.execute(
            select(func.count(Backup.id), func.coalesce(func.sum(Backup.size), 0)).where(
                Backup.project_id == project_id)).one()
        out = {"volumes": vols[0], "gigabytes": int(vols[1]) + int(snaps[1]),
               "snapshots": snaps[0], "backups": backups[0],
               "backup_gigabytes": int(backups[1]), "groups": 0, "per_volume_gigabytes": 0}
        types = {t.id: t.name for t in session.scalars(select(VolumeType))}
        for name in types.values():
            for res in ("volumes", "gigabytes", "snapshots"):
                out[f"{res}_{name}"] = 0
        for type_id, count, size in session.execute(
                select(Volume.volume_type_id, func.count(Volume.id), func.sum(Volume.size))
                .where(Volume.project_id == project_id).group_by(Volume.volume_type_id)):
            if type_id in types:
                out[f"volumes_{types[type_id]}"] = count
                out[f"gigabytes_{types[type_id]}"] = int(size or 0)
        return out

    # -- checks done inside the write transaction that adds the rows ---------------
    # (the hot path of every create: one query for the limits, and only the usage
    # queries the requested deltas need)
    def _check_limits(self, session: Session, project_id: str) -> dict[str, int]:
        out = {k: int(self.cloud.conf.get("DEFAULT", f"quota_{k}")) for k in RESOURCES}
        rows = list(session.scalars(select(Quota).where(
            Quota.project_id.in_((self.CLASS, project_id)))))
        for q in sorted(rows, key=lambda q: q.project_id != self.CLASS):
            out[q.resource] = q.hard_limit  # the class first, the project's own over it
        return out

    def _check_usage(self, session: Session, project_id: str, limits: dict[str, int], *,
                     volumes: int, snapshots: int, gigabytes: int, backups: int,
                     backup_gigabytes: int, type_name: str | None) -> dict[str, int]:
        def limited(res: str, delta: int) -> bool:
            return delta > 0 and limits.get(res, -1) >= 0

        out: dict[str, int] = {}
        if limited("volumes", volumes) or limited("gigabytes", gigabytes):
            count, size = session.execute(
                select(func.count(Volume.id), func.coalesce(func.sum(Volume.size), 0))
                .where(Volume.project_id == project_id)).one()
            out["volumes"] = count
            out["gigabytes"] = int(size)
        if limited("snapshots", snapshots) or limited("gigabytes", gigabytes):
            count, size = session.execute(
                select(func.count(Snapshot.id), func.coalesce(func.sum(Snapshot.size), 0))
                .where(Snapshot.project_id == project_id)).one()
            out["snapshots"] = count
            out["gigabytes"] = out.get("gigabytes", 0) + int(size)
        if limited("backups", backups) or limited("backup_gigabytes", backup_gigabytes):
            count, size = session.execute(
                select(func.count(Backup.id), func.coalesce(func.sum(Backup.size), 0))
                .where(Backup.project_id == project_id)).one()
            out["backups"], out["backup_gigabytes"] = count, int(size)
        if type_name and (limited(f"volumes_{type_name}", volumes) or
                          limited(f"gigabytes_{type_name}", gigabytes)):
            count, size = session.execute(
                select(func.count(Volume.id), func.coalesce(func.sum(Volume.size), 0))
                .join(VolumeType, VolumeType.id == Volume.volume_type_id)
                .where(Volume.project_id == project_id, VolumeType.name == type_name)).one()
            out[f"volumes_{type_name}"], out[f"gigabytes_{type_name}"] = count, int(size)
        for res in RESOURCES:
            out.setdefault(res, 0)
        return out

    def check(self, session: Session, project_id: str, *, volumes: int = 0, snapshots: int = 0,
              gigabytes: int = 0, backups: int = 0, backup_gigabytes: int = 0,
              per_volume: int | None = None, type_name: str | None = None) -> None:
        limits = self._check_limits(session, project_id)
        if per_volume is not None and limits["per_volume_gigabytes"] >= 0 and \
                per_volume > limits["per_volume_gigabytes"]:
            raise common.OverLimit(
                f"Requested volume size {per_volume}G is larger than maximum allowed limit "
                f"{limits['per_volume_gigabytes']}G.", headers={"Retry-After": "0"})
        usage = self._check_usage(session, project_id, limits, volumes=volumes,
                                  snapshots=snapshots, gigabytes=gigabytes, backups=backups,
                                  backup_gigabytes=backup_gigabytes, type_name=type_name)
        for res, delta in (("volumes", volumes), ("snapshots", snapshots),
                           ("backups", backups)):
            if delta > 0 and 0 <= limits[res] < usage[res] + delta:
                raise common.over_limit(res, limits[res])
        for res, delta in (("gigabytes", gigabytes), ("backup_gigabytes", backup_gigabytes)):
            if delta > 0 and 0 <= limits[res] < usage[res] + delta:
                raise common.over_gigabytes(res, delta, limits[res], usage[res])
        if type_name:
            res = f"volumes_{type_name}"
            if volumes > 0 and 0 <= limits.get(res, -1) < usage.get(res, 0) + volumes:
                raise common.over_limit(res, limits[res])
            res = f"gigabytes_{type_name}"
            if gigabytes > 0 and 0 <= limits.get(res, -1) < usage.get(res, 0) + gigabytes:
                raise common.over_gigabytes(res, gigabytes, limits[res], usage.get(res, 0))

    # -- API ----------------------------------------------------------------------
    def show(self, project_id: str, usage: bool = False) -> dict[str, Any]:
        with self.cloud.db.read() as s:
            limits = self.limits(s, project_id)
            if not usage:
                return {"id": project_id, **limits}
            used = self.usage(s, project_id)
        return {"id": project_id, **{k: {"limit": v, "in_use": used.get(k, 0),
                                          "reserved": 0, "allocated": 0}
                                      for k, v in limits.items()}}

    def show_defaults(self, project_id: str) -> dict[str, Any]:
        with self.cloud.db.read() as s:
            return {"id": project_id, **self.defaults(s)}

    def update(self, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.cloud.db.write() as s:
            known = self.defaults(s)
            used = self.usage(s, project_id)
            for key, value in body.items():
                if key in ("skip_validation", "id"):
                    continue
                if key not in known:
                    raise errors.BadRequest(f"Bad key(s) in quota set: {key}")
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise errors.BadRequest(f"Quota {key} must be an integer.") from None
                if value < -1:
                    raise errors.BadRequest(f"Quota {key} must be greater than or equal "
                                            "to -1.")
                if value != -1 and key != "per_volume_gigabytes" and used.get(key, 0) > value:
                    raise errors.BadRequest(
                        f"Quota limit invalid for project '{project_id}' for quota '{key}': "
                        f"Limit of {value} must be greater than or equal to "
                        f"{used.get(key, 0)} in use.")
                row = s.get(Quota, (project_id, key))
                if row is None:
                    s.add(Quota(project_id=project_id, resource=key, hard_limit=value))
                else:
                    row.hard_limit = value
            s.flush()
            return self.limits(s, project_id)

    def delete(self, project_id: str) -> None:
        with self.cloud.db.write() as s:
            for row in s.scalars(select(Quota).where(Quota.project_id == project_id)):
                s.delete(row)

    def per_project(self) -> list[tuple[str, int, int, int, int]]:
        """(project, volumes, volume GB, snapshots, snapshot GB) of every project."""
        with self.cloud.db.read() as s:
            vols = {p: (n, int(g or 0)) for p, n, g in s.execute(
                select(Volume.project_id, func.count(Volume.id), func.sum(Volume.size))
                .group_by(Volume.project_id))}
            snaps = {p: (n, int(g or 0)) for p, n, g in s.execute(
                select(Snapshot.project_id, func.count(Snapshot.id), func.sum(Snapshot.size))
                .group_by(Snapshot.project_id))}
        return [(p, *vols.get(p, (0, 0)), *snaps.get(p, (0, 0)))
                for p in sorted(set(vols) | set(snaps))]

    def allocated_gb(self) -> int:
        with self.cloud.db.read() as s:
            return int(s.scalar(select(func.coalesce(func.sum(Volume.size), 0))) or 0)

    def allocated_gb_by_host(self) -> dict[str, int]:
        """GiB of volumes per ``HOST@backend#pool`` (the pools' allocated capacity)."""
        with self.cloud.db.read() as s:
            return {h: int(n or 0) for h, n in s.execute(
                select(Volume.host, func.sum(Volume.size)).group_by(Volume.host))}

    def absolute_limits(self, project_id: str) -> dict[str, int]:
        with self.cloud.db.read() as s:
            lim = self.limits(s, project_id)
            used = self.usage(s, project_id)
        return {"maxTotalVolumes": lim["volumes"], "maxTotalSnapshots": lim["snapshots"],
                "maxTotalVolumeGigabytes": lim["gigabytes"], "maxTotalBackups": lim["backups"],
                "maxTotalBackupGigabytes": lim["backup_gigabytes"],
                "totalVolumesUsed": used["volumes"], "totalGigabytesUsed": used["gigabytes"],
                "totalSnapshotsUsed": used["snapshots"], "totalBackupsUsed": used["backups"],
                "totalBackupGigabytesUsed": used["backup_gigabytes"]}
