"""/v3/domains and /v3/projects (with tags)."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.identity import schemas
from pocketstack.identity.api.common import filters, many, one
from pocketstack.identity.manager import Identity


class Domains:
    def __init__(self, identity: Identity) -> None:
        self.resources = identity.resources

    @route("POST", "/v3/domains", status=201, policy="identity:create_domain")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.domain_create, req.json())["domain"]
        return one(req, "domain", "domains", self.resources.create_domain(body))

    @route("GET", "/v3/domains", policy="identity:list_domains")
    def list(self, req: Request) -> dict[str, Any]:
        return many(req, "domains", "domains",
                    self.resources.list_domains(filters(req, ("name", "enabled"))))

    @route("GET", "/v3/domains/{domain_id}")
    def get(self, req: Request, domain_id: str) -> dict[str, Any]:
        req.enforce("identity:get_domain", {"target": {"domain": {"id": domain_id}}})
        return one(req, "domain", "domains", self.resources.get_domain(domain_id))

    @route("PATCH", "/v3/domains/{domain_id}", policy="identity:update_domain")
    def update(self, req: Request, domain_id: str) -> dict[str, Any]:
        body = validate(schemas.domain_update, req.json())["domain"]
        return one(req, "domain", "domains", self.resources.update_domain(domain_id, body))

    @route("DELETE", "/v3/domains/{domain_id}", status=204, policy="identity:delete_domain")
    def delete(self, req: Request, domain_id: str) -> None:
        self.resources.delete_domain(domain_id)


class Projects:
    def __init__(self, identity: Identity) -> None:
        self.resources = identity.resources
        self.roles = identity.roles

    def _target(self, project_id: str) -> dict[str, Any]:
        return {"target": {"project": {"id": project_id}}, "project_id": project_id}

    @route("POST", "/v3/projects", status=201, policy="identity:create_project")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.project_create, req.json())["project"]
        if not body.get("domain_id") and not body.get("parent_id"):
            body["domain_id"] = req.ctx.domain_id or req.ctx.project_domain_id or "default"
        return one(req, "project", "projects", self.resources.create_project(body))

    @route("GET", "/v3/projects")
    def list(self, req: Request) -> dict[str, Any]:
        f = filters(req, ("name", "domain_id", "enabled", "parent_id", "tags", "tags-any",
                          "not-tags", "not-tags-any"))
        if req.authorized("identity:list_projects"):
            return many(req, "projects", "projects", self.resources.list_projects(f))
        # Keystone lets a domain-less user list the projects they have roles on
        raise errors.PolicyNotAuthorized("identity:list_projects")

    @route("GET", "/v3/projects/{project_id}")
    def get(self, req: Request, project_id: str) -> dict[str, Any]:
        req.enforce("identity:get_project", self._target(project_id))
        return one(req, "project", "projects", self.resources.get_project(project_id))

    @route("PATCH", "/v3/projects/{project_id}", policy="identity:update_project")
    def update(self, req: Request, project_id: str) -> dict[str, Any]:
        body = validate(schemas.project_update, req.json())["project"]
        return one(req, "project", "projects", self.resources.update_project(project_id, body))

    @route("DELETE", "/v3/projects/{project_id}", status=204, policy="identity:delete_project")
    def delete(self, req: Request, project_id: str) -> None:
        self.resources.delete_project(project_id)

    @route("GET", "/v3/users/{user_id}/projects")
    def for_user(self, req: Request, user_id: str) -> dict[str, Any]:
        req.enforce("identity:list_user_projects", {"target": {"user": {"id": user_id}}})
        ids = self.roles.project_ids_for_user(user_id)
        f = filters(req, ("name", "domain_id", "enabled"))
        return many(req, "projects", "projects", self.resources.list_projects(f, ids))

    # -- tags -----------------------------------------------------------------
    @route("GET", "/v3/projects/{project_id}/tags")
    def list_tags(self, req: Request, project_id: str) -> dict[str, Any]:
        req.enforce("identity:get_project_tag", self._target(project_id))
        return {"tags": self.resources.get_project(project_id)["tags"]}

    @route("PUT", "/v3/projects/{project_id}/tags", policy="identity:update_project_tags")
    def set_tags(self, req: Request, project_id: str) -> dict[str, Any]:
        body = validate(schemas.project_tags, req.json())
        return {"tags": self.resources.set_tags(project_id, body["tags"])}

    @route("DELETE", "/v3/projects/{project_id}/tags", status=204,
           policy="identity:update_project_tags")
    def clear_tags(self, req: Request, project_id: str) -> None:
        self.resources.set_tags(project_id, [])

    @route("GET", "/v3/projects/{project_id}/tags/{tag}")
    def check_tag(self, req: Request, project_id: str, tag: str) -> None:
        req.enforce("identity:get_project_tag", self._target(project_id))
        if tag not in self.resources.get_project(project_id)["tags"]:
            raise errors.NotFound(f"Could not find tag: {tag}.")

    @route("PUT", "/v3/projects/{project_id}/tags/{tag}", status=201,
           policy="identity:update_project_tags")
    def add_tag(self, req: Request, project_id: str, tag: str) -> None:
        if "," in tag or "/" in tag or len(tag) > 255:
            raise errors.BadRequest("Tags may not contain ',' or '/' and are at most 255 "
                                    "characters long.")
        self.resources.add_tag(project_id, tag)

    @route("DELETE", "/v3/projects/{project_id}/tags/{tag}", status=204,
           policy="identity:update_project_tags")
    def remove_tag(self, req: Request, project_id: str, tag: str) -> None:
        self.resources.remove_tag(project_id, tag)
