"""Version discovery at / and /v2.1."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route


class Versions:
    def __init__(self, max_version: str) -> None:
        self.max_version = max_version

    def _v21(self, req: Request) -> dict[str, Any]:
        return {"id": "v2.1", "status": "CURRENT", "version": self.max_version,
                "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{req.base_url}/v2.1/"}]}

    @staticmethod
    def _v20(req: Request) -> dict[str, Any]:
        return {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
                "updated": "2011-01-21T11:33:21Z",
                "links": [{"rel": "self", "href": f"{req.base_url}/v2/"}]}

    @route("GET", "/", auth=False)
    def root(self, req: Request) -> dict[str, Any]:
        return {"versions": [self._v20(req), self._v21(req)]}

    @staticmethod
    def _detail(body: dict[str, Any], media: str) -> dict[str, Any]:
        body["links"].append({"rel": "describedby", "type": "text/html",
                              "href": "http://docs.openstack.org/"})
        body["media-types"] = [{"base": "application/json",
                                "type": f"application/vnd.openstack.compute+json;version={media}"}]
        return {"version": body}

    @route("GET", "/v2.1", auth=False)
    def v21(self, req: Request) -> dict[str, Any]:
        return self._detail(self._v21(req), "2.1")

    @route("GET", "/v2", auth=False)
    def v20(self, req: Request) -> dict[str, Any]:
        """The legacy v2.0 document (its link is listed at /); the API itself is v2.1's."""
        return self._detail(self._v20(req), "2")
