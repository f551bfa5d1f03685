"""/os-aggregates."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import obj, validate, wrapped
from pocketstack.compute.api import views

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-aggregates:"
_NAME = {"type": "string", "minLength": 1, "maxLength": 255,
         "pattern": r"^(?![\s])[\s\S]*(?<![\s])$"}
_AZ = {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
       "pattern": r"^[^:]*$"}
_CREATE = wrapped("aggregate", obj({"name": _NAME, "availability_zone": _AZ}, ["name"],
                                   additional=False))
_UPDATE = wrapped("aggregate", {**obj({"name": _NAME, "availability_zone": _AZ},
                                      additional=False), "minProperties": 1})
_HOST = obj({"host": {"type": "string", "minLength": 1, "maxLength": 255}}, ["host"],
            additional=False)
_META = obj({"metadata": {"type": "object", "patternProperties": {
    r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "null"], "maxLength": 255}},
    "additionalProperties": False}}, ["metadata"], additional=False)


_IMAGES = obj({"cache": {"type": "array", "minItems": 1, "items": obj(
    {"id": {"type": "string", "minLength": 1, "maxLength": 255}}, ["id"], additional=False)}},
    ["cache"], additional=False)
LOG = logging.getLogger(__name__)


class Aggregates:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.aggregates = svc.aggregates

    @staticmethod
    def view(req: Request, agg: Any) -> dict[str, Any]:
        md = dict(agg.aggregate_metadata or {})
        out = {"id": agg.id, "name": agg.name, "availability_zone": md.get("availability_zone"),
               "hosts": list(agg.hosts or []), "metadata": md,
               "created_at": views.iso_us(agg.created_at),
               "updated_at": views.iso_us(agg.updated_at), "deleted": False,
               "deleted_at": None}
        if req.at_least("2.41"):
            out["uuid"] = agg.uuid
        return out

    @route("GET", "/v2.1/os-aggregates", policy=f"{P}index")
    def index(self, req: Request) -> dict[str, Any]:
        return {"aggregates": [self.view(req, a) for a in self.aggregates.list()]}

    @route("POST", "/v2.1/os-aggregates", policy=f"{P}create")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(_CREATE, req.json())["aggregate"]
        agg = self.aggregates.create(body["name"], body.get("availability_zone"))
        view = self.view(req, agg)
        for key in ("hosts", "metadata"):  # Nova's create reply has neither
            view.pop(key, None)
        return {"aggregate": view}

    @route("GET", "/v2.1/os-aggregates/{aggregate_id}", policy=f"{P}show")
    def show(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        return {"aggregate": self.view(req, self.aggregates.get(aggregate_id))}

    @route("PUT", "/v2.1/os-aggregates/{aggregate_id}", policy=f"{P}update")
    def update(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        body = validate(_UPDATE, req.json())["aggregate"]
        agg = self.aggregates.update(aggregate_id, body.get("name"),
                                     body.get("availability_zone"),
                                     "availability_zone" in body)
        return {"aggregate": self.view(req, agg)}

    @route("DELETE", "/v2.1/os-aggregates/{aggregate_id}", status=200, policy=f"{P}delete")
    def delete(self, req: Request, aggregate_id: str) -> Any:
        from starlette.responses import Response

        self.aggregates.delete(aggregate_id)
        return Response(status_code=200)

    @route("POST", "/v2.1/os-aggregates/{aggregate_id}/action")
    def action(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("Malformed request body: one action expected")
        name, args = next(iter(body.items()))
        if name == "add_host":
            req.enforce(f"{P}add_host")
            agg = self.aggregates.add_host(aggregate_id, validate(_HOST, args)["host"])
        elif name == "remove_host":
            req.enforce(f"{P}remove_host")
            agg = self.aggregates.remove_host(aggregate_id, validate(_HOST, args)["host"])
        elif name == "set_metadata":
            req.enforce(f"{P}set_metadata")
            agg = self.aggregates.set_metadata(aggregate_id,
                                               validate(_META, args)["metadata"])
        else:
            raise errors.BadRequest(f"There is no such action: {name}")
        return {"aggregate": self.view(req, agg)}

    @route("POST", "/v2.1/os-aggregates/{aggregate_id}/images", status=202,
           min_version="2.81", policy="compute:aggregates:images")
    def images(self, req: Request, aggregate_id: str) -> None:
        """Pre-cache images on the aggregate's hosts (2.81): accepted now, fetched in the
        background; an image that cannot be fetched is logged, as Nova's conductor does."""
        if not aggregate_id.isdigit():
            raise errors.BadRequest(f"Invalid input for field/attribute id. Value: "
                                    f"{aggregate_id}. id must be an integer")
        ids = [i["id"] for i in validate(_IMAGES, req.json())["cache"]]
        if len(set(ids)) != len(ids):
            raise errors.BadRequest("Duplicate images in request")
        agg = self.aggregates.get(aggregate_id)
        if agg.hosts:  # the hosts share one cache (DATA_DIR/instances/_base)
            self.svc.tasks.submit(self._cache, list(agg.hosts), ids)

    def _cache(self, hosts: list[str], image_ids: list[str]) -> None:
        from pocketstack.compute.imagecache import ImageFetchError, image_cache

        cache = image_cache(self.svc.cloud)
        for image_id in image_ids:
            try:
                cache.fetch(image_id)
                LOG.info("image %s cached for hosts %s", image_id, ", ".join(hosts))
            except (ImageFetchError, OSError) as exc:
                LOG.warning("image %s could not be cached: %s", image_id, exc)
