"""Placement on port 8778 (catalog URL http://HOST:8778, versions at /)."""

from __future__ import annotations

from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.context import current
from pocketstack.api.service import Microversions, Service, json_response
from pocketstack.placement import common, options, policies  # noqa: F401  (registers)
from pocketstack.placement.api.allocations import Allocations, Reshaper
from pocketstack.placement.api.candidates import AllocationCandidates
from pocketstack.placement.api.catalog import ResourceClasses, Traits
from pocketstack.placement.api.inventories import ProviderInventories, Usages
from pocketstack.placement.api.providers import ResourceProviders
from pocketstack.placement.api.root import MAX_VERSION, MIN_VERSION, Root
from pocketstack.placement.manager import Placement

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


class PlacementService(Service):
    name = "placement"
    catalog_type = "placement"
    catalog_name = "placement"
    description = "Placement Service"
    port = 8778
    version_path = ""
    microversions = Microversions("placement", MIN_VERSION, MAX_VERSION, prefix="/")
    request_id_headers = ("openstack-request-id", "x-openstack-request-id")

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        conf = cloud.conf
        self.placement = Placement(
            cloud.db, randomize=conf.get("placement", "randomize_allocation_candidates"),
            max_candidates=conf.get("placement", "max_allocation_candidates"))
        p = self.placement
        for resource in (Root(), ResourceProviders(p), ProviderInventories(p), Usages(p),
                         ResourceClasses(p), Traits(p), Allocations(p),
                         AllocationCandidates(p), Reshaper(p)):
            self.router.include(resource)

    def start(self) -> None:
        self.placement.catalog.seed()

    async def _dispatch(self, raw: Any, ctx: Any) -> tuple[Response, tuple[int, int] | None]:
        response, version = await super()._dispatch(raw, ctx)
        # 1.15: cache headers on successful GETs (Placement's Last-Modified is "now" for
        # documents that are not a single stored object)
        if version is not None and version >= (1, 15) and raw.method in ("GET", "HEAD") \
                and response.status_code == 200:
            response.headers["cache-control"] = "no-cache"
            response.headers["last-modified"] = formatdate(usegmt=True)
        return response, version

    def render_error(self, exc: errors.ApiError) -> Response:
        ctx = current.get()
        entry = {"status": exc.code, "title": exc.title, "detail": exc.message,
                 "code": exc.extra.get("code", common.UNDEFINED),
                 "request_id": ctx.request_id if ctx else None}
        if exc.code == 406:
            entry.update(min_version=MIN_VERSION, max_version=MAX_VERSION)
        return json_response({"errors": [entry]}, status=exc.code, headers=exc.headers)
