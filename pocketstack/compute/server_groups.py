"""Server groups: (anti-)affinity policies the scheduler honours."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.compute.models import Instance, ServerGroup
from pocketstack.db import Database, new_uuid

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


class ServerGroups:
    def __init__(self, db: Database, quotas: Any) -> None:
        self.db = db
        self.quotas = quotas

    def create(self, project_id: str, user_id: str, name: str, policy: str,
               rules: dict[str, Any]) -> ServerGroup:
        if rules and policy != "anti-affinity":
            raise errors.BadRequest("Only anti-affinity policy supports rules.")
        with self.db.write() as s:
            limit = self.quotas.limits(project_id, s)["server_groups"]
            used = s.scalar(select(func.count(ServerGroup.id))
                            .where(ServerGroup.project_id == project_id)) or 0
            if limit >= 0 and used + 1 > limit:
                raise errors.OverQuota("Quota exceeded, too many server groups.")
            g = ServerGroup(uuid=new_uuid(), name=name, project_id=project_id, user_id=user_id,
                            policy=policy, rules=rules or {}, members=[])
            s.add(g)
            return g

    def list(self, project_id: str | None, limit: int | None = None, offset: int = 0
             ) -> list[ServerGroup]:
        with self.db.read() as s:
            q = select(ServerGroup).order_by(ServerGroup.id)
            if project_id is not None:
                q = q.where(ServerGroup.project_id == project_id)
            q = q.offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return self._live(s, list(s.scalars(q)))

    @staticmethod
    def _live(s: Session, groups: list[ServerGroup]) -> list[ServerGroup]:
        """Members exclude deleted servers (the list is kept as uuids)."""
        wanted = {m for g in groups for m in g.members}
        if wanted:
            alive = set(s.scalars(select(Instance.uuid).where(Instance.uuid.in_(wanted),
                                                              Instance.deleted.is_(False))))
            for g in groups:
                g.members = [m for m in g.members if m in alive]
        return groups

    def get(self, group_id: str, project_id: str | None) -> ServerGroup:
        with self.db.read() as s:
            g = s.scalar(select(ServerGroup).where(ServerGroup.uuid == group_id))
            if g is not None:
                self._live(s, [g])
        if g is None or (project_id is not None and g.project_id != project_id):
            raise errors.NotFound(f"Instance group {group_id} could not be found.")
        return g

    def delete(self, group_id: str, project_id: str | None) -> None:
        self.get(group_id, project_id)
        with self.db.write() as s:
            g = s.scalar(select(ServerGroup).where(ServerGroup.uuid == group_id))
            if g is not None:
                s.delete(g)

    def add_members(self, s: Session, group_id: str, project_id: str,
                    uuids: list[str]) -> dict[str, Any]:
        """Inside the server create transaction: check the member quota, add the members."""
        g = s.scalar(select(ServerGroup).where(ServerGroup.uuid == group_id))
        if g is None or g.project_id != project_id:
            raise errors.BadRequest(f"Invalid server group: {group_id} could not be found.")
        self._live(s, [g])
        limit = self.quotas.limits(project_id, s)["server_group_members"]
        if limit >= 0 and len(g.members) + len(uuids) > limit:
            raise errors.OverQuota("Quota exceeded, too many servers in group")
        g.members = [*g.members, *uuids]
        return {"uuid": g.uuid, "policy": g.policy, "rules": dict(g.rules or {}),
                "members": list(g.members)}

    def for_instance(self, uuid: str) -> list[str]:
        with self.db.read() as s:
            groups = list(s.scalars(select(ServerGroup)))
        return [g.uuid for g in groups if uuid in (g.members or [])]

    @staticmethod
    def view(g: ServerGroup, req: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"id": g.uuid, "name": g.name, "members": list(g.members)}
        if req.at_least("2.64"):
            out["policy"] = g.policy
            out["rules"] = dict(g.rules or {})
        else:
            out["policies"] = [g.policy]
            out["metadata"] = {}
        if req.at_least("2.13"):
            out["project_id"] = g.project_id
            out["user_id"] = g.user_id
        return out
