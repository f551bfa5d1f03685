"""Rendering helpers shared by the identity API modules."""

from __future__ import annotations

from typing import Any, Iterable

from pocketstack.api.request import Request
from pocketstack.identity.common import truthy


def link(req: Request, path: str) -> dict[str, str]:
    return {"self": f"{req.base_url}/v3/{path}"}


def one(req: Request, key: str, collection: str, entity: dict[str, Any]) -> dict[str, Any]:
    return {key: {**entity, "links": link(req, f"{collection}/{entity['id']}")}}


def many(req: Request, key: str, collection: str, entities: Iterable[dict[str, Any]],
         truncated: bool = False) -> dict[str, Any]:
    items = [{**e, "links": link(req, f"{collection}/{e['id']}")} for e in entities]
    body: dict[str, Any] = {key: items, "links": {"self": req.url, "previous": None,
                                                  "next": None}}
    if truncated:
        body["truncated"] = True
    return body


def filters(req: Request, names: Iterable[str], booleans: Iterable[str] = ("enabled",)
            ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        if name in req.query:
            value = req.query[name]
            out[name] = truthy(value) if name in booleans else value
    return out
