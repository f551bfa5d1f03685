"""CORS for browsers: preflight OPTIONS and response headers, from container metadata.

A container allows origins with ``X-Container-Meta-Access-Control-Allow-Origin``
(space separated, or ``*``), and may set ``-Max-Age`` and ``-Expose-Headers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from pocketstack.object.common import meta_get

if TYPE_CHECKING:
    from pocketstack.object.store import Store

METHODS = "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
EXPOSE = ["cache-control", "content-language", "content-type", "expires", "last-modified",
          "pragma", "etag", "x-timestamp", "x-trans-id", "x-openstack-request-id"]


def allowed_origin(meta: dict[str, Any], origin: str) -> bool:
    allowed = (meta_get(meta, "Access-Control-Allow-Origin") or "").split()
    return "*" in allowed or origin in allowed


def container_meta(store: "Store", path: str) -> dict[str, Any] | None:
    parts = path.split("/", 4)
    if len(parts) < 4 or parts[1] != "v1" or not parts[3]:
        return None
    c = store.container(parts[2], parts[3])
    return dict(c.meta) if c is not None else None


def preflight(store: "Store", path: str, headers: Any) -> Response:
    origin = headers.get("origin")
    method = headers.get("access-control-request-method")
    meta = container_meta(store, path)
    if not origin or not method or meta is None or not allowed_origin(meta, origin):
        return Response("<html><h1>Unauthorized</h1><p>This server could not verify that "
                        "you are authorized to access the document you requested.</p>"
                        "</html>", status_code=401, media_type="text/html; charset=UTF-8")
    out = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": METHODS,
           "Allow": METHODS, "Vary": "Origin"}
    if headers.get("access-control-request-headers"):
        out["Access-Control-Allow-Headers"] = headers["access-control-request-headers"]
    max_age = meta_get(meta, "Access-Control-Max-Age")
    if max_age:
        out["Access-Control-Max-Age"] = max_age
    return Response(status_code=200, headers=out)


def decorate(store: "Store", path: str, headers: Any, response: Response) -> None:
    origin = headers.get("origin")
    if not origin:
        return
    meta = container_meta(store, path)
    if meta is None or not allowed_origin(meta, origin):
        return
    expose = list(EXPOSE)
    expose += [h.lower() for h in response.headers.keys()
               if h.lower().startswith(("x-object-meta-", "x-container-meta-"))]
    expose += (meta_get(meta, "Access-Control-Expose-Headers") or "").replace(",", " ").split()
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = ", ".join(dict.fromkeys(expose))
