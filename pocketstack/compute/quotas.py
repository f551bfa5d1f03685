"""Compute quotas: configured defaults (overridden by the ``default`` quota class),
per-project and per-user overrides, usage counted from rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.compute.models import (Instance, KeyPair, ProjectUserQuota, Quota,
                                        QuotaClass, ServerGroup)
from pocketstack.config import Config
from pocketstack.db import Database
from pocketstack.db.raw import Memo, Tx, invalidates

RESOURCES = ("instances", "cores", "ram", "metadata_items", "injected_files",
             "injected_file_content_bytes", "injected_file_path_bytes", "key_pairs",
             "server_groups", "server_group_members")
# removed from the API at 2.36 (proxied to Neutron) -- always unlimited/defaults here
LEGACY = {"floating_ips": 10, "fixed_ips": -1, "security_groups": 10,
          "security_group_rules": 20, "networks": -1}
_USED = ("SELECT count(id), coalesce(sum(vcpus), 0), coalesce(sum(memory_mb), 0) FROM "
         "compute_instance WHERE project_id = :project_id AND deleted = :false")
INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


class Quotas:
    def __init__(self, db: Database, conf: Config) -> None:
        self.db = db
        self.conf = conf
        self.memo = Memo()  # (project, user) -> read_limits(): kept until a quota write

    def defaults(self, session: Session | None = None) -> dict[str, int]:
        """The configured defaults overridden by the ``default`` quota class (as Nova)."""
        return self.class_limits("default", session)

    def _rows(self, session: Session | None, q: Any) -> list[Any]:
        if session is not None:
            return list(session.scalars(q))
        with self.db.read() as s:
            return list(s.scalars(q))

    def class_limits(self, name: str, session: Session | None = None) -> dict[str, int]:
        out = {}
        for r in RESOURCES:
            opt = "injected_file_path_length" if r == "injected_file_path_bytes" else r
            out[r] = int(self.conf.get("quota", opt))
        names = ["default"] if name == "default" else ["default", name]
        rows = self._rows(session, select(QuotaClass).where(QuotaClass.class_name.in_(names)))
        for row in sorted(rows, key=lambda r: r.class_name != "default"):
            out[row.resource] = row.hard_limit
        return out

    @invalidates
    def update_class(self, name: str, values: dict[str, int]) -> None:
        with self.db.write() as s:
            for resource, limit in values.items():
                row = s.get(QuotaClass, (name, resource))
                if row is None:
                    s.add(QuotaClass(class_name=name, resource=resource, hard_limit=limit))
                else:
                    row.hard_limit = limit

    def limits(self, project_id: str, session: Session | None = None,
               user_id: str | None = None) -> dict[str, int]:
        """The project's limits; with ``user_id`` that user's (project ones overridden by
        the user's own, Nova's project_user_quotas)."""
        out = self.defaults(session)
        for row in self._rows(session, select(Quota).where(Quota.project_id == project_id)):
            out[row.resource] = row.hard_limit
        if user_id is not None:
            for row in self._rows(session, select(ProjectUserQuota).where(
                    ProjectUserQuota.project_id == project_id,
                    ProjectUserQuota.user_id == user_id)):
                out[row.resource] = row.hard_limit
        return out

    def user_overrides(self, project_id: str, user_id: str,
                       session: Session | None = None) -> dict[str, int]:
        return {row.resource: row.hard_limit for row in self._rows(session, select(
            ProjectUserQuota).where(ProjectUserQuota.project_id == project_id,
                                    ProjectUserQuota.user_id == user_id))}

    def usage(self, project_id: str, user_id: str | None = None,
              session: Session | None = None, per_user: bool = False) -> dict[str, int]:
        """Usage counted from rows; ``per_user`` counts only ``user_id``'s servers."""
        def count(s: Session) -> dict[str, int]:
            n, cores, ram = self._servers(s, project_id, user_id if per_user else None)
            groups = s.scalar(select(func.count(ServerGroup.id))
                              .where(ServerGroup.project_id == project_id)) or 0
            keys = s.scalar(select(func.count(KeyPair.id))
                            .where(KeyPair.user_id == user_id)) if user_id else 0
            return {"instances": n, "cores": int(cores), "ram": int(ram),
                    "server_groups": groups, "key_pairs": keys or 0}

        if session is not None:
            return count(session)
        with self.db.read() as s:
            return count(s)

    @staticmethod
    def _servers(s: Session | Tx, project_id: str, user_id: str | None = None
                 ) -> tuple[int, int, int]:
        """(servers, cores, ram) the project (or only ``user_id``) uses, in one query
        (``s``: a session or SQL text's transaction)."""
        if isinstance(s, Tx):
            sql = _USED if user_id is None else _USED + " AND user_id = :user_id"
            n, cores, ram = s.one(sql, {"project_id": project_id, "user_id": user_id,
                                        "false": False})
            return int(n), int(cores), int(ram)
        where = [Instance.project_id == project_id, Instance.deleted.is_(False)]
        if user_id is not None:
            where.append(Instance.user_id == user_id)
        n, cores, ram = s.execute(
            select(func.count(Instance.id), func.coalesce(func.sum(Instance.vcpus), 0),
                   func.coalesce(func.sum(Instance.memory_mb), 0)).where(*where)).one()
        return int(n), int(cores), int(ram)

    def check_instances(self, s: Session, project_id: str, count: int, vcpus: int,
                        ram: int, user_id: str | None = None,
                        known: tuple[dict[str, int], dict[str, int]] | None = None) -> None:
        """Raise OverQuota (403) when ``count`` more servers do not fit (inside a write):
        the project's limits, then the user's own when it has some. ``known``: the
        (limits, user overrides) already read by the caller (:meth:`read_limits`, outside
        the write lock): only the usage is counted here then."""
        limits, own = known if known is not None else (
            self.limits(project_id, s),
            self.user_overrides(project_id, user_id, s) if user_id else {})
        used = dict(zip(("instances", "cores", "ram"), self._servers(s, project_id)))
        requested = {"instances": count, "cores": vcpus * count, "ram": ram * count}
        overs = [r for r in ("instances", "cores", "ram")
                 if limits[r] >= 0 and used[r] + requested[r] > limits[r]]
        if not overs and any(r in own for r in ("instances", "cores", "ram")):
            limits = {**limits, **own}
            used = dict(zip(("instances", "cores", "ram"),
                            self._servers(s, project_id, user_id)))
            overs = [r for r in ("instances", "cores", "ram")
                     if r in own and limits[r] >= 0 and used[r] + requested[r] > limits[r]]
        if overs:
            r = overs[0]
            raise errors.OverQuota(
                f"Quota exceeded for {', '.join(overs)}: Requested {requested[r]}, but already "
                f"used {used[r]} of {limits[r]} {r}")

    def check_delta(self, s: Session, project_id: str, cores: int, ram: int) -> None:
        """A resize growing a server by ``cores``/``ram`` must fit the quota."""
        limits = self.limits(project_id, s)
        used = self.usage(project_id, session=s)
        for r, delta in (("cores", cores), ("ram", ram)):
            if delta > 0 and limits[r] >= 0 and used[r] + delta > limits[r]:
                raise errors.OverQuota(f"Quota exceeded for {r}: Requested {delta}, but already "
                                       f"used {used[r]} of {limits[r]} {r}")

    def headroom(self, s: Session, project_id: str, vcpus: int, ram: int) -> int:
        """How many servers of this size still fit the project's quota."""
        limits = self.limits(project_id, s)
        used = self.usage(project_id, session=s)
        fits = []
        for r, per in (("instances", 1), ("cores", vcpus), ("ram", ram)):
            if limits[r] >= 0 and per > 0:
                fits.append(max(0, (limits[r] - used[r]) // per))
        return min(fits) if fits else 1 << 30

    def read_limits(self, project_id: str, user_id: str | None
                    ) -> tuple[dict[str, int], dict[str, int]]:
        """(limits, user overrides) in one read, for :meth:`check_instances`'s ``known``
        (kept in memory until a quota write: treat them as read-only)."""
        def read() -> tuple[dict[str, int], dict[str, int]]:
            with self.db.read() as s:
                return (self.limits(project_id, s),
                        self.user_overrides(project_id, user_id, s) if user_id else {})
        return self.memo.get((project_id, user_id), read)

    def check_metadata(self, project_id: str, metadata: dict[str, Any],
                       limits: dict[str, int] | None = None) -> None:
        limit = (limits or self.limits(project_id))["metadata_items"]
        if limit >= 0 and len(metadata) > limit:
            raise errors.OverQuota("Quota exceeded for metadata_items: Requested "
                                   f"{len(metadata)}, but already used 0 of {limit} "
                                   "metadata_items")

    @invalidates
    def update(self, project_id: str, values: dict[str, int],
               user_id: str | None = None) -> None:
        with self.db.write() as s:
            for resource, limit in values.items():
                if user_id is None:
                    row = s.get(Quota, (project_id, resource))
                    new: Any = Quota(project_id=project_id, resource=resource,
                                     hard_limit=limit)
                else:
                    row = s.get(ProjectUserQuota, (project_id, user_id, resource))
                    new = ProjectUserQuota(project_id=project_id, user_id=user_id,
                                           resource=resource, hard_limit=limit)
                if row is None:
                    s.add(new)
                else:
                    row.hard_limit = limit

    @invalidates
    def reset(self, project_id: str, user_id: str | None = None) -> None:
        with self.db.write() as s:
            if user_id is None:
                s.execute(delete(Quota).where(Quota.project_id == project_id))
                s.execute(delete(ProjectUserQuota)
                          .where(ProjectUserQuota.project_id == project_id))
            else:
                s.execute(delete(ProjectUserQuota).where(
                    ProjectUserQuota.project_id == project_id,
                    ProjectUserQuota.user_id == user_id))

    @staticmethod
    def shape(values: dict[str, Any], version_at_least: Any) -> dict[str, Any]:
        """Keep the resources the microversion shows (2.36 drops network ones, 2.57 files)."""
        out = dict(values)
        if not version_at_least("2.36"):
            for k, v in LEGACY.items():
                out.setdefault(k, v)
        else:
            for k in LEGACY:
                out.pop(k, None)
        out.pop("networks", None)  # Nova hides it with Neutron (enable_network_quota=False)
        if version_at_least("2.57"):
            for k in INJECTED:
                out.pop(k, None)
        return out
