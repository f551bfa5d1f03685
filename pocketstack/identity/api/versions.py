"""Version discovery at / and /v3, as Keystone answers it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.api.service import json_response

UPDATED = "2024-04-01T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json",
                "type": "application/vnd.openstack.identity-v3+json"}]


def v3(base_url: str) -> dict[str, Any]:
    return {"id": "v3.14", "status": "stable", "updated": UPDATED,
            "links": [{"rel": "self", "href": f"{base_url}/v3/"}],
            "media-types": MEDIA_TYPES}


class Versions:
    @route("GET", "/", auth=False)
    def root(self, req: Request) -> Response:
        return json_response({"versions": {"values": [v3(req.base_url)]}}, status=300)

    @route("GET", "/v3", auth=False)
    def version(self, req: Request) -> Reply:
        return Reply({"version": v3(req.base_url)})
