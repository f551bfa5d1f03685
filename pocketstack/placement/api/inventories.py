"""/resource_providers/{uuid}/inventories, /resource_providers/{uuid}/usages, /usages."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.placement import common
from pocketstack.placement.api.common import (GENERATION, INVENTORY_FIELDS, RC_NAME, body,
                                              check_query, one_query)
from pocketstack.placement.manager import Placement

INVENTORY = {"type": "object", "properties": INVENTORY_FIELDS, "required": ["total"],
             "additionalProperties": False}
INVENTORIES = {"type": "object", "properties": {
    "resource_provider_generation": GENERATION,
    "inventories": {"type": "object", "patternProperties": {"^[A-Z0-9_]+$": INVENTORY},
                    "additionalProperties": False}},
    "required": ["resource_provider_generation", "inventories"], "additionalProperties": False}
ONE = {"type": "object", "properties": {**INVENTORY_FIELDS,
                                        "resource_provider_generation": GENERATION},
       "required": ["total", "resource_provider_generation"], "additionalProperties": False}
POST_ONE = {"type": "object", "properties": {**INVENTORY_FIELDS, "resource_class": RC_NAME,
                                             "resource_provider_generation": GENERATION},
            "required": ["total", "resource_class", "resource_provider_generation"],
            "additionalProperties": False}


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in INVENTORY_FIELDS}


class ProviderInventories:
    def __init__(self, placement: Placement) -> None:
        self.inv = placement.inventories

    @route("GET", "/resource_providers/{uuid}/inventories",
           policy="placement:resource_providers:inventories:list")
    def list(self, req: Request, uuid: str) -> dict[str, Any]:
        invs, gen = self.inv.list(uuid)
        return {"inventories": invs, "resource_provider_generation": gen}

    @route("PUT", "/resource_providers/{uuid}/inventories",
           policy="placement:resource_providers:inventories:update")
    def replace(self, req: Request, uuid: str) -> dict[str, Any]:
        data = body(req, INVENTORIES)
        invs, gen = self.inv.replace(uuid, data["resource_provider_generation"],
                                     data["inventories"], req.at_least("1.26"))
        return {"inventories": invs, "resource_provider_generation": gen}

    @route("POST", "/resource_providers/{uuid}/inventories", status=201,
           policy="placement:resource_providers:inventories:create")
    def create(self, req: Request, uuid: str) -> Reply:
        data = body(req, POST_ONE)
        rc = data["resource_class"]
        inv, gen = self.inv.create(uuid, data["resource_provider_generation"], rc,
                                   _fields(data), req.at_least("1.26"))
        return Reply({**inv, "resource_provider_generation": gen}, 201,
                     {"Location": f"{req.base_url}/resource_providers/{uuid}/inventories/{rc}"})

    @route("DELETE", "/resource_providers/{uuid}/inventories", status=204, min_version="1.5",
           policy="placement:resource_providers:inventories:delete")
    def delete_all(self, req: Request, uuid: str) -> None:
        self.inv.delete_all(uuid)

    @route("GET", "/resource_providers/{uuid}/inventories/{rc}",
           policy="placement:resource_providers:inventories:show")
    def show(self, req: Request, uuid: str, rc: str) -> dict[str, Any]:
        inv, gen = self.inv.get(uuid, rc)
        return {**inv, "resource_provider_generation": gen}

    @route("PUT", "/resource_providers/{uuid}/inventories/{rc}",
           policy="placement:resource_providers:inventories:update")
    def update(self, req: Request, uuid: str, rc: str) -> dict[str, Any]:
        data = body(req, ONE)
        inv, gen = self.inv.update(uuid, data["resource_provider_generation"], rc,
                                   _fields(data), req.at_least("1.26"))
        return {**inv, "resource_provider_generation": gen}

    @route("DELETE", "/resource_providers/{uuid}/inventories/{rc}", status=204,
           policy="placement:resource_providers:inventories:delete")
    def delete(self, req: Request, uuid: str, rc: str) -> None:
        self.inv.delete(uuid, rc)


class Usages:
    def __init__(self, placement: Placement) -> None:
        self.p = placement

    @route("GET", "/resource_providers/{uuid}/usages",
           policy="placement:resource_providers:usages")
    def provider(self, req: Request, uuid: str) -> dict[str, Any]:
        usages, gen = self.p.inventories.provider_usages(uuid)
        return {"usages": usages, "resource_provider_generation": gen}

    @route("GET", "/usages", min_version="1.9")
    def project(self, req: Request) -> dict[str, Any]:
        allowed = {"project_id", "user_id"} | ({"consumer_type"} if req.at_least("1.38")
                                               else set())
        check_query(req, allowed)
        project_id = one_query(req, "project_id")
        if not project_id:
            raise common.bad_request("Invalid query string parameters: 'project_id' is a "
                                     "required property", common.QUERY_MISSING_VALUE)
        req.enforce("placement:usages", {"project_id": project_id,
                                         "user_id": one_query(req, "user_id")})
        usages = self.p.allocations.usages(project_id, one_query(req, "user_id"),
                                           one_query(req, "consumer_type"),
                                           by_type=req.at_least("1.38"))
        return {"usages": usages}
