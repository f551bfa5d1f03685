"""User messages (3.3+): why asynchronous work failed (see :mod:`pocketstack.volume.worker`).

Members see their project's messages, admins everyone's (``all_tenants``); messages expire
after ``MESSAGE_TTL`` (Cinder's ``guaranteed_until``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.db import utcnow
from pocketstack.volume import common
from pocketstack.volume.common import vroute
from pocketstack.volume.models import Message

FILTERS = ("resource_uuid", "resource_type", "event_id", "request_id", "message_level")


def message_view(m: Message, base_url: str) -> dict[str, Any]:
    return {"id": m.id, "event_id": m.event_id, "user_message": m.user_message,
            "message_level": m.message_level, "resource_type": m.resource_type,
            "resource_uuid": m.resource_uuid, "request_id": m.request_id,
            "created_at": common.iso(m.created_at), "guaranteed_until": common.iso(m.expires_at),
            "links": [{"rel": "self", "href": f"{base_url}/v3/messages/{m.id}"},
                      {"rel": "bookmark", "href": f"{base_url}/messages/{m.id}"}]}


class MessagesApi:
    def __init__(self, db: Any) -> None:
        self.db = db

    def _find(self, s: Any, req: Request, message_id: str) -> Message:
        m = s.get(Message, message_id)
        if m is None or m.expires_at < utcnow() or not (
                req.ctx.is_admin or m.project_id == req.ctx.project_id):
            raise errors.NotFound(f"Message {message_id} could not be found.")
        return m

    @vroute("GET", "/messages", policy="message:get_all", min_version="3.3")
    def list(self, req: Request) -> dict[str, Any]:
        q = select(Message).where(Message.expires_at >= utcnow())
        if not (req.ctx.is_admin and common.as_bool(req.query.get("all_tenants", False),
                                                   "all_tenants")):
            q = q.where(Message.project_id == req.ctx.project_id)
        for key in FILTERS:
            if req.query.get(key):
                q = q.where(getattr(Message, key) == req.query[key])
        with self.db.read() as s:
            rows = s.scalars(q.order_by(Message.created_at.desc())).all()
            return {"messages": [message_view(m, req.base_url) for m in rows]}

    @vroute("GET", "/messages/{message_id}", policy="message:get", min_version="3.3")
    def show(self, req: Request, message_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return {"message": message_view(self._find(s, req, message_id), req.base_url)}

    @vroute("DELETE", "/messages/{message_id}", status=204, policy="message:delete",
            min_version="3.3")
    def delete(self, req: Request, message_id: str) -> None:
        with self.db.write() as s:
            s.execute(delete(Message).where(
                Message.id == self._find(s, req, message_id).id))
