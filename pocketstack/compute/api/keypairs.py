"""/os-keypairs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute.api import schemas, views
from pocketstack.compute.api.common import int_param, next_link

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-keypairs:"


class KeyPairs:
    def __init__(self, svc: "ComputeService") -> None:
        self.keypairs = svc.keypairs

    def _user(self, req: Request, rule: str, user_id: str | None) -> str:
        if user_id is not None and not req.at_least("2.10"):
            user_id = None
        user = user_id or req.ctx.user_id or ""
        req.enforce(P + rule, {"user_id": user, "project_id": req.ctx.project_id})
        return user

    @route("POST", "/v2.1/os-keypairs")
    def create(self, req: Request) -> Reply:
        body = validate(schemas.keypair_create, req.json())["keypair"]
        if "type" in body and not req.at_least("2.2"):
            raise errors.BadRequest("Additional properties are not allowed ('type' was "
                                    "unexpected)")
        if not req.at_least("2.92") and re.search(r"[@.]", body["name"]):
            raise errors.BadRequest("Invalid input for field/attribute name. Value: "
                                    f"{body['name']}. '{body['name']}' does not match "
                                    "'^[_\\- a-zA-Z0-9]+$' ('@' and '.' need 2.92)")
        if body["name"] != body["name"].strip():
            raise errors.BadRequest("Invalid input for field/attribute name. Value: "
                                    f"{body['name']}. Leading or trailing whitespace")
        if "public_key" not in body and req.at_least("2.92"):
            raise errors.BadRequest("'public_key' is a required property")
        user = self._user(req, "create", body.get("user_id"))
        kp, private = self.keypairs.create(user, body["name"], body.get("type", "ssh"),
                                           body.get("public_key"))
        out = self.keypairs.view(kp, req.at_least("2.2"))
        out["user_id"] = kp.user_id
        if private is not None:
            out["private_key"] = private
        return Reply({"keypair": out}, 201 if req.at_least("2.2") else 200)

    @route("GET", "/v2.1/os-keypairs")
    def index(self, req: Request) -> dict[str, Any]:
        user = self._user(req, "index", req.query.get("user_id"))
        limit = marker = None
        if req.at_least("2.35"):
            limit, marker = int_param(req, "limit"), req.query.get("marker")
        rows = self.keypairs.list(user, limit, marker)
        out: dict[str, Any] = {"keypairs": [{"keypair": self.keypairs.view(
            kp, req.at_least("2.2"))} for kp in rows]}
        nxt = next_link(req, "os-keypairs", rows, limit, rows[-1].name if rows else "")
        if nxt:
            out["keypairs_links"] = nxt
        return out

    @route("GET", "/v2.1/os-keypairs/{name}")
    def show(self, req: Request, name: str) -> dict[str, Any]:
        user = self._user(req, "show", req.query.get("user_id"))
        kp = self.keypairs.get(user, name)
        out = self.keypairs.view(kp, req.at_least("2.2"))
        out.update({"user_id": kp.user_id, "id": kp.id, "deleted": False,
                    "created_at": views.iso_us(kp.created_at), "deleted_at": None,
                    "updated_at": None})
        return {"keypair": out}

    @route("DELETE", "/v2.1/os-keypairs/{name}")
    def delete(self, req: Request, name: str) -> Reply:
        user = self._user(req, "delete", req.query.get("user_id"))
        self.keypairs.delete(user, name)
        return Reply(None, 204 if req.at_least("2.2") else 202)
