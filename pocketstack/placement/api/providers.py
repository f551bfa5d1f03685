"""/resource_providers, their traits and aggregates."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.placement import common
from pocketstack.placement.api.common import (GENERATION, UUID, body, check_classes,
                                              check_query, one_query)
from pocketstack.placement.api.common import version as ver
from pocketstack.placement.manager import Placement
from pocketstack.placement.providers import UNSET

NAME = {"type": "string", "minLength": 1, "maxLength": 200}
PARENT = {"anyOf": [UUID, {"type": "null"}]}


def provider_body(req: Request, rp: dict[str, Any]) -> dict[str, Any]:
    v = ver(req)
    out = {"uuid": rp["uuid"], "name": rp["name"], "generation": rp["generation"],
           "links": common.provider_links(rp["uuid"], v)}
    if v >= (1, 14):
        out["parent_provider_uuid"] = rp["parent_provider_uuid"]
        out["root_provider_uuid"] = rp["root_provider_uuid"]
    return out


def parse_member_of(req: Request, key: str = "member_of"
                    ) -> list[tuple[set[str] | None, set[str]]]:
    values = req.query.getlist(key)
    if len(values) > 1 and not req.at_least("1.24"):
        raise common.bad_request("Invalid query string parameters: member_of given more than "
                                 "once.", common.QUERY_DUPLICATE_KEY)
    return [common.parse_member_of(v, req.at_least("1.32")) for v in values]


def check_traits_exist(placement: Placement, names: set[str]) -> None:
    if not names:
        return
    missing = names - set(placement.catalog.list_traits(name_in=sorted(names)))
    if missing:
        raise common.bad_request(f"Invalid query string parameters: No such trait(s): "
                                 f"{', '.join(sorted(missing))}", common.QUERY_BAD_VALUE)


def parse_required(req: Request, key: str = "required") -> tuple[list[set[str]], set[str]]:
    required: list[set[str]] = []
    forbidden: set[str] = set()
    values = req.query.getlist(key)
    if len(values) > 1 and not req.at_least("1.39"):
        raise common.bad_request(f"Invalid query string parameters: {key} given more than "
                                 "once.", common.QUERY_DUPLICATE_KEY)
    for text in values:
        r, f = common.parse_traits(text, req.at_least("1.22"), req.at_least("1.39"))
        required += r
        forbidden |= f
    return required, forbidden


class ResourceProviders:
    def __init__(self, placement: Placement) -> None:
        self.p = placement

    @route("GET", "/resource_providers", policy="placement:resource_providers:list")
    def list(self, req: Request) -> dict[str, Any]:
        allowed = {"name", "uuid"}
        for key, min_v in (("member_of", "1.3"), ("resources", "1.4"), ("in_tree", "1.14"),
                           ("required", "1.18")):
            if req.at_least(min_v):
                allowed.add(key)
        check_query(req, allowed)
        uuid = one_query(req, "uuid")
        in_tree = one_query(req, "in_tree")
        for value in (uuid, in_tree):
            if value is not None and not common.is_uuid(value):
                raise common.bad_request(f"Invalid query string parameters: '{value}' is not "
                                         "a 'uuid'", common.QUERY_BAD_VALUE)
        resources = one_query(req, "resources")
        required, forbidden = parse_required(req)
        check_traits_exist(self.p, forbidden.union(*required))
        parsed = common.parse_resources(resources) if resources else None
        check_classes(self.p, set(parsed or {}))
        rows = self.p.providers.list(
            name=one_query(req, "name"), uuid=uuid and common.normalize_uuid(uuid),
            member_of=parse_member_of(req),
            resources=parsed,
            in_tree=in_tree and common.normalize_uuid(in_tree), required=required,
            forbidden=forbidden)
        return {"resource_providers": [provider_body(req, rp) for rp in rows]}

    @route("POST", "/resource_providers", policy="placement:resource_providers:create")
    def create(self, req: Request) -> Reply:
        props: dict[str, Any] = {"name": NAME, "uuid": UUID}
        if req.at_least("1.14"):
            props["parent_provider_uuid"] = PARENT
        data = body(req, {"type": "object", "properties": props, "required": ["name"],
                          "additionalProperties": False})
        rp = self.p.providers.create(
            data["name"], uuid=data.get("uuid") and common.normalize_uuid(data["uuid"]),
            parent_uuid=data.get("parent_provider_uuid"))
        headers = {"Location": f"{req.base_url}/resource_providers/{rp['uuid']}"}
        if req.at_least("1.20"):
            return Reply(provider_body(req, rp), 200, headers)
        return Reply(None, 201, headers)

    @route("GET", "/resource_providers/{uuid}", policy="placement:resource_providers:show")
    def show(self, req: Request, uuid: str) -> dict[str, Any]:
        return provider_body(req, self.p.providers.get(uuid))

    @route("PUT", "/resource_providers/{uuid}", policy="placement:resource_providers:update")
    def update(self, req: Request, uuid: str) -> dict[str, Any]:
        props: dict[str, Any] = {"name": NAME}
        if req.at_least("1.14"):
            props["parent_provider_uuid"] = PARENT
        data = body(req, {"type": "object", "properties": props, "required": ["name"],
                          "additionalProperties": False})
        parent = data.get("parent_provider_uuid", UNSET)
        rp = self.p.providers.update(uuid, data["name"], parent,
                                     allow_reparent=req.at_least("1.37"))
        return provider_body(req, rp)

    @route("DELETE", "/resource_providers/{uuid}", status=204,
           policy="placement:resource_providers:delete")
    def delete(self, req: Request, uuid: str) -> None:
        self.p.providers.delete(uuid)

    # -- traits ---------------------------------------------------------------------
    @route("GET", "/resource_providers/{uuid}/traits", min_version="1.6",
           policy="placement:resource_providers:traits:list")
    def traits(self, req: Request, uuid: str) -> dict[str, Any]:
        traits, gen = self.p.providers.get_traits(uuid)
        return {"traits": traits, "resource_provider_generation": gen}

    @route("PUT", "/resource_providers/{uuid}/traits", min_version="1.6",
           policy="placement:resource_providers:traits:update")
    def set_traits(self, req: Request, uuid: str) -> dict[str, Any]:
        data = body(req, {"type": "object", "properties": {
            "traits": {"type": "array", "items": {"type": "string",
                                                  "pattern": "^[A-Z0-9_]+$"}},
            "resource_provider_generation": GENERATION},
            "required": ["traits", "resource_provider_generation"],
            "additionalProperties": False})
        traits, gen = self.p.providers.set_traits(uuid, data["traits"],
                                                  data["resource_provider_generation"])
        return {"traits": traits, "resource_provider_generation": gen}

    @route("DELETE", "/resource_providers/{uuid}/traits", status=204, min_version="1.6",
           policy="placement:resource_providers:traits:delete")
    def delete_traits(self, req: Request, uuid: str) -> None:
        self.p.providers.delete_traits(uuid)

    # -- aggregates -----------------------------------------------------------------
    @route("GET", "/resource_providers/{uuid}/aggregates", min_version="1.1",
           policy="placement:resource_providers:aggregates:list")
    def aggregates(self, req: Request, uuid: str) -> dict[str, Any]:
        aggs, gen = self.p.providers.get_aggregates(uuid)
        out: dict[str, Any] = {"aggregates": aggs}
        if req.at_least("1.19"):
            out["resource_provider_generation"] = gen
        return out

    @route("PUT", "/resource_providers/{uuid}/aggregates", min_version="1.1",
           policy="placement:resource_providers:aggregates:update")
    def set_aggregates(self, req: Request, uuid: str) -> dict[str, Any]:
        aggs_schema = {"type": "array", "items": UUID, "uniqueItems": True}
        if req.at_least("1.19"):
            data = body(req, {"type": "object", "properties": {
                "aggregates": aggs_schema, "resource_provider_generation": GENERATION},
                "required": ["aggregates", "resource_provider_generation"],
                "additionalProperties": False})
            aggs, gen = self.p.providers.set_aggregates(
                uuid, [common.normalize_uuid(a) for a in data["aggregates"]],
                data["resource_provider_generation"], bump=True)
            return {"aggregates": aggs, "resource_provider_generation": gen}
        data = body(req, aggs_schema)
        aggs, _ = self.p.providers.set_aggregates(
            uuid, [common.normalize_uuid(a) for a in data], None, bump=False)
        return {"aggregates": aggs}
