"""Users, groups and group membership (Keystone's identity backend)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select

from pocketstack.api import errors
from pocketstack.db import Database, new_id, utcnow
from pocketstack.identity.common import Invalidate, conflict, not_found, split_extra
from pocketstack.identity.models import (ApplicationCredential, Assignment, Domain, Group,
                                         GroupMembership, User)
from pocketstack.identity.passwords import Hasher
from pocketstack.identity.revocations import Revocations

USER_FIELDS = {"name", "domain_id", "enabled", "default_project_id", "password", "description",
               "email", "options", "federated"}
GROUP_FIELDS = {"name", "domain_id", "description"}


def _iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def user_dict(u: User) -> dict[str, Any]:
    out = {**(u.extra or {}), "id": u.id, "name": u.name, "domain_id": u.domain_id,
           "enabled": u.enabled, "password_expires_at": _iso(u.password_expires_at),
           "options": u.options or {}}
    if u.default_project_id:
        out["default_project_id"] = u.default_project_id
    if u.description is not None:
        out["description"] = u.description
    if u.email is not None:
        out["email"] = u.email
    return out


def group_dict(g: Group) -> dict[str, Any]:
    return {**(g.extra or {}), "id": g.id, "name": g.name, "domain_id": g.domain_id,
            "description": g.description or ""}


class Users:
    def __init__(self, db: Database, hasher: Hasher, revocations: Revocations,
                 invalidate: Invalidate, lockout_attempts: int = 0,
                 lockout_duration: int = 1800) -> None:
        self.db = db
        self.hasher = hasher
        self.revocations = revocations
        self.invalidate = invalidate
        self.lockout_attempts = lockout_attempts
        self.lockout_duration = lockout_duration

    # -- users ----------------------------------------------------------------
    def create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, USER_FIELDS)
        domain_id = core.get("domain_id") or "default"
        password = core.get("password")
        # hash outside the write transaction: it is slow on purpose
        hashed = self.hasher.hash(password) if password else None
        with self.db.write() as s:
            if s.get(Domain, domain_id) is None:
                raise errors.NotFound(f"Could not find domain: {domain_id}.")
            if s.scalar(select(User.id).where(User.domain_id == domain_id,
                                              User.name == core["name"])):
                raise conflict("user", "name", core["name"])
            u = User(id=new_id(), name=core["name"], domain_id=domain_id,
                     enabled=core.get("enabled", True),
                     default_project_id=core.get("default_project_id"),
                     description=core.get("description"), email=core.get("email"),
                     password_hash=hashed, password_created_at=utcnow() if hashed else None,
                     options=core.get("options") or {}, extra=extra)
            s.add(u)
            s.flush()
            return user_dict(u)

    def get_user(self, user_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            u = s.get(User, user_id)
            if u is None:
                raise not_found("user", user_id)
            return user_dict(u)

    def find_user(self, *, id: str | None = None, name: str | None = None,
                  domain_id: str | None = None) -> dict[str, Any] | None:
        with self.db.read() as s:
            if id:
                u = s.get(User, id)
            else:
                u = s.scalar(select(User).where(User.name == name, User.domain_id == domain_id))
            return user_dict(u) if u else None

    def list_users(self, filters: dict[str, Any], ids: set[str] | None = None
                   ) -> list[dict[str, Any]]:
        q = select(User).order_by(User.name)
        for field in ("name", "domain_id", "enabled"):
            if field in filters:
                q = q.where(getattr(User, field) == filters[field])
        if ids is not None:
            q = q.where(User.id.in_(ids))
        with self.db.read() as s:
            return [user_dict(u) for u in s.scalars(q)]

    def update_user(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, USER_FIELDS)
        hashed = self.hasher.hash(core["password"]) if core.get("password") else None
        revoke = False
        with self.db.write() as s:
            u = s.get(User, user_id)
            if u is None:
                raise not_found("user", user_id)
            if "domain_id" in core and core["domain_id"] != u.domain_id:
                raise errors.BadRequest("Update of `domain_id` is not allowed.")
            if "name" in core and core["name"] != u.name:
                if s.scalar(select(User.id).where(User.domain_id == u.domain_id,
                                                  User.name == core["name"])):
                    raise conflict("user", "name", core["name"])
                u.name = core["name"]
            for field in ("default_project_id", "description", "email"):
                if field in core:
                    setattr(u, field, core[field])
            if "enabled" in core:
                revoke = u.enabled and not core["enabled"]
                u.enabled = core["enabled"]
                if core["enabled"]:
                    u.failed_auth_count, u.failed_auth_at = 0, None
            if "options" in core:
                u.options = {**(u.options or {}), **(core["options"] or {})}
            if hashed:
                u.password_hash, u.password_created_at = hashed, utcnow()
                revoke = True
            if extra:
                u.extra = {**(u.extra or {}), **extra}
            s.flush()
            result = user_dict(u)
        if revoke:
            self.revocations.revoke(user_id=user_id)
        self.invalidate()
        return result

    def delete_user(self, user_id: str) -> None:
        with self.db.write() as s:
            u = s.get(User, user_id)
            if u is None:
                raise not_found("user", user_id)
            s.execute(delete(Assignment).where(Assignment.actor_id == user_id))
            s.execute(delete(GroupMembership).where(GroupMembership.user_id == user_id))
            s.execute(delete(ApplicationCredential).where(
                ApplicationCredential.user_id == user_id))
            s.delete(u)
        self.revocations.revoke(user_id=user_id)
        self.invalidate()

    # -- passwords ------------------------------------------------------------
    def check_password(self, user_id: str, password: str) -> dict[str, Any]:
        """Authenticate; raises Unauthorized. Applies the lockout policy."""
        fail = errors.Unauthorized("The request you have made requires authentication.")
        with self.db.read() as s:
            u = s.get(User, user_id)
            if u is None:
                raise fail
            hashed, count, at = u.password_hash, u.failed_auth_count, u.failed_auth_at
        if self.lockout_attempts and count >= self.lockout_attempts and at and \
                (utcnow() - at).total_seconds() < self.lockout_duration:
            raise errors.Unauthorized("The account is locked for user: %s." % user_id)
        if not self.hasher.verify(password, hashed):
            if self.lockout_attempts:
                with self.db.write() as s:
                    u = s.get(User, user_id)
                    if u is not None:
                        expired = u.failed_auth_at and (utcnow() - u.failed_auth_at
                                                        ).total_seconds() >= self.lockout_duration
                        u.failed_auth_count = 1 if expired else (u.failed_auth_count or 0) + 1
                        u.failed_auth_at = utcnow()
            raise fail
        if count:
            with self.db.write() as s:
                u = s.get(User, user_id)
                if u is not None:
                    u.failed_auth_count, u.failed_auth_at = 0, None
        return self.get_user(user_id)

    def change_password(self, user_id: str, original: str, new: str) -> None:
        try:
            self.check_password(user_id, original)
        except errors.Unauthorized:
            raise errors.Unauthorized("The request you have made requires authentication.") \
                from None
        self.update_user(user_id, {"password": new})

    # -- groups ---------------------------------------------------------------
    def create_group(self, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, GROUP_FIELDS)
        domain_id = core.get("domain_id") or "default"
        with self.db.write() as s:
            if s.get(Domain, domain_id) is None:
                raise errors.BadRequest(f"Could not find domain: {domain_id}.")
            if s.scalar(select(Group.id).where(Group.domain_id == domain_id,
                                               Group.name == core["name"])):
                raise conflict("group", "name", core["name"])
            g = Group(id=new_id(), name=core["name"], domain_id=domain_id,
                      description=core.get("description") or "", extra=extra)
            s.add(g)
            s.flush()
            return group_dict(g)

    def get_group(self, group_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            g = s.get(Group, group_id)
            if g is None:
                raise not_found("group", group_id)
            return group_dict(g)

    def list_groups(self, filters: dict[str, Any], user_id: str | None = None
                    ) -> list[dict[str, Any]]:
        q = select(Group).order_by(Group.name)
        for field in ("name", "domain_id"):
            if field in filters:
                q = q.where(getattr(Group, field) == filters[field])
        if user_id is not None:
            q = q.join(GroupMembership, GroupMembership.group_id == Group.id).where(
                GroupMembership.user_id == user_id)
        with self.db.read() as s:
            return [group_dict(g) for g in s.scalars(q)]

    def update_group(self, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, GROUP_FIELDS)
        with self.db.write() as s:
            g = s.get(Group, group_id)
            if g is None:
                raise not_found("group", group_id)
            if "domain_id" in core and core["domain_id"] != g.domain_id:
                raise errors.BadRequest("Update of `domain_id` is not allowed.")
            if "name" in core and core["name"] != g.name:
                if s.scalar(select(Group.id).where(Group.domain_id == g.domain_id,
                                                   Group.name == core["name"])):
                    raise conflict("group", "name", core["name"])
                g.name = core["name"]
            if "description" in core:
                g.description = core["description"]
            if extra:
                g.extra = {**(g.extra or {}), **extra}
            s.flush()
            return group_dict(g)

    def delete_group(self, group_id: str) -> None:
        with self.db.write() as s:
            g = s.get(Group, group_id)
            if g is None:
                raise not_found("group", group_id)
            s.execute(delete(Assignment).where(Assignment.actor_id == group_id))
            s.execute(delete(GroupMembership).where(GroupMembership.group_id == group_id))
            s.delete(g)
        self.invalidate()

    def add_member(self, group_id: str, user_id: str) -> None:
        with self.db.write() as s:
            if s.get(Group, group_id) is None:
                raise not_found("group", group_id)
            if s.get(User, user_id) is None:
                raise not_found("user", user_id)
            if s.get(GroupMembership, (user_id, group_id)) is None:
                s.add(GroupMembership(user_id=user_id, group_id=group_id))
        self.invalidate()

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self.db.write() as s:
            m = s.get(GroupMembership, (user_id, group_id))
            if m is None:
                raise errors.NotFound(f"User {user_id} is not a member of group {group_id}.")
            s.delete(m)
        self.invalidate()

    def is_member(self, group_id: str, user_id: str) -> bool:
        with self.db.read() as s:
            if s.get(Group, group_id) is None:
                raise not_found("group", group_id)
            if s.get(User, user_id) is None:
                raise not_found("user", user_id)
            return s.get(GroupMembership, (user_id, group_id)) is not None

    def group_ids_of(self, user_id: str) -> list[str]:
        with self.db.read() as s:
            return list(s.scalars(select(GroupMembership.group_id)
                                  .where(GroupMembership.user_id == user_id)))

    def members(self, group_id: str) -> list[str]:
        with self.db.read() as s:
            if s.get(Group, group_id) is None:
                raise not_found("group", group_id)
            return list(s.scalars(select(GroupMembership.user_id)
                                  .where(GroupMembership.group_id == group_id)))
