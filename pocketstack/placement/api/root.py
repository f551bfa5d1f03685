"""GET /: Placement's version document (no token needed)."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route

MIN_VERSION = "1.0"
MAX_VERSION = "1.39"


class Root:
    @route("GET", "/", auth=False)
    def root(self, req: Request) -> dict[str, Any]:
        return {"versions": [{"id": "v1.0", "max_version": MAX_VERSION,
                              "min_version": MIN_VERSION, "status": "CURRENT",
                              "links": [{"rel": "self", "href": ""}]}]}
