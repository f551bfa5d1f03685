"""/v2/images/{image_id}/members."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.image import schemas
from pocketstack.image.members import MemberManager


class Members:
    def __init__(self, members: MemberManager) -> None:
        self.members = members

    @route("GET", "/v2/images/{image_id}/members")
    def list(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"members": self.members.list(req.ctx, image_id),
                "schema": "/v2/schemas/members"}

    @route("POST", "/v2/images/{image_id}/members")
    def create(self, req: Request, image_id: str) -> dict[str, Any]:
        body = validate(schemas.MEMBER_CREATE, req.json())
        return self.members.create(req.ctx, image_id, body["member"])

    @route("GET", "/v2/images/{image_id}/members/{member_id}")
    def show(self, req: Request, image_id: str, member_id: str) -> dict[str, Any]:
        return self.members.get(req.ctx, image_id, member_id)

    @route("PUT", "/v2/images/{image_id}/members/{member_id}")
    def update(self, req: Request, image_id: str, member_id: str) -> dict[str, Any]:
        body = validate(schemas.MEMBER_UPDATE, req.json())
        return self.members.update(req.ctx, image_id, member_id, body["status"])

    @route("DELETE", "/v2/images/{image_id}/members/{member_id}", status=204)
    def delete(self, req: Request, image_id: str, member_id: str) -> None:
        self.members.delete(req.ctx, image_id, member_id)
