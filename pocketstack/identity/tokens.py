"""Tokens: authentication methods, Fernet-encrypted payloads, validation and revocation.

A token is a Fernet message (AES-CBC + HMAC-SHA256 from ``cryptography``) over a
msgpack payload: who, how, for which scope, when it expires and its audit ids.
Nothing is stored per token; roles, names and the catalog are computed when a
token is validated, so a role removed or a user disabled takes effect at once,
and revocation events cover the rest (a deleted token, a changed password).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import msgpack
from cryptography.fernet import InvalidToken

from pocketstack.api import errors
from pocketstack.db import utcnow
from pocketstack.identity.fernet import KeyRepository

if TYPE_CHECKING:
    from pocketstack.api.context import RequestContext
    from pocketstack.identity.manager import Identity

PAYLOAD_VERSION = 1
UNSCOPED, PROJECT, DOMAIN, SYSTEM = 0, 1, 2, 3
_EPOCH = dt.datetime(1970, 1, 1)
LOG = logging.getLogger(__name__)


def _to_us(value: dt.datetime) -> int:
    return int((value - _EPOCH).total_seconds() * 1_000_000)


def _from_us(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def unauthorized(message: str = "The request you have made requires authentication."
                 ) -> errors.Unauthorized:
    return errors.Unauthorized(message)


@dataclass
class TokenInfo:
    """A validated token: what the pipeline puts in a request context, and the API renders."""

    user: dict[str, Any]
    user_domain: dict[str, Any]
    methods: list[str]
    scope_type: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    audit_ids: list[str]
    project: dict[str, Any] | None = None
    project_domain: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    roles: list[dict[str, Any]] = field(default_factory=list)
    application_credential: dict[str, Any] | None = None

    @property
    def role_names(self) -> list[str]:
        return [r["name"] for r in self.roles]

    def fill(self, ctx: "RequestContext", token: str) -> None:
        ctx.user_id = self.user["id"]
        ctx.user_name = self.user["name"]
        ctx.user_domain_id = self.user_domain["id"]
        ctx.roles = self.role_names
        ctx.auth_token = token
        ctx.token = None
        if self.project:
            ctx.project_id = self.project["id"]
            ctx.project_name = self.project["name"]
            ctx.project_domain_id = self.project["domain_id"]
        if self.domain:
            ctx.domain_id = self.domain["id"]
            ctx.domain_name = self.domain["name"]
        if self.scope_type == SYSTEM:
            ctx.system_scope = "all"
        if self.application_credential:
            ctx.application_credential_id = self.application_credential["id"]

    def as_revocation_fields(self) -> dict[str, Any]:
        return {"user_id": self.user["id"], "project_id": (self.project or {}).get("id"),
                "domain_id": (self.domain or {}).get("id"), "issued_at": self.issued_at,
                "audit_ids": self.audit_ids,
                "application_credential_id": (self.application_credential or {}).get("id")}

    def render(self, catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "methods": self.methods,
            "user": {"id": self.user["id"], "name": self.user["name"],
                     "domain": {"id": self.user_domain["id"], "name": self.user_domain["name"]},
                     "password_expires_at": self.user.get("password_expires_at")},
            "audit_ids": self.audit_ids,
            "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at),
        }
        if self.scope_type == PROJECT and self.project and self.project_domain:
            body["project"] = {"id": self.project["id"], "name": self.project["name"],
                               "domain": {"id": self.project_domain["id"],
                                          "name": self.project_domain["name"]}}
            body["is_domain"] = False
        elif self.scope_type == DOMAIN and self.domain:
            body["domain"] = {"id": self.domain["id"], "name": self.domain["name"]}
        elif self.scope_type == SYSTEM:
            body["system"] = {"all": True}
        if self.scope_type != UNSCOPED:
            body["roles"] = [{"id": r["id"], "name": r["name"]} for r in self.roles]
            if catalog is not None:
                body["catalog"] = scoped_catalog(catalog, (self.project or {}).get("id"))
        if self.application_credential:
            ac = self.application_credential
            body["application_credential"] = {"id": ac["id"], "name": ac["name"],
                                              "restricted": not ac["unrestricted"]}
        return body


class TokenProvider:
    def __init__(self, identity: "Identity", keys: KeyRepository, *, expiration: int,
                 allow_expired_window: int, cache_time: int) -> None:
        self.identity = identity
        self.keys = keys
        self.expiration = expiration
        self.allow_expired_window = allow_expired_window
        self.cache_time = cache_time
        self._cache: dict[str, tuple[TokenInfo, float]] = {}
        self._lock = threading.Lock()
        # told when the cache is dropped: other processes' caches (compute API workers)
        self.invalidation_listeners: list[Callable[[], None]] = []

    # -- cache ----------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget every validated token (called after any identity write)."""
        with self._lock:
            self._cache = {}
        for listener in self.invalidation_listeners:
            try:
                listener()
            except Exception:  # a worker gone must not fail the identity write
                LOG.exception("token cache invalidation not delivered")

    def cached(self, token: str) -> TokenInfo | None:
        hit = self._cache.get(token)
        if hit is None:
            return None
        info, until = hit
        if time.monotonic() > until or info.expires_at <= utcnow():
            return None
        return info

    # -- encoding -------------------------------------------------------------
    def _encode(self, info: TokenInfo) -> str:
        scope_id = None
        if info.scope_type == PROJECT and info.project:
            scope_id = info.project["id"]
        elif info.scope_type == DOMAIN and info.domain:
            scope_id = info.domain["id"]
        payload = [PAYLOAD_VERSION, info.user["id"], info.methods, info.scope_type, scope_id,
                   _to_us(info.issued_at), _to_us(info.expires_at), info.audit_ids,
                   (info.application_credential or {}).get("id")]
        token = self.keys.fernet().encrypt(msgpack.packb(payload))
        return token.decode().rstrip("=")

    def _decode(self, token: str) -> list[Any]:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = self.keys.fernet().decrypt(padded.encode())
            payload = msgpack.unpackb(data)
        except (InvalidToken, ValueError, TypeError, msgpack.UnpackException):
            raise errors.NotFound("Could not recognize Fernet token") from None
        if not isinstance(payload, list) or payload[:1] != [PAYLOAD_VERSION]:
            raise errors.NotFound("Could not recognize Fernet token")
        return payload

    # -- issuing --------------------------------------------------------------
    def issue(self, auth: dict[str, Any]) -> tuple[str, TokenInfo]:
        identity = auth.get("identity")
        if not isinstance(identity, dict) or not isinstance(identity.get("methods"), list) \
                or not identity["methods"]:
            raise errors.BadRequest("Expecting to find identity in auth - the server could not "
                                    "comply with the request since it is either malformed or "
                                    "otherwise incorrect.")
        methods: list[str] = identity["methods"]
        for m in methods:
            if m not in ("password", "token", "application_credential"):
                raise unauthorized(f"Attempted to authenticate with an unsupported method: {m}.")
            if not isinstance(identity.get(m), dict):
                raise errors.BadRequest(f"Expecting to find {m} in identity.")
        user_id: str | None = None
        audit_ids = [new_audit_id()]
        expires_at = utcnow() + dt.timedelta(seconds=self.expiration)
        app_cred: dict[str, Any] | None = None
        scope = auth.get("scope")
        parent: TokenInfo | None = None

        if "token" in methods:
            parent = self.validate(str(identity["token"].get("id", "")))
            if parent.application_credential:
                raise errors.Forbidden("Rescoping a token issued with an application "
                                       "credential is not allowed.")
            user_id = parent.user["id"]
            audit_ids = [new_audit_id(), parent.audit_ids[-1]]
            expires_at = min(expires_at, parent.expires_at)
        if "password" in methods:
            uid = self._password_user(identity["password"])
            if user_id and uid != user_id:
                raise unauthorized("Methods authenticate different users.")
            user_id = uid
        if "application_credential" in methods:
            app_cred = self._app_cred(identity["application_credential"])
            if user_id and app_cred["user_id"] != user_id:
                raise unauthorized("Methods authenticate different users.")
            user_id = app_cred["user_id"]
            if scope:
                raise unauthorized("Application credentials cannot request a scope.")
            scope = {"project": {"id": app_cred["project_id"]}}
            if app_cred.get("expires_at"):
                ac_exp = dt.datetime.fromisoformat(app_cred["expires_at"])
                expires_at = min(expires_at, ac_exp)
        assert user_id is not None
        ident = self.identity
        user = ident.users.get_user(user_id)
        if not user["enabled"]:
            raise unauthorized(f"User {user_id} is disabled.")
        user_domain = ident.resources.get_domain(user["domain_id"])
        if not user_domain["enabled"]:
            raise unauthorized(f"Domain {user_domain['id']} is disabled.")

        if scope is None and parent is not None and parent.scope_type != UNSCOPED:
            raise errors.Forbidden("A scope is needed to rescope a scoped token.")
        if scope is None and "token" not in methods and user.get("default_project_id"):
            default = user["default_project_id"]
            if ident.roles.effective_role_ids(user_id, project_id=default):
                scope = {"project": {"id": default}}
        if scope == "unscoped":
            scope = None
        now = utcnow()
        info = TokenInfo(user=user, user_domain=user_domain,
                         methods=list(dict.fromkeys((parent.methods if parent else []) +
                                                    methods)),
                         scope_type=UNSCOPED, issued_at=now, expires_at=expires_at,
                         audit_ids=audit_ids, application_credential=app_cred)
        if scope:
            self._scope(info, scope)
            self._resolve(info)
        return self._encode(info), info

    def _find_user_id(self, spec: dict[str, Any]) -> str:
        if not isinstance(spec, dict):
            raise errors.BadRequest("Expecting to find user in password.")
        ident = self.identity
        if spec.get("id"):
            return str(spec["id"])
        name = spec.get("name")
        domain = spec.get("domain")
        if not name or not isinstance(domain, dict) or not (domain.get("id") or domain.get("name")):
            raise errors.BadRequest("A user given by name needs a domain by id or name.")
        try:
            dom = ident.resources.find_domain(id=domain.get("id"), name=domain.get("name"))
        except errors.NotFound:
            raise unauthorized() from None
        user = ident.users.find_user(name=name, domain_id=dom["id"])
        if user is None:
            raise unauthorized()
        return user["id"]

    def _password_user(self, spec: dict[str, Any]) -> str:
        user_spec = spec.get("user")
        if not isinstance(user_spec, dict) or "password" not in user_spec:
            raise errors.BadRequest("Expecting to find password in user.")
        user_id = self._find_user_id(user_spec)
        self.identity.users.check_password(user_id, str(user_spec["password"]))
        return user_id

    def _app_cred(self, spec: dict[str, Any]) -> dict[str, Any]:
        if "secret" not in spec:
            raise errors.BadRequest("Expecting to find secret in application_credential.")
        user_id = None
        if not spec.get("id"):
            if not spec.get("name") or not spec.get("user"):
                raise errors.BadRequest("An application credential given by name needs a user.")
            user_id = self._find_user_id({**spec["user"], "password": ""})
        return self.identity.app_creds.authenticate(id=spec.get("id"), name=spec.get("name"),
                                                    user_id=user_id, secret=str(spec["secret"]))

    def _scope(self, info: TokenInfo, scope: Any) -> None:
        ident = self.identity
        if not isinstance(scope, dict) or len(scope) != 1:
            raise errors.BadRequest("Only one of project, domain or system may be in scope.")
        if "project" in scope:
            spec = scope["project"] or {}
            if spec.get("id"):
                try:
                    project = ident.resources.get_project(spec["id"])
                except errors.NotFound:
                    raise unauthorized(f"Could not find project: {spec['id']}.") from None
            else:
                dom_spec = spec.get("domain") or {}
                try:
                    dom = ident.resources.find_domain(id=dom_spec.get("id"),
                                                      name=dom_spec.get("name"))
                except errors.NotFound:
                    raise unauthorized("Could not find the project's domain.") from None
                found = ident.resources.find_project(spec.get("name", ""), dom["id"])
                if found is None:
                    raise unauthorized(f"Could not find project: {spec.get('name')}.")
                project = found
            info.scope_type, info.project = PROJECT, project
        elif "domain" in scope:
            spec = scope["domain"] or {}
            try:
                info.domain = ident.resources.find_domain(id=spec.get("id"), name=spec.get("name"))
            except errors.NotFound:
                raise unauthorized("Could not find domain.") from None
            info.scope_type = DOMAIN
        elif "system" in scope:
            if scope["system"] != {"all": True}:
                raise errors.BadRequest("Only the 'all' system scope is supported.")
            info.scope_type = SYSTEM
        else:
            raise errors.BadRequest("Unknown scope: expected project, domain or system.")

    def _resolve(self, info: TokenInfo) -> None:
        """Fill the roles of a scoped token (and check that the scope is usable)."""
        ident = self.identity
        user_id = info.user["id"]
        if info.scope_type == PROJECT:
            project = info.project
            assert project is not None
            if not project["enabled"]:
                raise unauthorized(f"Project {project['id']} is disabled.")
            info.project_domain = ident.resources.get_domain(project["domain_id"])
            if not info.project_domain["enabled"]:
                raise unauthorized(f"Domain {project['domain_id']} is disabled.")
            role_ids = ident.roles.effective_role_ids(user_id, project_id=project["id"])
            if not role_ids:
                raise unauthorized(f"User {user_id} has no access to project {project['id']}.")
        elif info.scope_type == DOMAIN:
            assert info.domain is not None
            if not info.domain["enabled"]:
                raise unauthorized(f"Domain {info.domain['id']} is disabled.")
            role_ids = ident.roles.effective_role_ids(user_id, domain_id=info.domain["id"])
            if not role_ids:
                raise unauthorized(f"User {user_id} has no access to domain {info.domain['id']}.")
        else:
            role_ids = ident.roles.effective_role_ids(user_id, system=True)
            if not role_ids:
                raise unauthorized(f"User {user_id} has no access to the system.")
        if info.application_credential:
            allowed = {r["id"] for r in info.application_credential["roles"]}
            role_ids = [r for r in role_ids if r in allowed]
            if not role_ids:
                raise unauthorized("The application credential's roles are no longer held by "
                                   "its user.")
        info.roles = ident.roles.roles_by_id(role_ids)

    # -- validation -----------------------------------------------------------
    def validate(self, token: str, allow_expired: bool = False) -> TokenInfo:
        if not allow_expired:
            hit = self.cached(token)
            if hit is not None:
                return hit
        (_v, user_id, methods, scope_type, scope_id, issued_us, expires_us, audit_ids,
         app_cred_id) = self._decode(token)
        issued_at, expires_at = _from_us(issued_us), _from_us(expires_us)
        now = utcnow()
        if expires_at <= now:
            if not allow_expired or \
                    (now - expires_at).total_seconds() > self.allow_expired_window:
                raise errors.NotFound("The token has expired.")
        ident = self.identity
        fields = {"user_id": user_id, "issued_at": issued_at, "audit_ids": audit_ids,
                  "project_id": scope_id if scope_type == PROJECT else None,
                  "domain_id": scope_id if scope_type == DOMAIN else None,
                  "application_credential_id": app_cred_id}
        if ident.revocations.is_revoked(fields):
            raise errors.NotFound("The token has been revoked.")
        try:
            user = ident.users.get_user(user_id)
            user_domain = ident.resources.get_domain(user["domain_id"])
            if not user["enabled"] or not user_domain["enabled"]:
                raise errors.NotFound("The token's user is disabled.")
            app_cred = ident.app_creds.get(user_id, app_cred_id) if app_cred_id else None
            info = TokenInfo(user=user, user_domain=user_domain, methods=methods,
                             scope_type=scope_type, issued_at=issued_at, expires_at=expires_at,
                             audit_ids=audit_ids, application_credential=app_cred)
            if scope_type == PROJECT:
                info.project = ident.resources.get_project(scope_id)
            elif scope_type == DOMAIN:
                info.domain = ident.resources.get_domain(scope_id)
            if scope_type != UNSCOPED:
                self._resolve(info)
        except (errors.NotFound, errors.Unauthorized) as exc:
            raise errors.NotFound(f"The token is no longer valid: {exc.message}") from None
        if not allow_expired:
            with self._lock:
                if len(self._cache) > 50_000:
                    self._cache = {}
                self._cache[token] = (info, time.monotonic() + self.cache_time)
        return info

    def revoke(self, token: str) -> None:
        info = self.validate(token)
        self.identity.revocations.revoke(audit_id=info.audit_ids[0])


def scoped_catalog(catalog: list[dict[str, Any]], project_id: str | None
                   ) -> list[dict[str, Any]]:
    """Keystone's URL substitution: ``$(project_id)s``/``%(project_id)s`` in endpoint URLs
    become the token's project; endpoints that need a project are left out without one."""
    out = []
    for svc in catalog:
        endpoints = []
        for e in svc["endpoints"]:
            url = e["url"]
            if "(project_id)s" in url or "(tenant_id)s" in url:
                if not project_id:
                    continue
                for key in ("project_id", "tenant_id"):
                    url = url.replace(f"$({key})s", project_id).replace(f"%({key})s", project_id)
                e = {**e, "url": url}
            endpoints.append(e)
        out.append({**svc, "endpoints": endpoints})
    return out

