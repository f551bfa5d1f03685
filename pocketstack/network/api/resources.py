"""The CRUD routes every Neutron collection shares, generated per resource kind."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pocketstack.api.context import RequestContext
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import Route, Router
from pocketstack.network.common import Kind, Query, bad_request
from pocketstack.network.manager import Networking

# URL path of each collection (Neutron uses dashes in a few of them).
PATHS = {"networks": "networks", "subnets": "subnets", "subnetpools": "subnetpools",
         "ports": "ports", "routers": "routers", "floatingips": "floatingips",
         "security_groups": "security-groups", "security_group_rules": "security-group-rules",
         "rbac_policies": "rbac-policies"}
TAGGABLE = ("networks", "subnets", "subnetpools", "ports", "routers", "floatingips",
            "security_groups")
BULK = ("networks", "subnets", "ports", "security_group_rules")
WRITE = "network:write"


class Collection:
    """list/create/show/update/delete (+ tags) of one kind."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.path = f"/v2.0/{PATHS[kind.collection]}"

    def install(self, router: Router) -> None:
        p = self.path
        router.add(Route("GET", p, self.list))
        router.add(Route("POST", p, self.create, status=201, policy=WRITE))
        router.add(Route("GET", p + "/{id}", self.show))
        router.add(Route("PUT", p + "/{id}", self.update, policy=WRITE))
        router.add(Route("DELETE", p + "/{id}", self.delete, status=204, policy=WRITE))
        if self.kind.collection in TAGGABLE:
            router.add(Route("GET", p + "/{id}/tags", self.get_tags))
            router.add(Route("PUT", p + "/{id}/tags", self.put_tags, policy=WRITE))
            router.add(Route("DELETE", p + "/{id}/tags", self.clear_tags, status=204,
                             policy=WRITE))
            router.add(Route("GET", p + "/{id}/tags/{tag}", self.check_tag, status=204))
            router.add(Route("PUT", p + "/{id}/tags/{tag}", self.add_tag, status=201,
                             policy=WRITE))
            router.add(Route("DELETE", p + "/{id}/tags/{tag}", self.remove_tag, status=204,
                             policy=WRITE))

    # -- handlers -------------------------------------------------------------
    def list(self, req: Request) -> dict[str, Any]:
        query = Query(req.query)
        items, more = self.kind.list(req.ctx, query)
        out: dict[str, Any] = {self.kind.collection: items}
        if query.limit:
            links = []
            params = [(k, v) for k, v in req.query.multi_items()
                      if k not in ("marker", "page_reverse")]
            base = req.base_url + req.raw.url.path
            if more and items:
                links.append({"rel": "next", "href": base + "?" + urlencode(
                    params + [("marker", items[-1].get("id", ""))])})
            if query.marker and items:
                links.append({"rel": "previous", "href": base + "?" + urlencode(
                    params + [("marker", items[0].get("id", "")), ("page_reverse", "True")])})
            out[f"{self.kind.collection}_links"] = links
        out[self.kind.collection] = [query.select(i) for i in items]
        return out

    def create(self, req: Request) -> dict[str, Any]:
        body = req.json()
        member, coll = self.kind.member, self.kind.collection
        if isinstance(body, dict) and coll in body and self.kind.collection in BULK:
            items = body[coll]
            if not isinstance(items, list) or not items:
                raise bad_request(f"Resources required for bulk {coll} create",
                                  "HTTPBadRequest")
            created: list[dict[str, Any]] = []
            try:
                for item in items:
                    created.append(self.kind.create(req.ctx, dict(item) if isinstance(
                        item, dict) else item))
            except Exception:
                # all or nothing, as Neutron's bulk create: undo what was made
                for done in reversed(created):
                    self.kind.delete(RequestContext.admin(), done["id"])
                raise
            return {coll: created}
        if not isinstance(body, dict) or not isinstance(body.get(member), dict):
            raise bad_request(f"Resource body required: {{'{member}': {{...}}}}",
                              "HTTPBadRequest")
        return {member: self.kind.create(req.ctx, dict(body[member]))}

    def show(self, req: Request, id: str) -> dict[str, Any]:
        query = Query(req.query)
        return {self.kind.member: query.select(self.kind.get(req.ctx, id))}

    def update(self, req: Request, id: str) -> dict[str, Any]:
        body = req.json()
        member = self.kind.member
        if not isinstance(body, dict) or not isinstance(body.get(member), dict):
            raise bad_request(f"Resource body required: {{'{member}': {{...}}}}",
                              "HTTPBadRequest")
        return {member: self.kind.update(req.ctx, id, dict(body[member]),
                                         if_match=req.headers.get("if-match"))}

    def delete(self, req: Request, id: str) -> None:
        if req.headers.get("if-match"):
            current = self.kind.get(req.ctx, id)
            self.kind.check_revision(type("Row", (), {"revision_number": current.get(
                "revision_number")})(), req.headers["if-match"])
        self.kind.delete(req.ctx, id)

    # -- tags -----------------------------------------------------------------
    def get_tags(self, req: Request, id: str) -> dict[str, Any]:
        return {"tags": self.kind.get(req.ctx, id)["tags"]}

    def put_tags(self, req: Request, id: str) -> dict[str, Any]:
        body = req.json()
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list) or any(
                not isinstance(t, str) or not t or len(t) > 255 for t in tags):
            raise bad_request("Invalid tags body: {'tags': [string, ...]} expected",
                              "HTTPBadRequest")
        return {"tags": self.kind.set_tags(req.ctx, id, tags)}

    def clear_tags(self, req: Request, id: str) -> None:
        self.kind.set_tags(req.ctx, id, [])

    def check_tag(self, req: Request, id: str, tag: str) -> None:
        if tag not in self.kind.get(req.ctx, id)["tags"]:
            from pocketstack.api import errors

            raise errors.NotFound(f"Tag {tag} could not be found for {self.kind.member} "
                                  f"{id}.", error_type="TagNotFound")

    def add_tag(self, req: Request, id: str, tag: str) -> Reply:
        if len(tag) > 255:
            raise bad_request("Tag too long", "HTTPBadRequest")
        self.kind.set_tags(req.ctx, id, None, add=tag)
        return Reply(None, 201)

    def remove_tag(self, req: Request, id: str, tag: str) -> None:
        self.kind.set_tags(req.ctx, id, None, remove=tag)


def install_all(net: Networking, router: Router) -> None:
    for kind in net.kinds.values():
        Collection(kind).install(router)
