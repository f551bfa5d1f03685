"""Static websites from containers (Swift's staticweb): index pages, listings, error pages.

Applies to anonymous requests (and to ``X-Web-Mode: true`` ones) on containers that
set ``X-Container-Meta-Web-Index`` or ``-Web-Listings`` and are publicly readable.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.object.common import listing_params, meta_get, truthy

if TYPE_CHECKING:
    from pocketstack.api.request import Request
    from pocketstack.object.api.objects import Objects
    from pocketstack.object.models import Container


def web_mode(req: "Request", c: "Container") -> bool:
    if req.method not in ("GET", "HEAD"):
        return False
    if req.ctx.is_authenticated and not truthy(req.headers.get("x-web-mode")):
        return False
    return bool(meta_get(c.meta, "Web-Index") or truthy(meta_get(c.meta, "Web-Listings")))


def serve(objects: "Objects", req: "Request", account: str, c: "Container", path: str
          ) -> Response:
    """GET of ``path`` ("" for the container itself, or a pseudo-directory or object)."""
    index = meta_get(c.meta, "Web-Index")
    url_path = req.raw.url.path
    if (path == "" or path.endswith("/")) and not url_path.endswith("/"):
        return Response(status_code=301, headers={"Location": url_path + "/"})
    if path == "" or path.endswith("/"):
        if index and objects.store.get_object(c, path + index) is not None:
            return objects.get_object(req, account, c, path + index)
        if truthy(meta_get(c.meta, "Web-Listings")):
            return listing(objects, req, c, path)
        return error_page(objects, req, account, c, 404)
    if objects.store.get_object(c, path) is not None:
        return objects.get_object(req, account, c, path)
    if index and objects.store.list_objects(c, {**listing_params({}), "prefix": path + "/",
                                                "limit": 1}):
        return Response(status_code=301, headers={"Location": url_path + "/"})
    return error_page(objects, req, account, c, 404)


def error_page(objects: "Objects", req: "Request", account: str, c: "Container",
               status: int) -> Response:
    name = meta_get(c.meta, "Web-Error")
    if name and objects.store.get_object(c, f"{status}{name}") is not None:
        page = objects.get_object(req, account, c, f"{status}{name}")
        page.status_code = status
        return page
    raise errors.NotFound()


def listing(objects: "Objects", req: "Request", c: "Container", prefix: str) -> Response:
    rows: list[Any] = objects.store.list_objects(
        c, {**listing_params({}), "prefix": prefix, "delimiter": "/"})
    if not rows and prefix:
        raise errors.NotFound()
    css = meta_get(c.meta, "Web-Listings-Css")
    title = escape(f"Listing of {req.raw.url.path}")
    out = ['<!DOCTYPE html>', f"<html><head><title>{title}</title>"]
    if css:
        out.append(f'<link rel="stylesheet" type="text/css" href="{escape(css)}" />')
    out.append(f'</head><body><h1 id="title">{title}</h1><table id="listing">'
               '<tr><th class="colname">Name</th><th class="colsize">Size</th>'
               '<th class="coldate">Date</th></tr>')
    if prefix:
        out.append('<tr id="parent" class="item"><td class="colname"><a href="../">../</a>'
                   '</td><td class="colsize">&nbsp;</td><td class="coldate">&nbsp;</td></tr>')
    for row in rows:
        name = row["subdir"] if isinstance(row, dict) else row.name
        short = name[len(prefix):]
        size = "&nbsp;" if isinstance(row, dict) else str(row.size)
        out.append(f'<tr class="item"><td class="colname"><a href="{quote(short)}">'
                   f'{escape(short)}</a></td><td class="colsize">{size}</td>'
                   '<td class="coldate">&nbsp;</td></tr>')
    out.append("</table></body></html>")
    return Response("\n".join(out), media_type="text/html; charset=UTF-8")
