"""/allocations, /resource_providers/{uuid}/allocations."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.placement import common
from pocketstack.placement.allocations import NO_CHECK, ConsumerRequest
from pocketstack.placement.api.common import GENERATION, UUID, body
from pocketstack.placement.api.inventories import INVENTORY
from pocketstack.placement.manager import Placement

RESOURCES = {"type": "object", "minProperties": 1,
             "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer", "minimum": 1,
                                                     "maximum": common.MAX_INT}},
             "additionalProperties": False}
ID = {"type": "string", "minLength": 1, "maxLength": 255}
CONSUMER_TYPE = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}


def _dict_schema(v: tuple[int, int], empty_ok: bool) -> dict[str, Any]:
    """One consumer's allocations in the 1.12+ dict format."""
    props: dict[str, Any] = {
        "allocations": {"type": "object", "minProperties": 0 if empty_ok else 1,
                        "patternProperties": {"^.+$": {
                            "type": "object", "properties": {"resources": RESOURCES,
                                                             "generation": {}},
                            "required": ["resources"], "additionalProperties": False}},
                        "additionalProperties": False},
        "project_id": ID, "user_id": ID}
    required = ["allocations", "project_id", "user_id"]
    if v >= (1, 28):
        props["consumer_generation"] = {"type": ["integer", "null"]}
        required.append("consumer_generation")
    if v >= (1, 38):
        props["consumer_type"] = CONSUMER_TYPE
        required.append("consumer_type")
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def _list_schema(v: tuple[int, int]) -> dict[str, Any]:
    item = {"type": "object", "properties": {
        "resource_provider": {"type": "object", "properties": {"uuid": UUID},
                              "required": ["uuid"], "additionalProperties": False},
        "resources": RESOURCES}, "required": ["resource_provider", "resources"],
        "additionalProperties": False}
    props: dict[str, Any] = {"allocations": {"type": "array", "minItems": 1, "items": item}}
    required = ["allocations"]
    if v >= (1, 8):
        props.update(project_id=ID, user_id=ID)
        required += ["project_id", "user_id"]
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def _request(consumer: str, data: dict[str, Any], v: tuple[int, int]) -> ConsumerRequest:
    if v >= (1, 12):
        allocs = {u: dict(a["resources"]) for u, a in data["allocations"].items()}
    else:
        allocs = {}
        for a in data["allocations"]:
            u = a["resource_provider"]["uuid"]
            allocs.setdefault(u, {}).update(a["resources"])
    return ConsumerRequest(consumer, allocs, data.get("project_id"), data.get("user_id"),
                           data.get("consumer_generation") if v >= (1, 28) else NO_CHECK,
                           data.get("consumer_type"))


class Allocations:
    def __init__(self, placement: Placement) -> None:
        self.allocs = placement.allocations

    @route("GET", "/allocations/{consumer}", policy="placement:allocations:list")
    def show(self, req: Request, consumer: str) -> dict[str, Any]:
        data = self.allocs.for_consumer(consumer)
        out: dict[str, Any] = {"allocations": data["allocations"]}
        if req.at_least("1.12") and "project_id" in data:
            out.update(project_id=data["project_id"], user_id=data["user_id"])
        if req.at_least("1.28") and "consumer_generation" in data:
            out["consumer_generation"] = data["consumer_generation"]
        if req.at_least("1.38") and "consumer_generation" in data:
            out["consumer_type"] = data["consumer_type"] or "unknown"
        return out

    @route("PUT", "/allocations/{consumer}", status=204, policy="placement:allocations:update")
    def update(self, req: Request, consumer: str) -> None:
        if not common.is_uuid(consumer):
            raise common.bad_request(f"Malformed consumer_uuid: {consumer}")
        v = req.version or (1, 0)
        schema = _dict_schema(v, v >= (1, 28)) if v >= (1, 12) else _list_schema(v)
        data = body(req, schema)
        self.allocs.set([_request(consumer, data, v)])

    @route("POST", "/allocations", status=204, min_version="1.13",
           policy="placement:allocations:manage")
    def manage(self, req: Request) -> None:
        v = req.version or (1, 0)
        one = _dict_schema(v, True)
        data = body(req, {"type": "object", "minProperties": 1,
                          "patternProperties": {"^[0-9a-fA-F-]{32,36}$": one},
                          "additionalProperties": False})
        self.allocs.set([_request(c, d, v) for c, d in data.items()])

    @route("DELETE", "/allocations/{consumer}", status=204,
           policy="placement:allocations:delete")
    def delete(self, req: Request, consumer: str) -> None:
        self.allocs.delete(consumer)

    @route("GET", "/resource_providers/{uuid}/allocations",
           policy="placement:resource_providers:allocations:list")
    def provider(self, req: Request, uuid: str) -> dict[str, Any]:
        allocs, gen = self.allocs.for_provider(uuid)
        return {"allocations": allocs, "resource_provider_generation": gen}


class Reshaper:
    def __init__(self, placement: Placement) -> None:
        self.p = placement

    @route("POST", "/reshaper", status=204, min_version="1.30",
           policy="placement:reshaper:reshape")
    def reshape(self, req: Request) -> None:
        v = req.version or (1, 30)
        per_provider = {"type": "object", "properties": {
            "resource_provider_generation": GENERATION,
            "inventories": {"type": "object",
                            "patternProperties": {"^[A-Z0-9_]+$": INVENTORY},
                            "additionalProperties": False}},
            "required": ["resource_provider_generation", "inventories"],
            "additionalProperties": False}
        data = body(req, {"type": "object", "properties": {
            "inventories": {"type": "object", "patternProperties": {"^.+$": per_provider}},
            "allocations": {"type": "object",
                            "patternProperties": {"^.+$": _dict_schema(v, True)}}},
            "required": ["inventories", "allocations"], "additionalProperties": False})
        invs = {u: (d["resource_provider_generation"], d["inventories"])
                for u, d in data["inventories"].items()}
        self.p.reshape(invs, [_request(c, d, v) for c, d in data["allocations"].items()])
