"""Version discovery at / and /versions, and the JSON schemas under /v2/schemas."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.image import schemas

# Glance without an image cache: v2.17 is current (no cache API, one store).
VERSIONS = [("2.17", "CURRENT"), ("2.15", "SUPPORTED"), ("2.9", "SUPPORTED")] + [
    (f"2.{n}", "SUPPORTED") for n in range(7, -1, -1)]


class Versions:
    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        href = req.base_url + "/v2/"
        return {"versions": [{"id": f"v{v}", "status": status,
                              "links": [{"rel": "self", "href": href}]}
                             for v, status in VERSIONS]}

    @route("GET", "/", auth=False)
    def root(self, req: Request) -> Reply:
        return Reply(self._body(req), status=300)

    @route("GET", "/versions", auth=False)
    def versions(self, req: Request) -> dict[str, Any]:
        return self._body(req)

    @route("GET", "/v2", auth=False)
    def v2(self, req: Request) -> Reply:
        return Reply(self._body(req), status=300)


class Schemas:
    @route("GET", "/v2/schemas/image")
    def image(self, req: Request) -> dict[str, Any]:
        return schemas.image_schema()

    @route("GET", "/v2/schemas/images")
    def images(self, req: Request) -> dict[str, Any]:
        return schemas.images_schema()

    @route("GET", "/v2/schemas/member")
    def member(self, req: Request) -> dict[str, Any]:
        return schemas.member_schema()

    @route("GET", "/v2/schemas/members")
    def members(self, req: Request) -> dict[str, Any]:
        return schemas.members_schema()
