"""/v2/images/{image_id}/locations (Glance 2.17's location API)."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.image.location_import import LocationImport


class ImageLocations:
    def __init__(self, manager: LocationImport) -> None:
        self.m = manager

    @route("POST", "/v2/images/{image_id}/locations", status=202,
           policy="image:add_image_location")
    def add(self, req: Request, image_id: str) -> None:
        self.m.add(req.ctx, image_id, req.json())

    @route("GET", "/v2/images/{image_id}/locations", policy="image:fetch_image_location")
    def list(self, req: Request, image_id: str) -> Any:
        return self.m.list(req.ctx, image_id)
