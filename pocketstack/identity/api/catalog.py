"""/v3/regions, /v3/services and /v3/endpoints."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.identity import schemas
from pocketstack.identity.api.common import filters, many, one
from pocketstack.identity.manager import Identity


class Regions:
    def __init__(self, identity: Identity) -> None:
        self.catalog = identity.catalog

    @route("POST", "/v3/regions", status=201, policy="identity:create_region")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.region_create, req.json())["region"]
        return one(req, "region", "regions", self.catalog.create_region(body))

    @route("PUT", "/v3/regions/{region_id}", status=201, policy="identity:create_region")
    def create_with_id(self, req: Request, region_id: str) -> dict[str, Any]:
        body = validate(schemas.region_create, req.json())["region"]
        return one(req, "region", "regions", self.catalog.create_region({**body,
                                                                          "id": region_id}))

    @route("GET", "/v3/regions", policy="identity:list_regions")
    def list(self, req: Request) -> dict[str, Any]:
        return many(req, "regions", "regions",
                    self.catalog.list_regions(filters(req, ("parent_region_id",))))

    @route("GET", "/v3/regions/{region_id}", policy="identity:get_region")
    def get(self, req: Request, region_id: str) -> dict[str, Any]:
        return one(req, "region", "regions", self.catalog.get_region(region_id))

    @route("PATCH", "/v3/regions/{region_id}", policy="identity:update_region")
    def update(self, req: Request, region_id: str) -> dict[str, Any]:
        body = validate(schemas.region_update, req.json())["region"]
        return one(req, "region", "regions", self.catalog.update_region(region_id, body))

    @route("DELETE", "/v3/regions/{region_id}", status=204, policy="identity:delete_region")
    def delete(self, req: Request, region_id: str) -> None:
        self.catalog.delete_region(region_id)


class Services:
    def __init__(self, identity: Identity) -> None:
        self.catalog = identity.catalog

    @route("POST", "/v3/services", status=201, policy="identity:create_service")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.service_create, req.json())["service"]
        return one(req, "service", "services", self.catalog.create_service(body))

    @route("GET", "/v3/services", policy="identity:list_services")
    def list(self, req: Request) -> dict[str, Any]:
        return many(req, "services", "services",
                    self.catalog.list_services(filters(req, ("type", "name"))))

    @route("GET", "/v3/services/{service_id}", policy="identity:get_service")
    def get(self, req: Request, service_id: str) -> dict[str, Any]:
        return one(req, "service", "services", self.catalog.get_service(service_id))

    @route("PATCH", "/v3/services/{service_id}", policy="identity:update_service")
    def update(self, req: Request, service_id: str) -> dict[str, Any]:
        body = validate(schemas.service_update, req.json())["service"]
        return one(req, "service", "services", self.catalog.update_service(service_id, body))

    @route("DELETE", "/v3/services/{service_id}", status=204, policy="identity:delete_service")
    def delete(self, req: Request, service_id: str) -> None:
        self.catalog.delete_service(service_id)


class Endpoints:
    def __init__(self, identity: Identity) -> None:
        self.catalog = identity.catalog

    @route("POST", "/v3/endpoints", status=201, policy="identity:create_endpoint")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.endpoint_create, req.json())["endpoint"]
        return one(req, "endpoint", "endpoints", self.catalog.create_endpoint(body))

    @route("GET", "/v3/endpoints", policy="identity:list_endpoints")
    def list(self, req: Request) -> dict[str, Any]:
        f = filters(req, ("service_id", "interface", "region_id"))
        return many(req, "endpoints", "endpoints", self.catalog.list_endpoints(f))

    @route("GET", "/v3/endpoints/{endpoint_id}", policy="identity:get_endpoint")
    def get(self, req: Request, endpoint_id: str) -> dict[str, Any]:
        return one(req, "endpoint", "endpoints", self.catalog.get_endpoint(endpoint_id))

    @route("PATCH", "/v3/endpoints/{endpoint_id}", policy="identity:update_endpoint")
    def update(self, req: Request, endpoint_id: str) -> dict[str, Any]:
        body = validate(schemas.endpoint_update, req.json())["endpoint"]
        return one(req, "endpoint", "endpoints", self.catalog.update_endpoint(endpoint_id, body))

    @route("DELETE", "/v3/endpoints/{endpoint_id}", status=204,
           policy="identity:delete_endpoint")
    def delete(self, req: Request, endpoint_id: str) -> None:
        self.catalog.delete_endpoint(endpoint_id)
