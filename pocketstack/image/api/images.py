"""/v2/images: create, list, show, update (JSON patch), delete, tags and actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.image.changes import ImageChanges, parse_patch
from pocketstack.image.images import ImageManager


class Images:
    def __init__(self, images: ImageManager, changes: ImageChanges, conf: Any) -> None:
        self.images = images
        self.changes = changes
        self.conf = conf

    @route("POST", "/v2/images", status=201)
    def create(self, req: Request) -> Reply:
        image = self.images.create(req.ctx, req.json())
        headers = {"Location": f"{req.base_url}/v2/images/{image['id']}"}
        methods = self.conf.get("image", "enabled_import_methods")
        if methods:
            headers["OpenStack-image-import-methods"] = ",".join(methods)
        return Reply(image, 201, headers)

    @route("GET", "/v2/images", policy="image:get_images")
    def list(self, req: Request) -> dict[str, Any]:
        params = list(req.query.multi_items())
        images, next_marker = self.images.list(req.ctx, params)
        rest = [(k, v) for k, v in params if k != "marker"]
        body: dict[str, Any] = {"images": images, "first": "/v2/images",
                                "schema": "/v2/schemas/images"}
        if rest:
            body["first"] = f"/v2/images?{urlencode(rest)}"
        if next_marker:
            body["next"] = f"/v2/images?{urlencode([*rest, ('marker', next_marker)])}"
        return body

    @route("GET", "/v2/images/{image_id}")
    def show(self, req: Request, image_id: str) -> dict[str, Any]:
        return self.images.get(req.ctx, image_id)

    @route("PATCH", "/v2/images/{image_id}")
    def update(self, req: Request, image_id: str) -> dict[str, Any]:
        changes = parse_patch(req.headers.get("content-type", ""), req.json())
        return self.changes.update(req.ctx, image_id, changes)

    @route("DELETE", "/v2/images/{image_id}", status=204)
    def delete(self, req: Request, image_id: str) -> None:
        self.changes.delete(req.ctx, image_id)

    @route("PUT", "/v2/images/{image_id}/tags/{tag}", status=204)
    def add_tag(self, req: Request, image_id: str, tag: str) -> None:
        self.changes.add_tag(req.ctx, image_id, tag)

    @route("DELETE", "/v2/images/{image_id}/tags/{tag}", status=204)
    def delete_tag(self, req: Request, image_id: str, tag: str) -> None:
        self.changes.delete_tag(req.ctx, image_id, tag)

    @route("POST", "/v2/images/{image_id}/actions/deactivate", status=204)
    def deactivate(self, req: Request, image_id: str) -> None:
        self.changes.set_active(req.ctx, image_id, False)

    @route("POST", "/v2/images/{image_id}/actions/reactivate", status=204)
    def reactivate(self, req: Request, image_id: str) -> None:
        self.changes.set_active(req.ctx, image_id, True)
