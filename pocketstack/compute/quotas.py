"""Compute quotas: configured defaults, per-project overrides, usage counted from rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.compute.models import Instance, KeyPair, Quota, ServerGroup
from pocketstack.config import Config
from pocketstack.db import Database

RESOURCES = ("instances", "cores", "ram", "metadata_items", "injected_files",
             "injected_file_content_bytes", "injected_file_path_bytes", "key_pairs",
             "server_groups", "server_group_members")
# removed from the API at 2.36 (proxied to Neutron) -- always unlimited/defaults here
LEGACY = {"floating_ips": 10, "fixed_ips": -1, "security_groups": 10,
          "security_group_rules": 20, "networks": -1}
INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


class Quotas:
    def __init__(self, db: Database, conf: Config) -> None:
        self.db = db
        self.conf = conf

    def defaults(self) -> dict[str, int]:
        out = {}
        for r in RESOURCES:
            name = "injected_file_path_length" if r == "injected_file_path_bytes" else r
            out[r] = int(self.conf.get("quota", name))
        return out

    def limits(self, project_id: str, session: Session | None = None) -> dict[str, int]:
        out = self.defaults()
        if session is None:
            with self.db.read() as s:
                rows = list(s.scalars(select(Quota).where(Quota.project_id == project_id)))
        else:
            rows = list(session.scalars(select(Quota).where(Quota.project_id == project_id)))
        for row in rows:
            out[row.resource] = row.hard_limit
        return out

    def usage(self, project_id: str, user_id: str | None = None,
              session: Session | None = None) -> dict[str, int]:
        def count(s: Session) -> dict[str, int]:
            n, cores, ram = s.execute(
                select(func.count(Instance.id), func.coalesce(func.sum(Instance.vcpus), 0),
                       func.coalesce(func.sum(Instance.memory_mb), 0))
                .where(Instance.project_id == project_id, Instance.deleted.is_(False))).one()
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

    def check_instances(self, s: Session, project_id: str, count: int, vcpus: int,
                        ram: int) -> None:
        """Raise OverQuota (403) when ``count`` more servers do not fit (inside a write)."""
        limits = self.limits(project_id, s)
        used = self.usage(project_id, session=s)
        requested = {"instances": count, "cores": vcpus * count, "ram": ram * count}
        overs = [r for r in ("instances", "cores", "ram")
                 if limits[r] >= 0 and used[r] + requested[r] > limits[r]]
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

    def check_metadata(self, project_id: str, metadata: dict[str, Any]) -> None:
        limit = self.limits(project_id)["metadata_items"]
        if limit >= 0 and len(metadata) > limit:
            raise errors.OverQuota("Quota exceeded for metadata_items: Requested "
                                   f"{len(metadata)}, but already used 0 of {limit} "
                                   "metadata_items")

    def update(self, project_id: str, values: dict[str, int]) -> None:
        with self.db.write() as s:
            for resource, limit in values.items():
                row = s.get(Quota, (project_id, resource))
                if row is None:
                    s.add(Quota(project_id=project_id, resource=resource, hard_limit=limit))
                else:
                    row.hard_limit = limit

    def reset(self, project_id: str) -> None:
        with self.db.write() as s:
            s.execute(delete(Quota).where(Quota.project_id == project_id))

    @staticmethod
    def shape(values: dict[str, Any], version_at_least: Any) -> dict[str, Any]:
        """Keep the resources the microversion shows (2.36 drops network ones, 2.57 files)."""
        out = dict(values)
        if not version_at_least("2.36"):
            for k, v in LEGACY.items():
                out.setdefault(k, v)
        out.pop("networks", None)  # Nova hides it with Neutron (enable_network_quota=False)
        if version_at_least("2.57"):
            for k in INJECTED:
                out.pop(k, None)
        return out
