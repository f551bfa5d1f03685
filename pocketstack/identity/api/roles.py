"""/v3/roles, implied roles, grants on projects, domains and the system, role assignments."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.identity import schemas
from pocketstack.identity.api.common import filters, link, many, one
from pocketstack.identity.manager import Identity

INHERIT = "/v3/OS-INHERIT"


class Roles:
    def __init__(self, identity: Identity) -> None:
        self.roles = identity.roles

    @route("POST", "/v3/roles", status=201, policy="identity:create_role")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.role_create, req.json())["role"]
        return one(req, "role", "roles", self.roles.create_role(body))

    @route("GET", "/v3/roles", policy="identity:list_roles")
    def list(self, req: Request) -> dict[str, Any]:
        return many(req, "roles", "roles", self.roles.list_roles(filters(req, ("name",
                                                                               "domain_id"))))

    @route("GET", "/v3/roles/{role_id}", policy="identity:get_role")
    def get(self, req: Request, role_id: str) -> dict[str, Any]:
        return one(req, "role", "roles", self.roles.get_role(role_id))

    @route("PATCH", "/v3/roles/{role_id}", policy="identity:update_role")
    def update(self, req: Request, role_id: str) -> dict[str, Any]:
        body = validate(schemas.role_update, req.json())["role"]
        return one(req, "role", "roles", self.roles.update_role(role_id, body))

    @route("DELETE", "/v3/roles/{role_id}", status=204, policy="identity:delete_role")
    def delete(self, req: Request, role_id: str) -> None:
        self.roles.delete_role(role_id)

    # -- implied roles --------------------------------------------------------
    def _brief(self, req: Request, role_id: str) -> dict[str, Any]:
        r = self.roles.get_role(role_id)
        return {"id": r["id"], "name": r["name"], "links": link(req, f"roles/{r['id']}")}

    def _inference(self, req: Request, prior_id: str, implied_ids: list[str]) -> dict[str, Any]:
        return {"prior_role": self._brief(req, prior_id),
                "implies": [self._brief(req, i) for i in implied_ids]}

    @route("PUT", "/v3/roles/{prior_id}/implies/{implied_id}", status=201,
           policy="identity:create_implied_role")
    def imply(self, req: Request, prior_id: str, implied_id: str) -> dict[str, Any]:
        self.roles.add_implied(prior_id, implied_id)
        return {"role_inference": {"prior_role": self._brief(req, prior_id),
                                   "implies": self._brief(req, implied_id)},
                "links": link(req, f"roles/{prior_id}/implies/{implied_id}")}

    @route("GET", "/v3/roles/{prior_id}/implies/{implied_id}",
           policy="identity:get_implied_role")
    def get_implied(self, req: Request, prior_id: str, implied_id: str) -> dict[str, Any]:
        self.roles.get_implied(prior_id, implied_id)
        return {"role_inference": {"prior_role": self._brief(req, prior_id),
                                   "implies": self._brief(req, implied_id)},
                "links": link(req, f"roles/{prior_id}/implies/{implied_id}")}

    @route("HEAD", "/v3/roles/{prior_id}/implies/{implied_id}", status=204,
           policy="identity:get_implied_role")
    def check_implied(self, req: Request, prior_id: str, implied_id: str) -> None:
        self.roles.get_implied(prior_id, implied_id)

    @route("DELETE", "/v3/roles/{prior_id}/implies/{implied_id}", status=204,
           policy="identity:delete_implied_role")
    def unimply(self, req: Request, prior_id: str, implied_id: str) -> None:
        self.roles.remove_implied(prior_id, implied_id)

    @route("GET", "/v3/roles/{prior_id}/implies", policy="identity:list_implied_roles")
    def list_implied(self, req: Request, prior_id: str) -> dict[str, Any]:
        self.roles.get_role(prior_id)
        implied = [i for _p, i in self.roles.list_implied(prior_id)]
        return {"role_inference": self._inference(req, prior_id, implied),
                "links": link(req, f"roles/{prior_id}/implies")}

    @route("GET", "/v3/role_inferences", policy="identity:list_role_inference_rules")
    def inferences(self, req: Request) -> dict[str, Any]:
        by_prior: dict[str, list[str]] = {}
        for prior, implied in self.roles.list_implied():
            by_prior.setdefault(prior, []).append(implied)
        return {"role_inferences": [self._inference(req, p, i) for p, i in by_prior.items()],
                "links": link(req, "role_inferences")}


class Grants:
    """PUT/HEAD/GET/DELETE /v3/{projects|domains}/{id}/{users|groups}/{id}/roles[/{role}]."""

    def __init__(self, identity: Identity) -> None:
        self.roles = identity.roles

    @staticmethod
    def _kinds(targets: str, actors: str) -> tuple[str, str]:
        if targets not in ("projects", "domains") or actors not in ("users", "groups"):
            raise errors.NotFound("The resource could not be found.")
        return actors[:-1], targets[:-1]

    @route("PUT", "/v3/{targets}/{target_id}/{actors}/{actor_id}/roles/{role_id}", status=204,
           policy="identity:create_grant")
    def grant(self, req: Request, targets: str, target_id: str, actors: str, actor_id: str,
              role_id: str) -> None:
        actor, target = self._kinds(targets, actors)
        self.roles.grant(actor, actor_id, target, target_id, role_id)

    @route("HEAD", "/v3/{targets}/{target_id}/{actors}/{actor_id}/roles/{role_id}", status=204,
           policy="identity:check_grant")
    def check(self, req: Request, targets: str, target_id: str, actors: str, actor_id: str,
              role_id: str) -> None:
        actor, target = self._kinds(targets, actors)
        self.roles.check_grant(actor, actor_id, target, target_id, role_id)

    @route("GET", "/v3/{targets}/{target_id}/{actors}/{actor_id}/roles/{role_id}", status=204,
           policy="identity:check_grant")
    def check_get(self, req: Request, targets: str, target_id: str, actors: str, actor_id: str,
                  role_id: str) -> None:
        self.check(req, targets, target_id, actors, actor_id, role_id)

    @route("DELETE", "/v3/{targets}/{target_id}/{actors}/{actor_id}/roles/{role_id}",
           status=204, policy="identity:revoke_grant")
    def revoke(self, req: Request, targets: str, target_id: str, actors: str, actor_id: str,
               role_id: str) -> None:
        actor, target = self._kinds(targets, actors)
        self.roles.revoke(actor, actor_id, target, target_id, role_id)

    @route("GET", "/v3/{targets}/{target_id}/{actors}/{actor_id}/roles",
           policy="identity:list_grants")
    def list(self, req: Request, targets: str, target_id: str, actors: str,
             actor_id: str) -> dict[str, Any]:
        actor, target = self._kinds(targets, actors)
        return many(req, "roles", "roles",
                    self.roles.list_grants(actor, actor_id, target, target_id))

    # -- inherited (OS-INHERIT) -----------------------------------------------
    @route("PUT", INHERIT + "/{targets}/{target_id}/{actors}/{actor_id}/roles/{role_id}"
           "/inherited_to_projects", status=204, policy="identity:create_grant")
    def grant_inherited(self, req: Request, targets: str, target_id: str, actors: str,
                        actor_id: str, role_id: str) -> None:
        actor, target = self._kinds(targets, actors)
        self.roles.grant(actor, actor_id, target, target_id, role_id, inherited=True)

    @route("HEAD", INHERIT + "/{targets}/{target_id}/{actors}/{actor_id}/roles/{role_id}"
           "/inherited_to_projects", status=204, policy="identity:check_grant")
    def check_inherited(self, req: Request, targets: str, target_id: str, actors: str,
                        actor_id: str, role_id: str) -> None:
        actor, target = self._kinds(targets, actors)
        self.roles.check_grant(actor, actor_id, target, target_id, role_id, inherited=True)

    @route("DELETE", INHERIT + "/{targets}/{target_id}/{actors}/{actor_id}/roles/{role_id}"
           "/inherited_to_projects", status=204, policy="identity:revoke_grant")
    def revoke_inherited(self, req: Request, targets: str, target_id: str, actors: str,
                         actor_id: str, role_id: str) -> None:
        actor, target = self._kinds(targets, actors)
        self.roles.revoke(actor, actor_id, target, target_id, role_id, inherited=True)

    @route("GET", INHERIT + "/{targets}/{target_id}/{actors}/{actor_id}/roles"
           "/inherited_to_projects", policy="identity:list_grants")
    def list_inherited(self, req: Request, targets: str, target_id: str, actors: str,
                       actor_id: str) -> dict[str, Any]:
        actor, target = self._kinds(targets, actors)
        return many(req, "roles", "roles", self.roles.list_grants(actor, actor_id, target,
                                                                  target_id, inherited=True))

    # -- system ---------------------------------------------------------------
    @route("PUT", "/v3/system/{actors}/{actor_id}/roles/{role_id}", status=204,
           policy="identity:create_grant")
    def grant_system(self, req: Request, actors: str, actor_id: str, role_id: str) -> None:
        actor, _ = self._kinds("projects", actors)
        self.roles.grant(actor, actor_id, "system", "system", role_id)

    @route("HEAD", "/v3/system/{actors}/{actor_id}/roles/{role_id}", status=204,
           policy="identity:check_grant")
    def check_system(self, req: Request, actors: str, actor_id: str, role_id: str) -> None:
        actor, _ = self._kinds("projects", actors)
        self.roles.check_grant(actor, actor_id, "system", "system", role_id)

    @route("GET", "/v3/system/{actors}/{actor_id}/roles/{role_id}", status=204,
           policy="identity:check_grant")
    def check_system_get(self, req: Request, actors: str, actor_id: str, role_id: str) -> None:
        self.check_system(req, actors, actor_id, role_id)

    @route("DELETE", "/v3/system/{actors}/{actor_id}/roles/{role_id}", status=204,
           policy="identity:revoke_grant")
    def revoke_system(self, req: Request, actors: str, actor_id: str, role_id: str) -> None:
        actor, _ = self._kinds("projects", actors)
        self.roles.revoke(actor, actor_id, "system", "system", role_id)

    @route("GET", "/v3/system/{actors}/{actor_id}/roles", policy="identity:list_grants")
    def list_system(self, req: Request, actors: str, actor_id: str) -> dict[str, Any]:
        actor, _ = self._kinds("projects", actors)
        return many(req, "roles", "roles", self.roles.list_grants(actor, actor_id, "system",
                                                                  "system"))


class RoleAssignments:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    @route("GET", "/v3/role_assignments", policy="identity:list_role_assignments")
    def list(self, req: Request) -> dict[str, Any]:
        q = req.query
        effective = req.flag("effective")
        include_names = req.flag("include_names")
        inherited = None
        if "scope.OS-INHERIT:inherited_to" in q:
            inherited = True
        if q.get("scope.project.id") and q.get("scope.domain.id"):
            raise errors.BadRequest("Specify at most one of scope.project.id and "
                                    "scope.domain.id.")
        if q.get("user.id") and q.get("group.id"):
            raise errors.BadRequest("Specify at most one of user.id and group.id.")
        if effective and q.get("group.id"):
            raise errors.BadRequest("Combining effective and group filter will always result "
                                    "in an empty list.")
        rows = self.identity.roles.list_assignments(
            user_id=q.get("user.id"), group_id=q.get("group.id"), role_id=q.get("role.id"),
            project_id=q.get("scope.project.id"), domain_id=q.get("scope.domain.id"),
            system="scope.system" in q, inherited=inherited, effective=effective)
        names = _NameCache(self.identity) if include_names else None
        return {"role_assignments": [self._render(req, a, names) for a in rows],
                "links": {"self": req.url, "previous": None, "next": None}}

    def _render(self, req: Request, a: dict[str, Any], names: "_NameCache | None"
                ) -> dict[str, Any]:
        source = a.get("source") or a
        target_kind = a["target"]
        out: dict[str, Any] = {"role": {"id": a["role_id"]}}
        if target_kind == "system":
            out["scope"] = {"system": {"all": True}}
        else:
            out["scope"] = {target_kind: {"id": a["target_id"]}}
        if a["inherited"]:
            out["scope"]["OS-INHERIT:inherited_to"] = "projects"
        out[a["actor"]] = {"id": a["actor_id"]}
        # the link points at the grant that produced the assignment
        s_actor = "users" if source["actor"] == "user" else "groups"
        if source["target"] == "system":
            path = f"system/{s_actor}/{source['actor_id']}/roles/{source['role_id']}"
        else:
            path = (f"{source['target']}s/{source['target_id']}/{s_actor}/"
                    f"{source['actor_id']}/roles/{source['role_id']}")
            if source["inherited"]:
                path = f"OS-INHERIT/{path}/inherited_to_projects"
        out["links"] = {"assignment": link(req, path)["self"]}
        if a.get("via_group"):
            out["links"]["membership"] = link(
                req, f"groups/{a['via_group']}/users/{a['actor_id']}")["self"]
        if a.get("prior_role_id"):
            out["role"]["id"] = a["role_id"]
            out["links"]["prior_role"] = link(req, f"roles/{a['prior_role_id']}")["self"]
        if names is not None:
            names.decorate(out)
        return out


class _NameCache:
    """Adds names (and domains) to role assignments for ``include_names``."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.cache: dict[tuple[str, str], dict[str, Any]] = {}

    def _get(self, kind: str, ident: str) -> dict[str, Any]:
        key = (kind, ident)
        if key not in self.cache:
            i = self.identity
            try:
                entity = {"role": i.roles.get_role, "user": i.users.get_user,
                          "group": i.users.get_group, "project": i.resources.get_project,
                          "domain": i.resources.get_domain}[kind](ident)
            except errors.NotFound:
                entity = {"id": ident}
            self.cache[key] = entity
        return self.cache[key]

    def _domain_ref(self, domain_id: str | None) -> dict[str, Any]:
        if not domain_id:
            return {}
        d = self._get("domain", domain_id)
        return {"domain": {"id": d["id"], "name": d.get("name")}}

    def decorate(self, out: dict[str, Any]) -> None:
        role = self._get("role", out["role"]["id"])
        out["role"]["name"] = role.get("name")
        if role.get("domain_id"):
            out["role"].update(self._domain_ref(role["domain_id"]))
        for kind in ("user", "group"):
            if kind in out:
                e = self._get(kind, out[kind]["id"])
                out[kind]["name"] = e.get("name")
                out[kind].update(self._domain_ref(e.get("domain_id")))
        scope = out["scope"]
        if "project" in scope:
            p = self._get("project", scope["project"]["id"])
            scope["project"]["name"] = p.get("name")
            scope["project"].update(self._domain_ref(p.get("domain_id")))
        if "domain" in scope:
            d = self._get("domain", scope["domain"]["id"])
            scope["domain"]["name"] = d.get("name")
