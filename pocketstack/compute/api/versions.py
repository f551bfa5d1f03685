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

    @route("GET", "/", auth=False)
    def root(self, req: Request) -> dict[str, Any]:
        v20 = {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
               "updated": "2011-01-21T11:33:21Z",
               "links": [{"rel": "self", "href": f"{req.base_url}/v2/"}]}
        return {"versions": [v20, self._v21(req)]}

    @route("GET", "/v2.1", auth=False)
    def v21(self, req: Request) -> dict[str, Any]:
        body = self._v21(req)
        body["links"].append({"rel": "describedby", "type": "text/html",
                              "href": "http://docs.openstack.org/"})
        body["media-types"] = [{"base": "application/json",
                                "type": "application/vnd.openstack.compute+json;version=2.1"}]
        return {"version": body}
