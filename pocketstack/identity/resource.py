"""Domains and projects (Keystone's resource backend)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from pocketstack.api import errors
from pocketstack.db import Database, new_id
from pocketstack.identity.common import Invalidate, conflict, not_found, split_extra
from pocketstack.identity.models import (Assignment, Domain, Group, Project, ProjectTag, Role,
                                         User)

DOMAIN_FIELDS = {"name", "description", "enabled", "tags", "options"}
PROJECT_FIELDS = {"name", "description", "enabled", "domain_id", "parent_id", "is_domain",
                  "tags", "options"}


def domain_dict(d: Domain) -> dict[str, Any]:
    return {**(d.extra or {}), "id": d.id, "name": d.name, "description": d.description or "",
            "enabled": d.enabled, "tags": [], "options": {}}


class Resources:
    def __init__(self, db: Database, invalidate: Invalidate) -> None:
        self.db = db
        self.invalidate = invalidate

    # -- domains --------------------------------------------------------------
    def create_domain(self, body: dict[str, Any], domain_id: str | None = None) -> dict[str, Any]:
        core, extra = split_extra(body, DOMAIN_FIELDS)
        with self.db.write() as s:
            if s.scalar(select(Domain.id).where(Domain.name == core["name"])):
                raise conflict("domain", "name", core["name"])
            d = Domain(id=domain_id or new_id(), name=core["name"],
                       description=core.get("description") or "",
                       enabled=core.get("enabled", True), extra=extra)
            s.add(d)
            s.flush()
            return domain_dict(d)

    def get_domain(self, domain_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            d = s.get(Domain, domain_id)
            if d is None:
                raise not_found("domain", domain_id)
            return domain_dict(d)

    def find_domain(self, *, id: str | None = None, name: str | None = None) -> dict[str, Any]:
        with self.db.read() as s:
            d = s.get(Domain, id) if id else s.scalar(select(Domain).where(Domain.name == name))
            if d is None:
                raise not_found("domain", id or name or "")
            return domain_dict(d)

    def list_domains(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = select(Domain).order_by(Domain.name)
        if "name" in filters:
            q = q.where(Domain.name == filters["name"])
        if "enabled" in filters:
            q = q.where(Domain.enabled == filters["enabled"])
        with self.db.read() as s:
            return [domain_dict(d) for d in s.scalars(q)]

    def update_domain(self, domain_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, DOMAIN_FIELDS)
        with self.db.write() as s:
            d = s.get(Domain, domain_id)
            if d is None:
                raise not_found("domain", domain_id)
            if "name" in core and core["name"] != d.name:
                if s.scalar(select(Domain.id).where(Domain.name == core["name"])):
                    raise conflict("domain", "name", core["name"])
                d.name = core["name"]
            if "description" in core:
                d.description = core["description"]
            if "enabled" in core:
                d.enabled = core["enabled"]
            if extra:
                d.extra = {**(d.extra or {}), **extra}
            s.flush()
            result = domain_dict(d)
        self.invalidate()
        return result

    def delete_domain(self, domain_id: str) -> None:
        with self.db.write() as s:
            d = s.get(Domain, domain_id)
            if d is None:
                raise not_found("domain", domain_id)
            if d.enabled:
                raise errors.Forbidden("Cannot delete a domain that is enabled, please disable "
                                       "it first.")
            project_ids = list(s.scalars(select(Project.id).where(Project.domain_id == domain_id)))
            user_ids = list(s.scalars(select(User.id).where(User.domain_id == domain_id)))
            group_ids = list(s.scalars(select(Group.id).where(Group.domain_id == domain_id)))
            targets = project_ids + [domain_id]
            actors = user_ids + group_ids
            s.execute(delete(Assignment).where(Assignment.target_id.in_(targets)))
            if actors:
                s.execute(delete(Assignment).where(Assignment.actor_id.in_(actors)))
            # children before parents
            for pid in self._bottom_up(s, project_ids):
                s.execute(delete(Project).where(Project.id == pid))
            s.execute(delete(User).where(User.domain_id == domain_id))
            s.execute(delete(Group).where(Group.domain_id == domain_id))
            s.execute(delete(Role).where(Role.domain_id == domain_id))
            s.delete(d)
        self.invalidate()

    @staticmethod
    def _bottom_up(s: Any, project_ids: list[str]) -> list[str]:
        parents = dict(s.execute(select(Project.id, Project.parent_id)
                                 .where(Project.id.in_(project_ids))).all()) if project_ids else {}

        def depth(pid: str) -> int:
            n = 0
            while parents.get(pid):
                pid = parents[pid]
                n += 1
            return n

        return sorted(project_ids, key=depth, reverse=True)

    # -- projects -------------------------------------------------------------
    def _project_dict(self, s: Any, p: Project) -> dict[str, Any]:
        tags = list(s.scalars(select(ProjectTag.name).where(ProjectTag.project_id == p.id)
                              .order_by(ProjectTag.name)))
        return {**(p.extra or {}), "id": p.id, "name": p.name, "domain_id": p.domain_id,
                "parent_id": p.parent_id or p.domain_id, "description": p.description or "",
                "enabled": p.enabled, "is_domain": False, "tags": tags, "options": {}}

    def create_project(self, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, PROJECT_FIELDS)
        if core.get("is_domain"):
            raise errors.NotImplementedYet("Projects acting as domains are not supported: "
                                           "create a domain instead.")
        with self.db.write() as s:
            parent_id = core.get("parent_id")
            domain_id = core.get("domain_id")
            if parent_id and s.get(Domain, parent_id) is not None:
                domain_id, parent_id = domain_id or parent_id, None
            if parent_id:
                parent = s.get(Project, parent_id)
                if parent is None:
                    raise errors.BadRequest(f"Could not find project: {parent_id}.")
                if domain_id and domain_id != parent.domain_id:
                    raise errors.BadRequest("Cannot create project, the parent (%s) is in a "
                                            "different domain." % parent_id)
                domain_id = parent.domain_id
            domain_id = domain_id or "default"
            if s.get(Domain, domain_id) is None:
                raise errors.BadRequest(f"Could not find domain: {domain_id}.")
            if s.scalar(select(Project.id).where(Project.domain_id == domain_id,
                                                 Project.name == core["name"])):
                raise conflict("project", "name", core["name"])
            p = Project(id=new_id(), name=core["name"], domain_id=domain_id, parent_id=parent_id,
                        description=core.get("description") or "",
                        enabled=core.get("enabled", True), extra=extra)
            s.add(p)
            s.flush()
            for tag in dict.fromkeys(core.get("tags") or []):
                s.add(ProjectTag(project_id=p.id, name=tag))
            s.flush()
            return self._project_dict(s, p)

    def get_project(self, project_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            p = s.get(Project, project_id)
            if p is None:
                raise not_found("project", project_id)
            return self._project_dict(s, p)

    def find_project(self, name: str, domain_id: str) -> dict[str, Any] | None:
        with self.db.read() as s:
            p = s.scalar(select(Project).where(Project.name == name,
                                               Project.domain_id == domain_id))
            return self._project_dict(s, p) if p else None

    def list_projects(self, filters: dict[str, Any], ids: set[str] | None = None
                      ) -> list[dict[str, Any]]:
        q = select(Project).order_by(Project.name)
        for field in ("name", "domain_id", "enabled"):
            if field in filters:
                q = q.where(getattr(Project, field) == filters[field])
        if "parent_id" in filters:
            parent = filters["parent_id"]
            with self.db.read() as s:
                is_domain = s.get(Domain, parent) is not None
            q = q.where(Project.parent_id.is_(None), Project.domain_id == parent) if is_domain \
                else q.where(Project.parent_id == parent)
        if ids is not None:
            q = q.where(Project.id.in_(ids))
        with self.db.read() as s:
            projects = [self._project_dict(s, p) for p in s.scalars(q)]
        for key, want_all in (("tags", True), ("tags-any", False)):
            if key in filters:
                wanted = set(filters[key].split(","))
                projects = [p for p in projects if (wanted <= set(p["tags"]) if want_all
                                                    else wanted & set(p["tags"]))]
        for key, want_all in (("not-tags", True), ("not-tags-any", False)):
            if key in filters:
                wanted = set(filters[key].split(","))
                projects = [p for p in projects if not (wanted <= set(p["tags"]) if want_all
                                                        else wanted & set(p["tags"]))]
        return projects

    def update_project(self, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, PROJECT_FIELDS)
        with self.db.write() as s:
            p = s.get(Project, project_id)
            if p is None:
                raise not_found("project", project_id)
            if "domain_id" in core and core["domain_id"] != p.domain_id:
                raise errors.BadRequest("Update of `domain_id` is not allowed.")
            if "parent_id" in core and core["parent_id"] not in (p.parent_id, p.domain_id):
                raise errors.BadRequest("Update of `parent_id` is not allowed.")
            if core.get("is_domain"):
                raise errors.BadRequest("Update of `is_domain` is not allowed.")
            if "name" in core and core["name"] != p.name:
                if s.scalar(select(Project.id).where(Project.domain_id == p.domain_id,
                                                     Project.name == core["name"])):
                    raise conflict("project", "name", core["name"])
                p.name = core["name"]
            if "description" in core:
                p.description = core["description"]
            if "enabled" in core:
                p.enabled = core["enabled"]
            if "tags" in core:
                s.execute(delete(ProjectTag).where(ProjectTag.project_id == p.id))
                for tag in dict.fromkeys(core["tags"] or []):
                    s.add(ProjectTag(project_id=p.id, name=tag))
            if extra:
                p.extra = {**(p.extra or {}), **extra}
            s.flush()
            result = self._project_dict(s, p)
        self.invalidate()
        return result

    def delete_project(self, project_id: str) -> None:
        with self.db.write() as s:
            p = s.get(Project, project_id)
            if p is None:
                raise not_found("project", project_id)
            if s.scalar(select(Project.id).where(Project.parent_id == project_id)):
                raise errors.Forbidden("Cannot delete the project %s since it is not a leaf in "
                                       "the hierarchy. Use the cascade option if you want to "
                                       "delete a whole subtree." % project_id)
            s.execute(delete(Assignment).where(Assignment.target_id == project_id))
            s.execute(delete(ProjectTag).where(ProjectTag.project_id == project_id))
            s.delete(p)
        self.invalidate()

    # -- project tags ---------------------------------------------------------
    def set_tags(self, project_id: str, tags: list[str]) -> list[str]:
        self.update_project(project_id, {"tags": tags})
        return self.get_project(project_id)["tags"]

    def add_tag(self, project_id: str, tag: str) -> None:
        tags = self.get_project(project_id)["tags"]
        if tag not in tags:
            if len(tags) >= 80:
                raise errors.BadRequest("The number of tags on a project is limited to 80.")
            self.update_project(project_id, {"tags": tags + [tag]})

    def remove_tag(self, project_id: str, tag: str) -> None:
        tags = self.get_project(project_id)["tags"]
        if tag not in tags:
            raise not_found("tag", tag)
        self.update_project(project_id, {"tags": [t for t in tags if t != tag]})

    def parents(self, project_id: str) -> list[str]:
        """Ancestors of a project, nearest first (for inherited role assignments)."""
        out = []
        with self.db.read() as s:
            pid = s.scalar(select(Project.parent_id).where(Project.id == project_id))
            while pid:
                out.append(pid)
                pid = s.scalar(select(Project.parent_id).where(Project.id == pid))
        return out
