"""``manage quota usage-refresh`` and ``manage quota check``.

pocketstack's quotas are *counted*: every service computes a project's usage from
its resource rows inside the transaction that adds resources (as Nova does since
Pike with counted quotas), so there is no usage cache that could drift. These
commands prove it: they recount every resource row by row, independently of the
services' own counting queries, and compare with what the quota code reports
(the figures the APIs show and enforce).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import select

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


@dataclass
class Usage:
    service: str
    project_id: str
    resource: str
    reported: int  # by the service's quota code
    counted: int  # row by row

    @property
    def clean(self) -> bool:
        return self.reported == self.counted


def _compute(cloud: "Cloud", s: Any) -> Iterable[Usage]:
    from pocketstack.compute.models import Instance, ServerGroup
    from pocketstack.compute.quotas import Quotas

    quotas = Quotas(cloud.db, cloud.conf)
    counted: dict[str, dict[str, int]] = {}
    for inst in s.scalars(select(Instance).where(Instance.deleted.is_(False))):
        c = counted.setdefault(inst.project_id, {})
        c["instances"] = c.get("instances", 0) + 1
        c["cores"] = c.get("cores", 0) + inst.vcpus
        c["ram"] = c.get("ram", 0) + inst.memory_mb
    for group in s.scalars(select(ServerGroup)):
        c = counted.setdefault(group.project_id, {})
        c["server_groups"] = c.get("server_groups", 0) + 1
    for project, c in counted.items():
        reported = quotas.usage(project, session=s)
        for res in ("instances", "cores", "ram", "server_groups"):
            yield Usage("compute", project, res, int(reported[res]), c.get(res, 0))


def _volume(cloud: "Cloud", s: Any) -> Iterable[Usage]:
    from pocketstack.volume.models import Backup, Snapshot, Volume
    from pocketstack.volume.quotas import Quotas

    quotas = Quotas(cloud)
    counted: dict[str, dict[str, int]] = {}

    def add(project: str, res: str, n: int) -> None:
        c = counted.setdefault(project, {})
        c[res] = c.get(res, 0) + n

    for v in s.scalars(select(Volume)):
        add(v.project_id, "volumes", 1)
        add(v.project_id, "gigabytes", v.size)
    for x in s.scalars(select(Snapshot)):
        add(x.project_id, "snapshots", 1)
        add(x.project_id, "gigabytes", x.size)
    for b in s.scalars(select(Backup)):
        add(b.project_id, "backups", 1)
        add(b.project_id, "backup_gigabytes", b.size)
    for project, c in counted.items():
        reported = quotas.usage(s, project)
        for res in ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes"):
            yield Usage("volume", project, res, int(reported[res]), c.get(res, 0))


def _network(cloud: "Cloud", s: Any) -> Iterable[Usage]:
    from pocketstack.network.quotas import MODELS, Quotas

    quotas = Quotas(cloud.conf, cloud.db)
    for res, model in MODELS.items():
        counted: dict[str, int] = {}
        for project in s.scalars(select(model.project_id)):
            counted[project] = counted.get(project, 0) + 1
        for project, n in counted.items():
            if project:  # shared/system rows (empty project) are not charged to anyone
                yield Usage("network", project, res, int(quotas.used(s, project, res)), n)


def recount(cloud: "Cloud", project: str | None = None, resource: str | None = None
            ) -> list[Usage]:
    out: list[Usage] = []
    with cloud.db.read() as s:
        for fn in (_compute, _volume, _network):
            for u in fn(cloud, s):
                if (project is None or u.project_id == project) and \
                        (resource is None or u.resource == resource):
                    out.append(u)
    return sorted(out, key=lambda u: (u.service, u.project_id, u.resource))
