"""/v3/users and /v3/groups."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.identity import schemas
from pocketstack.identity.api.common import filters, many, one
from pocketstack.identity.manager import Identity


class Users:
    def __init__(self, identity: Identity) -> None:
        self.users = identity.users

    @route("POST", "/v3/users", status=201, policy="identity:create_user")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.user_create, req.json())["user"]
        if not body.get("domain_id"):
            body["domain_id"] = req.ctx.domain_id or req.ctx.project_domain_id or "default"
        return one(req, "user", "users", self.users.create_user(body))

    @route("GET", "/v3/users", policy="identity:list_users")
    def list(self, req: Request) -> dict[str, Any]:
        return many(req, "users", "users",
                    self.users.list_users(filters(req, ("name", "domain_id", "enabled"))))

    @route("GET", "/v3/users/{user_id}")
    def get(self, req: Request, user_id: str) -> dict[str, Any]:
        req.enforce("identity:get_user", {"target": {"user": {"id": user_id}}})
        return one(req, "user", "users", self.users.get_user(user_id))

    @route("PATCH", "/v3/users/{user_id}", policy="identity:update_user")
    def update(self, req: Request, user_id: str) -> dict[str, Any]:
        body = validate(schemas.user_update, req.json())["user"]
        return one(req, "user", "users", self.users.update_user(user_id, body))

    @route("DELETE", "/v3/users/{user_id}", status=204, policy="identity:delete_user")
    def delete(self, req: Request, user_id: str) -> None:
        self.users.delete_user(user_id)

    @route("POST", "/v3/users/{user_id}/password", status=204, auth=False)
    def change_password(self, req: Request, user_id: str) -> None:
        # Authenticated by the original password, as Keystone does (no token needed).
        body = validate(schemas.password_change, req.json())["user"]
        self.users.change_password(user_id, body["original_password"], body["password"])

    @route("GET", "/v3/users/{user_id}/groups")
    def groups(self, req: Request, user_id: str) -> dict[str, Any]:
        req.enforce("identity:list_groups_for_user", {"target": {"user": {"id": user_id}}})
        self.users.get_user(user_id)
        return many(req, "groups", "groups", self.users.list_groups({}, user_id=user_id))


class Groups:
    def __init__(self, identity: Identity) -> None:
        self.users = identity.users

    @route("POST", "/v3/groups", status=201, policy="identity:create_group")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.group_create, req.json())["group"]
        if not body.get("domain_id"):
            body["domain_id"] = req.ctx.domain_id or req.ctx.project_domain_id or "default"
        return one(req, "group", "groups", self.users.create_group(body))

    @route("GET", "/v3/groups", policy="identity:list_groups")
    def list(self, req: Request) -> dict[str, Any]:
        return many(req, "groups", "groups",
                    self.users.list_groups(filters(req, ("name", "domain_id"))))

    @route("GET", "/v3/groups/{group_id}", policy="identity:get_group")
    def get(self, req: Request, group_id: str) -> dict[str, Any]:
        return one(req, "group", "groups", self.users.get_group(group_id))

    @route("PATCH", "/v3/groups/{group_id}", policy="identity:update_group")
    def update(self, req: Request, group_id: str) -> dict[str, Any]:
        body = validate(schemas.group_update, req.json())["group"]
        return one(req, "group", "groups", self.users.update_group(group_id, body))

    @route("DELETE", "/v3/groups/{group_id}", status=204, policy="identity:delete_group")
    def delete(self, req: Request, group_id: str) -> None:
        self.users.delete_group(group_id)

    @route("GET", "/v3/groups/{group_id}/users", policy="identity:list_users_in_group")
    def members(self, req: Request, group_id: str) -> dict[str, Any]:
        ids = set(self.users.members(group_id))
        return many(req, "users", "users", self.users.list_users({}, ids))

    @route("PUT", "/v3/groups/{group_id}/users/{user_id}", status=204,
           policy="identity:add_user_to_group")
    def add(self, req: Request, group_id: str, user_id: str) -> None:
        self.users.add_member(group_id, user_id)

    @route("HEAD", "/v3/groups/{group_id}/users/{user_id}", status=204,
           policy="identity:check_user_in_group")
    def check(self, req: Request, group_id: str, user_id: str) -> None:
        if not self.users.is_member(group_id, user_id):
            raise errors.NotFound(f"User {user_id} is not a member of group {group_id}.")

    @route("DELETE", "/v3/groups/{group_id}/users/{user_id}", status=204,
           policy="identity:remove_user_from_group")
    def remove(self, req: Request, group_id: str, user_id: str) -> None:
        self.users.remove_member(group_id, user_id)
