"""/v2/tasks (the legacy tasks API, admin only) and /v2/images/{id}/tasks."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.image.data import ImageData
from pocketstack.image.images import ImageManager
from pocketstack.image.tasks import TaskManager, task_view


class Tasks:
    def __init__(self, tasks: TaskManager, images: ImageManager, data: ImageData) -> None:
        self.tasks = tasks
        self.images = images
        self.data = data

    @route("GET", "/v2/images/{image_id}/tasks")
    def image_tasks(self, req: Request, image_id: str) -> dict[str, Any]:
        self.images.get(req.ctx, image_id)  # visibility and image:get_image
        return {"tasks": self.tasks.for_image(image_id)}

    @route("GET", "/v2/tasks", policy="image:tasks_api_access")
    def list(self, req: Request) -> dict[str, Any]:
        req.enforce("image:get_tasks", {"project_id": req.ctx.project_id})
        query: dict[str, list[str]] = {}
        for key, value in req.query.multi_items():
            query.setdefault(key, []).append(value)
        return self.tasks.list(req.ctx, query)

    @route("POST", "/v2/tasks", status=201, policy="image:tasks_api_access")
    def create(self, req: Request) -> Reply:
        req.enforce("image:add_task", {"project_id": req.ctx.project_id})
        task = self.tasks.create(req.ctx, req.json())
        self.data.run_task_import(req.ctx, task.id, task.input)
        return Reply(task_view(task), 201,
                     {"Location": f"{req.base_url}/v2/tasks/{task.id}"})

    @route("GET", "/v2/tasks/{task_id}", policy="image:tasks_api_access")
    def show(self, req: Request, task_id: str) -> dict[str, Any]:
        req.enforce("image:get_task", {"project_id": req.ctx.project_id})
        return self.tasks.show(req.ctx, task_id)

    @route("DELETE", "/v2/tasks/{task_id}", policy="image:tasks_api_access")
    def delete(self, req: Request, task_id: str) -> None:
        raise errors.MethodNotAllowed(
            "This operation is currently not permitted on Glance Tasks. They are auto "
            "deleted after reaching the time based on their expires_at property.",
            headers={"Allow": "GET"})
