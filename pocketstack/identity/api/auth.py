"""/v3/auth: issue, validate and revoke tokens; what a token may see."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.identity import schemas
from pocketstack.identity.api.common import many
from pocketstack.identity.manager import Identity
from pocketstack.identity.tokens import TokenInfo, scoped_catalog
from pocketstack.api.validation import validate


class Auth:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def _catalog(self, req: Request) -> list[dict[str, Any]] | None:
        return None if req.flag("nocatalog") else self.identity.catalog.token_catalog()

    @route("POST", "/v3/auth/tokens", auth=False)
    def issue(self, req: Request) -> Reply:
        body = validate(schemas.auth, req.json())
        token, info = self.identity.tokens.issue(body["auth"])
        return Reply({"token": info.render(self._catalog(req))}, status=201,
                     headers={"X-Subject-Token": token})

    def _subject(self, req: Request) -> tuple[str, TokenInfo]:
        subject = req.headers.get("x-subject-token")
        if not subject:
            raise errors.BadRequest("X-Subject-Token header is required.")
        allow_expired = req.flag("allow_expired")
        try:
            info = self.identity.tokens.validate(subject, allow_expired=allow_expired)
        except errors.NotFound as exc:
            raise errors.NotFound(exc.message) from None
        return subject, info

    @route("GET", "/v3/auth/tokens")
    def show(self, req: Request) -> Reply:
        subject, info = self._subject(req)
        req.enforce("identity:validate_token", {"target": {"token": {"user_id":
                                                                     info.user["id"]}}})
        return Reply({"token": info.render(self._catalog(req))},
                     headers={"X-Subject-Token": subject})

    @route("HEAD", "/v3/auth/tokens")
    def check(self, req: Request) -> Reply:
        subject, info = self._subject(req)
        req.enforce("identity:validate_token", {"target": {"token": {"user_id":
                                                                     info.user["id"]}}})
        return Reply(None, status=200, headers={"X-Subject-Token": subject})

    @route("DELETE", "/v3/auth/tokens", status=204)
    def revoke(self, req: Request) -> None:
        subject, info = self._subject(req)
        req.enforce("identity:revoke_token", {"target": {"token": {"user_id":
                                                                   info.user["id"]}}})
        self.identity.tokens.revoke(subject)

    @route("GET", "/v3/auth/catalog", policy="identity:get_auth_catalog")
    def catalog(self, req: Request) -> dict[str, Any]:
        if req.ctx.project_id is None and req.ctx.domain_id is None and \
                req.ctx.system_scope is None:
            raise errors.Forbidden("The service catalog is only available to scoped tokens.")
        return {"catalog": scoped_catalog(self.identity.catalog.token_catalog(),
                                          req.ctx.project_id),
                "links": {"self": req.url, "previous": None, "next": None}}

    @route("GET", "/v3/auth/projects", policy="identity:get_auth_projects")
    def projects(self, req: Request) -> dict[str, Any]:
        ids = self.identity.roles.project_ids_for_user(req.ctx.user_id or "")
        projects = [p for p in self.identity.resources.list_projects({"enabled": True}, ids)]
        return many(req, "projects", "projects", projects)

    @route("GET", "/v3/auth/domains", policy="identity:get_auth_domains")
    def domains(self, req: Request) -> dict[str, Any]:
        ids = self.identity.roles.domain_ids_for_user(req.ctx.user_id or "")
        domains = [d for d in self.identity.resources.list_domains({"enabled": True})
                   if d["id"] in ids]
        return many(req, "domains", "domains", domains)

    @route("GET", "/v3/auth/system", policy="identity:get_auth_system")
    def system(self, req: Request) -> dict[str, Any]:
        has = self.identity.roles.has_system_role(req.ctx.user_id or "")
        return {"system": [{"all": True}] if has else [],
                "links": {"self": req.url, "previous": None, "next": None}}


__all__ = ["Auth"]
