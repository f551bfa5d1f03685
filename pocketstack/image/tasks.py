"""Glance's tasks: the record of each asynchronous image import.

Every ``POST /v2/images/{id}/import`` makes an ``api_image_import`` task (listed by
``GET /v2/images/{id}/tasks``, API 2.12); the legacy tasks API (``/v2/tasks``, admin
only) creates ``import`` tasks that make an image from a URI. A task goes pending ->
processing -> success or failure, and expires 48 hours after it ends (Glance's
``task_time_to_live``); expired tasks are no longer listed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.db import Database, new_uuid, utcnow
from pocketstack.image.images import isotime
from pocketstack.image.models import Task

TIME_TO_LIVE = dt.timedelta(hours=48)
TASK_TYPES = ("import",)  # what the legacy API creates (api_image_import comes from /import)


def image_task_view(task: Task) -> dict[str, Any]:
    """A task as GET /v2/images/{id}/tasks shows it."""
    return {"id": task.id, "image_id": task.image_id, "request_id": task.request_id,
            "user_id": task.user_id, "type": task.type, "status": task.status,
            "owner": task.owner, "expires_at": isotime(task.expires_at),
            "created_at": isotime(task.created_at), "updated_at": isotime(task.updated_at),
            "deleted_at": None, "deleted": False, "input": task.input, "result": task.result,
            "message": task.message}


def task_view(task: Task, full: bool = True) -> dict[str, Any]:
    """A task as the tasks API shows it (list entries without input/result/message)."""
    body: dict[str, Any] = {"id": task.id, "type": task.type, "status": task.status,
                            "owner": task.owner, "created_at": isotime(task.created_at),
                            "updated_at": isotime(task.updated_at),
                            "self": f"/v2/tasks/{task.id}", "schema": "/v2/schemas/task"}
    if task.expires_at is not None:
        body["expires_at"] = isotime(task.expires_at)
    if full:
        body.update(input=task.input, result=task.result, message=task.message)
    return body


class TaskManager:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, session: Any, ctx: RequestContext, task_type: str, task_input: dict,
            image_id: str | None = None, status: str = "pending") -> Task:
        """Record a task in the caller's transaction."""
        task = Task(id=new_uuid(), type=task_type, status=status, owner=ctx.project_id,
                    user_id=ctx.user_id, request_id=ctx.request_id, image_id=image_id,
                    input=task_input, result=None, message="")
        if status in ("success", "failure"):
            task.expires_at = utcnow() + TIME_TO_LIVE
        session.add(task)
        return task

    def update(self, task_id: str, status: str, message: str | None = None,
               result: dict | None = None, image_id: str | None = None) -> None:
        with self.db.write() as session:
            task = session.get(Task, task_id)
            if task is None:
                return
            task.status = status
            if message is not None:
                task.message = message
            if result is not None:
                task.result = result
            if image_id is not None:
                task.image_id = image_id
            task.updated_at = utcnow()
            if status in ("success", "failure"):
                task.expires_at = task.updated_at + TIME_TO_LIVE

    # -- reads ----------------------------------------------------------------------
    @staticmethod
    def _live(now: dt.datetime) -> Any:
        return (Task.expires_at.is_(None)) | (Task.expires_at > now)

    def for_image(self, image_id: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            tasks = session.scalars(select(Task).where(
                Task.image_id == image_id, self._live(utcnow())
            ).order_by(Task.created_at, Task.id))
            return [image_task_view(t) for t in tasks]

    def show(self, ctx: RequestContext, task_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            task = session.get(Task, task_id)
            if task is None or (not ctx.is_admin and task.owner != ctx.project_id) or \
                    (task.expires_at is not None and task.expires_at <= utcnow()):
                raise errors.NotFound(f"Task with the given id {task_id} not found")
            return task_view(task)

    def list(self, ctx: RequestContext, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = 25
        if "limit" in query:
            try:
                limit = int(query["limit"][-1])
            except ValueError:
                raise errors.BadRequest("limit param must be an integer") from None
            if limit < 0:
                raise errors.BadRequest("limit param must be positive")
        sort_dir = (query.get("sort_dir") or ["desc"])[-1]
        if sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {sort_dir}")
        sort_key = (query.get("sort_key") or ["created_at"])[-1]
        if sort_key not in ("id", "type", "status", "created_at", "updated_at"):
            raise errors.BadRequest(f"Invalid sort key: {sort_key}.")
        with self.db.read() as session:
            stmt = select(Task).where(self._live(utcnow()))
            if not ctx.is_admin:
                stmt = stmt.where(Task.owner == ctx.project_id)
            for key in ("type", "status"):
                if key in query:
                    stmt = stmt.where(getattr(Task, key) == query[key][-1])
            tasks = list(session.scalars(stmt))
        tasks.sort(key=lambda t: (str(getattr(t, sort_key)), t.id),
                   reverse=sort_dir == "desc")
        marker = (query.get("marker") or [None])[-1]
        if marker is not None:
            ids = [t.id for t in tasks]
            if marker not in ids:
                raise errors.BadRequest(f"Invalid marker. Task {marker} could not be found.")
            tasks = tasks[ids.index(marker) + 1:]
        page = tasks[:limit]
        body: dict[str, Any] = {"tasks": [task_view(t, full=False) for t in page],
                                "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}
        if len(tasks) > limit and page:
            body["next"] = f"/v2/tasks?marker={page[-1].id}"
        return body

    # -- legacy create ------------------------------------------------------------------
    def create(self, ctx: RequestContext, body: Any) -> Task:
        if not isinstance(body, dict):
            raise errors.BadRequest("Body expected in request.")
        task_type, task_input = body.get("type"), body.get("input")
        if task_type not in TASK_TYPES:
            raise errors.BadRequest(f"Invalid type value: {task_type}")
        if not isinstance(task_input, dict):
            raise errors.BadRequest("Input to the task must be an object.")
        missing = [k for k in ("import_from", "import_from_format", "image_properties")
                   if k not in task_input]
        if missing:
            raise errors.BadRequest(f"Input does not contain '{missing[0]}' field")
        if not isinstance(task_input["import_from"], str) or \
                not isinstance(task_input["image_properties"], dict):
            raise errors.BadRequest("Invalid task input: import_from must be a string and "
                                    "image_properties an object.")
        extra = set(body) - {"type", "input"}
        if extra:
            raise errors.Forbidden(f"Attribute '{sorted(extra)[0]}' is read-only.")
        with self.db.write() as session:
            task = self.add(session, ctx, task_type, task_input)
            session.flush()
            session.expunge(task)
            return task
