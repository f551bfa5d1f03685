"""Application credentials: a secret bound to a user, a project and a subset of roles."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import Database, new_id, utcnow
from pocketstack.identity.common import conflict, not_found
from pocketstack.identity.models import (ApplicationCredential, ApplicationCredentialRole,
                                         Role)
from pocketstack.identity.passwords import Hasher
from pocketstack.identity.revocations import Revocations


def _iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


class ApplicationCredentials:
    def __init__(self, db: Database, hasher: Hasher, revocations: Revocations) -> None:
        self.db = db
        self.hasher = hasher
        self.revocations = revocations

    def _dict(self, s: Any, ac: ApplicationCredential) -> dict[str, Any]:
        roles = s.execute(select(Role.id, Role.name, Role.domain_id).join(
            ApplicationCredentialRole, ApplicationCredentialRole.role_id == Role.id).where(
            ApplicationCredentialRole.application_credential_id == ac.id)).all()
        return {"id": ac.id, "name": ac.name, "description": ac.description,
                "user_id": ac.user_id, "project_id": ac.project_id, "system": ac.system,
                "expires_at": _iso(ac.expires_at), "unrestricted": ac.unrestricted,
                "access_rules": ac.access_rules or [],
                "roles": [{"id": r[0], "name": r[1], "domain_id": r[2] or None} for r in roles]}

    def create(self, user_id: str, project_id: str | None, token_role_ids: list[str],
               body: dict[str, Any]) -> dict[str, Any]:
        """Create one; ``token_role_ids`` are the roles of the creating token (the ceiling)."""
        if project_id is None:
            raise errors.BadRequest("Application credentials must be created with a "
                                    "project-scoped token.")
        wanted = body.get("roles")
        expires_at = None
        if body.get("expires_at"):
            try:
                expires_at = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
            except ValueError:
                raise errors.BadRequest(f"Invalid expires_at {body['expires_at']!r}.") from None
            if expires_at.tzinfo:
                expires_at = expires_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
            if expires_at < utcnow():
                raise errors.BadRequest("The expires_at date is in the past.")
        secret = body.get("secret") or base64.urlsafe_b64encode(
            secrets.token_bytes(64)).decode().rstrip("=")
        hashed = self.hasher.hash(secret)
        with self.db.write() as s:
            role_ids: list[str] = []
            if wanted:
                for spec in wanted:
                    if spec.get("id"):
                        r = s.get(Role, spec["id"])
                    else:
                        r = s.scalar(select(Role).where(Role.name == spec.get("name"),
                                                        Role.domain_id == ""))
                    if r is None:
                        raise errors.NotFound(f"Could not find role: "
                                              f"{spec.get('id') or spec.get('name')}.")
                    if r.id not in token_role_ids:
                        raise errors.Forbidden(f"Role {r.name} is not held by the requesting "
                                               "token: an application credential cannot grant "
                                               "more than its creator has.")
                    role_ids.append(r.id)
            else:
                role_ids = list(token_role_ids)
            if s.scalar(select(ApplicationCredential.id).where(
                    ApplicationCredential.user_id == user_id,
                    ApplicationCredential.name == body["name"])):
                raise conflict("application_credential", "name", body["name"])
            ac = ApplicationCredential(id=new_id(), name=body["name"], secret_hash=hashed,
                                       description=body.get("description"), user_id=user_id,
                                       project_id=project_id, expires_at=expires_at,
                                       unrestricted=bool(body.get("unrestricted", False)),
                                       access_rules=body.get("access_rules"))
            s.add(ac)
            s.flush()
            for rid in dict.fromkeys(role_ids):
                s.add(ApplicationCredentialRole(application_credential_id=ac.id, role_id=rid))
            s.flush()
            result = self._dict(s, ac)
        result["secret"] = secret  # shown once, never stored in clear
        return result

    def get(self, user_id: str, app_cred_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            ac = s.get(ApplicationCredential, app_cred_id)
            if ac is None or ac.user_id != user_id:
                raise not_found("application credential", app_cred_id)
            return self._dict(s, ac)

    def list(self, user_id: str, name: str | None = None) -> list[dict[str, Any]]:
        q = select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
        if name:
            q = q.where(ApplicationCredential.name == name)
        with self.db.read() as s:
            return [self._dict(s, ac) for ac in s.scalars(q.order_by(ApplicationCredential.name))]

    def delete(self, user_id: str, app_cred_id: str) -> None:
        with self.db.write() as s:
            ac = s.get(ApplicationCredential, app_cred_id)
            if ac is None or ac.user_id != user_id:
                raise not_found("application credential", app_cred_id)
            s.delete(ac)
        self.revocations.revoke(application_credential_id=app_cred_id)

    def authenticate(self, *, id: str | None, name: str | None, user_id: str | None,
                     secret: str) -> dict[str, Any]:
        fail = errors.Unauthorized("The request you have made requires authentication.")
        with self.db.read() as s:
            if id:
                ac = s.get(ApplicationCredential, id)
            else:
                ac = s.scalar(select(ApplicationCredential).where(
                    ApplicationCredential.user_id == user_id,
                    ApplicationCredential.name == name))
            if ac is None:
                raise fail
            data = self._dict(s, ac)
            hashed = ac.secret_hash
            expires = ac.expires_at
        if expires and expires < utcnow():
            raise errors.Unauthorized("The application credential has expired.")
        if not self.hasher.verify(secret, hashed):
            raise fail
        return data
