"""/resource_classes and /traits."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.placement import common
from pocketstack.placement.api.common import body, check_query, one_query
from pocketstack.placement.manager import Placement

CUSTOM = {"type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}


def rc_body(name: str) -> dict[str, Any]:
    return {"name": name, "links": [{"rel": "self", "href": f"/resource_classes/{name}"}]}


class ResourceClasses:
    def __init__(self, placement: Placement) -> None:
        self.catalog = placement.catalog

    @route("GET", "/resource_classes", min_version="1.2",
           policy="placement:resource_classes:list")
    def list(self, req: Request) -> dict[str, Any]:
        return {"resource_classes": [rc_body(n) for n in self.catalog.list_classes()]}

    @route("POST", "/resource_classes", status=201, min_version="1.2",
           policy="placement:resource_classes:create")
    def create(self, req: Request) -> Reply:
        data = body(req, {"type": "object", "properties": {"name": CUSTOM},
                          "required": ["name"], "additionalProperties": False})
        self.catalog.create_class(data["name"])
        return Reply(None, 201, {"Location": f"{req.base_url}/resource_classes/{data['name']}"})

    @route("GET", "/resource_classes/{name}", min_version="1.2",
           policy="placement:resource_classes:show")
    def show(self, req: Request, name: str) -> dict[str, Any]:
        if not self.catalog.class_exists(name):
            raise common.not_found(f"No such resource class {name}.")
        return rc_body(name)

    @route("PUT", "/resource_classes/{name}", min_version="1.2",
           policy="placement:resource_classes:update")
    def update(self, req: Request, name: str) -> Reply:
        if req.at_least("1.7"):
            if not common.TRAIT_NAME.match(name) or not name.startswith("CUSTOM_"):
                raise common.bad_request(f"Invalid resource class name {name}: it must "
                                         "start with CUSTOM_.")
            created = self.catalog.create_class(name, exist_ok=True)
            return Reply(None, 201 if created else 204,
                         {"Location": f"{req.base_url}/resource_classes/{name}"})
        data = body(req, {"type": "object", "properties": {"name": CUSTOM},
                          "required": ["name"], "additionalProperties": False})
        self.catalog.rename_class(name, data["name"])
        return Reply(rc_body(data["name"]), 200)

    @route("DELETE", "/resource_classes/{name}", status=204, min_version="1.2",
           policy="placement:resource_classes:delete")
    def delete(self, req: Request, name: str) -> None:
        self.catalog.delete_class(name)


class Traits:
    def __init__(self, placement: Placement) -> None:
        self.catalog = placement.catalog

    @route("GET", "/traits", min_version="1.6", policy="placement:traits:list")
    def list(self, req: Request) -> dict[str, Any]:
        check_query(req, {"name", "associated"})
        name = one_query(req, "name")
        name_in = startswith = None
        if name is not None:
            if name.startswith("in:"):
                name_in = [n.strip() for n in name[3:].split(",") if n.strip()]
            elif name.startswith("startswith:"):
                startswith = name[len("startswith:"):]
            else:
                raise common.bad_request(f"Badly formatted name parameter. Expected name "
                                         f"query string parameter in form: "
                                         f"?name=[in|startswith]:[name1,name2|prefix]. "
                                         f"Got: \"{name}\"", common.QUERY_BAD_VALUE)
        associated = one_query(req, "associated")
        assoc: bool | None = None
        if associated is not None:
            if associated.lower() not in ("true", "false"):
                raise common.bad_request("Invalid query string parameters: 'associated' "
                                         "must be true or false", common.QUERY_BAD_VALUE)
            assoc = associated.lower() == "true"
        return {"traits": self.catalog.list_traits(name_in, startswith, assoc)}

    @route("GET", "/traits/{name}", status=204, min_version="1.6",
           policy="placement:traits:show")
    def show(self, req: Request, name: str) -> None:
        if not self.catalog.trait_exists(name):
            raise common.not_found(f"No such trait(s): {name}.")

    @route("PUT", "/traits/{name}", min_version="1.6", policy="placement:traits:update")
    def create(self, req: Request, name: str) -> Reply:
        if not name.startswith("CUSTOM_") or not common.TRAIT_NAME.match(name):
            raise common.bad_request(f"The trait is invalid. A valid trait must be no longer "
                                     f"than 255 characters, start with the prefix "
                                     f"\"CUSTOM_\" and use following characters: \"A\"-\"Z\", "
                                     f"\"0\"-\"9\" and \"_\"")
        created = self.catalog.create_trait(name)
        return Reply(None, 201 if created else 204,
                     {"Location": f"{req.base_url}/traits/{name}"})

    @route("DELETE", "/traits/{name}", status=204, min_version="1.6",
           policy="placement:traits:delete")
    def delete(self, req: Request, name: str) -> None:
        self.catalog.delete_trait(name)
