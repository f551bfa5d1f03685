"""Roles, implied roles and role assignments (Keystone's assignment backend)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select

from pocketstack.api import errors
from pocketstack.db import Database, new_id
from pocketstack.identity.common import Invalidate, conflict, not_found, split_extra
from pocketstack.identity.models import (Assignment, Domain, Group, GroupMembership,
                                         ImpliedRole, Project, Role, User)

ROLE_FIELDS = {"name", "domain_id", "description", "options"}
SYSTEM = "system"


def role_dict(r: Role) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "domain_id": r.domain_id or None,
            "description": r.description, "options": r.options or {}}


class Roles:
    def __init__(self, db: Database, invalidate: Invalidate) -> None:
        self.db = db
        self.invalidate = invalidate

    # -- roles ----------------------------------------------------------------
    def create_role(self, body: dict[str, Any], role_id: str | None = None) -> dict[str, Any]:
        core, _extra = split_extra(body, ROLE_FIELDS)
        domain_id = core.get("domain_id") or ""
        with self.db.write() as s:
            if domain_id and s.get(Domain, domain_id) is None:
                raise errors.BadRequest(f"Could not find domain: {domain_id}.")
            if s.scalar(select(Role.id).where(Role.name == core["name"],
                                              Role.domain_id == domain_id)):
                raise conflict("role", "name", core["name"])
            r = Role(id=role_id or new_id(), name=core["name"], domain_id=domain_id,
                     description=core.get("description"), options=core.get("options") or {})
            s.add(r)
            s.flush()
            return role_dict(r)

    def get_role(self, role_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            r = s.get(Role, role_id)
            if r is None:
                raise not_found("role", role_id)
            return role_dict(r)

    def find_role(self, name: str, domain_id: str | None = None) -> dict[str, Any] | None:
        with self.db.read() as s:
            r = s.scalar(select(Role).where(Role.name == name, Role.domain_id == (domain_id or "")))
            return role_dict(r) if r else None

    def list_roles(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = select(Role).order_by(Role.name)
        if "name" in filters:
            q = q.where(Role.name == filters["name"])
        q = q.where(Role.domain_id == (filters.get("domain_id") or ""))
        with self.db.read() as s:
            return [role_dict(r) for r in s.scalars(q)]

    def update_role(self, role_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, _extra = split_extra(body, ROLE_FIELDS)
        with self.db.write() as s:
            r = s.get(Role, role_id)
            if r is None:
                raise not_found("role", role_id)
            unlocking = (core.get("options") or {}).get("immutable") is False
            if (r.options or {}).get("immutable") and not unlocking:
                raise errors.Forbidden(f"Role {role_id} is immutable.")
            if "domain_id" in core and (core["domain_id"] or "") != r.domain_id:
                raise errors.BadRequest("Update of `domain_id` is not allowed.")
            if "name" in core and core["name"] != r.name:
                if s.scalar(select(Role.id).where(Role.name == core["name"],
                                                  Role.domain_id == r.domain_id)):
                    raise conflict("role", "name", core["name"])
                r.name = core["name"]
            if "description" in core:
                r.description = core["description"]
            if "options" in core:
                r.options = {**(r.options or {}), **(core["options"] or {})}
            s.flush()
            return role_dict(r)

    def delete_role(self, role_id: str) -> None:
        with self.db.write() as s:
            r = s.get(Role, role_id)
            if r is None:
                raise not_found("role", role_id)
            if (r.options or {}).get("immutable"):
                raise errors.Forbidden(f"Role {role_id} is immutable.")
            s.execute(delete(Assignment).where(Assignment.role_id == role_id))
            s.execute(delete(ImpliedRole).where(or_(ImpliedRole.prior_role_id == role_id,
                                                    ImpliedRole.implied_role_id == role_id)))
            s.delete(r)
        self.invalidate()

    # -- implied roles --------------------------------------------------------
    def add_implied(self, prior_id: str, implied_id: str) -> None:
        with self.db.write() as s:
            for rid in (prior_id, implied_id):
                if s.get(Role, rid) is None:
                    raise not_found("role", rid)
            if prior_id == implied_id or prior_id in self._implied_closure(s, [implied_id]):
                raise errors.Forbidden(f"Implied role {implied_id} would create a loop.")
            if s.get(ImpliedRole, (prior_id, implied_id)) is None:
                s.add(ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
        self.invalidate()

    def remove_implied(self, prior_id: str, implied_id: str) -> None:
        with self.db.write() as s:
            row = s.get(ImpliedRole, (prior_id, implied_id))
            if row is None:
                raise errors.NotFound(f"{prior_id} does not imply {implied_id}.")
            s.delete(row)
        self.invalidate()

    def get_implied(self, prior_id: str, implied_id: str) -> None:
        with self.db.read() as s:
            if s.get(ImpliedRole, (prior_id, implied_id)) is None:
                raise errors.NotFound(f"{prior_id} does not imply {implied_id}.")

    def list_implied(self, prior_id: str | None = None) -> list[tuple[str, str]]:
        q = select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id)
        if prior_id:
            q = q.where(ImpliedRole.prior_role_id == prior_id)
        with self.db.read() as s:
            return [(a, b) for a, b in s.execute(q)]

    @staticmethod
    def _implied_closure(s: Any, role_ids: list[str]) -> list[str]:
        """Role ids plus every role they imply, transitively, in a stable order."""
        edges: dict[str, list[str]] = {}
        for prior, implied in s.execute(select(ImpliedRole.prior_role_id,
                                               ImpliedRole.implied_role_id)):
            edges.setdefault(prior, []).append(implied)
        seen: dict[str, None] = {}
        stack = list(role_ids)
        while stack:
            rid = stack.pop(0)
            if rid in seen:
                continue
            seen[rid] = None
            stack.extend(edges.get(rid, []))
        return list(seen)

    # -- assignments ----------------------------------------------------------
    @staticmethod
    def _type(actor: str, target: str) -> str:
        return {"user": "User", "group": "Group"}[actor] + \
            {"project": "Project", "domain": "Domain", "system": "System"}[target]

    def _check_parties(self, s: Any, actor: str, actor_id: str, target: str, target_id: str,
                       role_id: str) -> None:
        model = {"user": User, "group": Group}[actor]
        if s.get(model, actor_id) is None:
            raise not_found(actor, actor_id)
        if target == "project" and s.get(Project, target_id) is None:
            raise not_found("project", target_id)
        if target == "domain" and s.get(Domain, target_id) is None:
            raise not_found("domain", target_id)
        if s.get(Role, role_id) is None:
            raise not_found("role", role_id)

    def grant(self, actor: str, actor_id: str, target: str, target_id: str, role_id: str,
              inherited: bool = False) -> None:
        with self.db.write() as s:
            self._check_parties(s, actor, actor_id, target, target_id, role_id)
            key = (self._type(actor, target), actor_id, target_id, role_id, inherited)
            if s.get(Assignment, key) is None:
                s.add(Assignment(type=key[0], actor_id=actor_id, target_id=target_id,
                                 role_id=role_id, inherited=inherited))
        self.invalidate()

    def check_grant(self, actor: str, actor_id: str, target: str, target_id: str, role_id: str,
                    inherited: bool = False) -> None:
        with self.db.read() as s:
            self._check_parties(s, actor, actor_id, target, target_id, role_id)
            key = (self._type(actor, target), actor_id, target_id, role_id, inherited)
            if s.get(Assignment, key) is None:
                raise errors.NotFound(f"Could not find role assignment with role: {role_id}, "
                                      f"{actor}: {actor_id}, {target}: {target_id}.")

    def revoke(self, actor: str, actor_id: str, target: str, target_id: str, role_id: str,
               inherited: bool = False) -> None:
        with self.db.write() as s:
            key = (self._type(actor, target), actor_id, target_id, role_id, inherited)
            row = s.get(Assignment, key)
            if row is None:
                self._check_parties(s, actor, actor_id, target, target_id, role_id)
                raise errors.NotFound(f"Could not find role assignment with role: {role_id}, "
                                      f"{actor}: {actor_id}, {target}: {target_id}.")
            s.delete(row)
        # Tokens compute their roles when validated, so the role is gone at once.
        self.invalidate()

    def list_grants(self, actor: str, actor_id: str, target: str, target_id: str,
                    inherited: bool = False) -> list[dict[str, Any]]:
        with self.db.read() as s:
            self._check_parties_no_role(s, actor, actor_id, target, target_id)
            q = select(Role).join(Assignment, Assignment.role_id == Role.id).where(
                Assignment.type == self._type(actor, target), Assignment.actor_id == actor_id,
                Assignment.target_id == target_id, Assignment.inherited == inherited)
            return [role_dict(r) for r in s.scalars(q.order_by(Role.name))]

    def _check_parties_no_role(self, s: Any, actor: str, actor_id: str, target: str,
                               target_id: str) -> None:
        model = {"user": User, "group": Group}[actor]
        if s.get(model, actor_id) is None:
            raise not_found(actor, actor_id)
        if target == "project" and s.get(Project, target_id) is None:
            raise not_found("project", target_id)
        if target == "domain" and s.get(Domain, target_id) is None:
            raise not_found("domain", target_id)

    # -- effective roles (what a token grants) ---------------------------------
    def effective_role_ids(self, user_id: str, *, project_id: str | None = None,
                           domain_id: str | None = None, system: bool = False) -> list[str]:
        with self.db.read() as s:
            actors = [user_id, *s.scalars(select(GroupMembership.group_id)
                                          .where(GroupMembership.user_id == user_id))]
            conds = []
            if system:
                conds.append(and_(Assignment.target_id == SYSTEM,
                                  Assignment.type.in_(("UserSystem", "GroupSystem"))))
            elif domain_id:
                conds.append(and_(Assignment.target_id == domain_id,
                                  Assignment.type.in_(("UserDomain", "GroupDomain")),
                                  Assignment.inherited.is_(False)))
            elif project_id:
                p = s.get(Project, project_id)
                if p is None:
                    return []
                conds.append(and_(Assignment.target_id == project_id,
                                  Assignment.type.in_(("UserProject", "GroupProject")),
                                  Assignment.inherited.is_(False)))
                ancestors = []
                pid = p.parent_id
                while pid:
                    ancestors.append(pid)
                    pid = s.scalar(select(Project.parent_id).where(Project.id == pid))
                conds.append(and_(Assignment.target_id.in_(ancestors + [p.domain_id]),
                                  Assignment.inherited.is_(True)))
            else:
                return []
            direct = list(dict.fromkeys(s.scalars(
                select(Assignment.role_id).where(Assignment.actor_id.in_(actors), or_(*conds)))))
            domain_roles = set(s.scalars(select(Role.id).where(Role.domain_id != "")))
            # domain-specific roles never go into a token, the roles they imply do
            return [r for r in self._implied_closure(s, direct) if r not in domain_roles]

    def roles_by_id(self, role_ids: list[str]) -> list[dict[str, Any]]:
        if not role_ids:
            return []
        with self.db.read() as s:
            found = {r.id: role_dict(r) for r in s.scalars(select(Role).where(
                Role.id.in_(role_ids)))}
        return [found[r] for r in role_ids if r in found]

    def project_ids_for_user(self, user_id: str) -> set[str]:
        """Projects on which the user has any role (directly, by group or inherited)."""
        with self.db.read() as s:
            actors = [user_id, *s.scalars(select(GroupMembership.group_id)
                                          .where(GroupMembership.user_id == user_id))]
            rows = s.execute(select(Assignment.type, Assignment.target_id, Assignment.inherited)
                             .where(Assignment.actor_id.in_(actors))).all()
            ids = {t for typ, t, inh in rows if typ.endswith("Project") and not inh}
            inherit_from = {t for typ, t, inh in rows if inh}
            if inherit_from:
                children = s.execute(select(Project.id, Project.parent_id,
                                            Project.domain_id)).all()
                by_parent: dict[str, list[str]] = {}
                for pid, parent, dom in children:
                    by_parent.setdefault(parent or dom, []).append(pid)
                stack = list(inherit_from)
                while stack:
                    for child in by_parent.get(stack.pop(), []):
                        if child not in ids:
                            ids.add(child)
                        stack.append(child)
            return ids

    def domain_ids_for_user(self, user_id: str) -> set[str]:
        with self.db.read() as s:
            actors = [user_id, *s.scalars(select(GroupMembership.group_id)
                                          .where(GroupMembership.user_id == user_id))]
            return set(s.scalars(select(Assignment.target_id).where(
                Assignment.actor_id.in_(actors), Assignment.type.in_(("UserDomain",
                                                                        "GroupDomain")),
                Assignment.inherited.is_(False))))

    def has_system_role(self, user_id: str) -> bool:
        return bool(self.effective_role_ids(user_id, system=True))

    # -- GET /v3/role_assignments ---------------------------------------------
    def list_assignments(self, *, user_id: str | None = None, group_id: str | None = None,
                         role_id: str | None = None, project_id: str | None = None,
                         domain_id: str | None = None, system: bool = False,
                         inherited: bool | None = None, effective: bool = False
                         ) -> list[dict[str, Any]]:
        """Role assignments as Keystone lists them (raw dicts; the API adds links/names)."""
        with self.db.read() as s:
            rows = s.scalars(select(Assignment)).all()
            memberships = s.execute(select(GroupMembership.group_id,
                                           GroupMembership.user_id)).all()
            projects = s.execute(select(Project.id, Project.parent_id, Project.domain_id)).all()
            implied_edges = s.execute(select(ImpliedRole.prior_role_id,
                                             ImpliedRole.implied_role_id)).all()
            domain_roles = set(s.scalars(select(Role.id).where(Role.domain_id != "")))
        out: list[dict[str, Any]] = []
        for a in rows:
            actor_kind = "user" if a.type.startswith("User") else "group"
            target_kind = a.type[len("User" if actor_kind == "user" else "Group"):].lower()
            out.append({"actor": actor_kind, "actor_id": a.actor_id, "target": target_kind,
                        "target_id": a.target_id, "role_id": a.role_id,
                        "inherited": a.inherited})
        if effective:
            out = self._expand(out, memberships, projects, implied_edges)
            # as Keystone: domain-specific roles are never effective themselves (only
            # the global roles they imply are)
            out = [a for a in out if a["role_id"] not in domain_roles]
        result = []
        for a in out:
            if user_id and not (a["actor"] == "user" and a["actor_id"] == user_id):
                continue
            if group_id and not (a["actor"] == "group" and a["actor_id"] == group_id):
                continue
            if role_id and a["role_id"] != role_id:
                continue
            if project_id and not (a["target"] == "project" and a["target_id"] == project_id):
                continue
            if domain_id and not (a["target"] == "domain" and a["target_id"] == domain_id):
                continue
            if system and a["target"] != "system":
                continue
            if inherited is not None and a["inherited"] != inherited:
                continue
            result.append(a)
        return result

    @staticmethod
    def _expand(rows: list[dict[str, Any]], memberships: Any, projects: Any,
                implied_edges: Any) -> list[dict[str, Any]]:
        members: dict[str, list[str]] = {}
        for gid, uid in memberships:
            members.setdefault(gid, []).append(uid)
        children: dict[str, list[str]] = {}
        for pid, parent, dom in projects:
            children.setdefault(parent or dom, []).append(pid)
        implied: dict[str, list[str]] = {}
        for prior, imp in implied_edges:
            implied.setdefault(prior, []).append(imp)

        def subtree(root: str) -> list[str]:
            out, stack = [], list(children.get(root, []))
            while stack:
                pid = stack.pop()
                out.append(pid)
                stack.extend(children.get(pid, []))
            return out

        expanded: list[dict[str, Any]] = []
        seen: set[tuple[Any, ...]] = set()

        def emit(a: dict[str, Any]) -> None:
            key = (a["actor_id"], a["target"], a["target_id"], a["role_id"], a.get("via_group"),
                   a.get("prior_role_id"))
            if key not in seen:
                seen.add(key)
                expanded.append(a)

        for a in rows:
            # users, from groups
            users = [(a["actor_id"], None)] if a["actor"] == "user" else \
                [(u, a["actor_id"]) for u in members.get(a["actor_id"], [])]
            # targets, from inheritance
            targets = [(a["target"], a["target_id"])] if not a["inherited"] else \
                [("project", p) for p in subtree(a["target_id"])]
            for uid, via_group in users:
                for tkind, tid in targets:
                    stack = [(a["role_id"], None)]
                    visited = set()
                    while stack:
                        rid, prior = stack.pop()
                        if rid in visited:
                            continue
                        visited.add(rid)
                        emit({"actor": "user", "actor_id": uid, "target": tkind,
                              "target_id": tid, "role_id": rid, "inherited": a["inherited"],
                              "via_group": via_group, "source": a, "prior_role_id": prior})
                        stack.extend((imp, rid) for imp in implied.get(rid, []))
        return expanded
