"""Image members: sharing ``shared`` images with other projects (Glance's members API)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.db import utcnow
from pocketstack.image.images import ImageManager, isotime
from pocketstack.image.models import Member


def member_view(m: Member) -> dict[str, Any]:
    return {"member_id": m.member_id, "image_id": m.image_id, "status": m.status,
            "created_at": isotime(m.created_at), "updated_at": isotime(m.updated_at),
            "schema": "/v2/schemas/member"}


class MemberManager:
    def __init__(self, images: ImageManager) -> None:
        self.images = images
        self.db = images.db

    def list(self, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            image, mine = self.images.load(session, ctx, image_id)
            self.images.enforce(ctx, "get_members", self.images.target(ctx, image, mine))
            if ctx.is_admin or image.owner == ctx.project_id:
                rows = list(session.scalars(select(Member).where(Member.image_id == image_id)
                                            .order_by(Member.created_at)))
            else:
                rows = [mine] if mine is not None else []
            return [member_view(m) for m in rows]

    def get(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            image, mine = self.images.load(session, ctx, image_id)
            self.images.enforce(ctx, "get_member", self.images.target(ctx, image, mine))
            member = session.get(Member, (image_id, member_id))
            owner = ctx.is_admin or image.owner == ctx.project_id
            if member is None or not (owner or member_id == ctx.project_id):
                raise errors.NotFound(f"Member {member_id} not found for image {image_id}.")
            return member_view(member)

    def create(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, "add_member")
            if image.visibility != "shared":
                raise errors.Forbidden("Only shared images have members.")
            if session.get(Member, (image_id, member_id)) is not None:
                raise errors.Conflict(f"Member {member_id} is duplicated for image "
                                      f"{image_id}")
            count = session.scalar(select(func.count()).select_from(Member)
                                   .where(Member.image_id == image_id)) or 0
            limit = self.images.conf.get("image", "image_member_quota")
            if 0 <= limit <= count:
                raise errors.RequestEntityTooLarge(
                    f"Maximum number of members exceeded: attempted {count + 1}, "
                    f"maximum {limit}.")
            now = utcnow()
            member = Member(image_id=image_id, member_id=member_id, status="pending",
                            created_at=now, updated_at=now)
            session.add(member)
            return member_view(member)

    def update(self, ctx: RequestContext, image_id: str, member_id: str, status: str
               ) -> dict[str, Any]:
        with self.db.write() as session:
            image, mine = self.images.load(session, ctx, image_id)
            member = session.get(Member, (image_id, member_id))
            owner = ctx.is_admin or image.owner == ctx.project_id
            if member is None or not (owner or member_id == ctx.project_id):
                raise errors.NotFound(f"Member {member_id} not found for image {image_id}.")
            self.images.enforce(ctx, "modify_member", self.images.target(ctx, image, member))
            if member_id != ctx.project_id and not ctx.is_admin:
                raise errors.Forbidden("You are not permitted to modify 'status' on this "
                                       "image member.")
            member.status = status
            member.updated_at = utcnow()
            return member_view(member)

    def delete(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        with self.db.write() as session:
            self.images.owned(session, ctx, image_id, "delete_member")
            member = session.get(Member, (image_id, member_id))
            if member is None:
                raise errors.NotFound(f"Member {member_id} not found for image {image_id}.")
            session.delete(member)
