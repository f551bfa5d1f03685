"""Version discovery: ``/`` (300 Multiple Choices) and ``/v3/`` (200), as Cinder answers."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.service import json_response
from pocketstack.volume.common import MAX_VERSION

UPDATED = "2023-08-31T00:00:00Z"


def v3(base_url: str) -> dict[str, Any]:
    return {"id": "v3.0", "status": "CURRENT", "version": MAX_VERSION, "min_version": "3.0",
            "updated": UPDATED,
            "links": [{"rel": "describedby", "type": "text/html",
                       "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": f"{base_url}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


class Versions:
    @route("GET", "/", auth=False)
    def root(self, req: Request) -> Response:
        return json_response({"versions": [v3(req.base_url)]}, status=300)

    @route("GET", "/v3", auth=False)
    def version(self, req: Request) -> dict[str, Any]:
        return {"versions": [v3(req.base_url)]}
