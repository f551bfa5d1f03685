"""Helpers shared by the Block Storage API: routes under both URL forms, errors, paging."""

from __future__ import annotations

import datetime as dt
import functools
from urllib.parse import urlencode
from typing import Any, Callable

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route

MAX_VERSION = "3.71"


def vroute(method: str, path: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare ``/v3/{project_id}PATH`` and the project-less ``/v3PATH`` (3.67's form).

    The handler never sees the URL's project id (Cinder acts on the token's project).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def handler(self: Any, req: Request, project_id: str | None = None, **params: Any
                    ) -> Any:
            return fn(self, req, **params)

        handler._routes = []  # type: ignore[attr-defined]
        route(method, "/v3/{project_id}" + path, **kw)(handler)
        route(method, "/v3" + path, **kw)(handler)
        return handler

    return decorate


# -- errors, as Cinder words them ---------------------------------------------------
def invalid(what: str, reason: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid {what}: {reason}")


def invalid_volume(reason: str) -> errors.BadRequest:
    return invalid("volume", reason)


def not_found(kind: str, ident: str) -> errors.NotFound:
    label = {"volume": "Volume", "snapshot": "Snapshot", "backup": "Backup",
             "volume_type": "Volume type", "qos_specs": "QoS spec",
             "transfer": "Transfer", "attachment": "Volume attachment"}.get(kind, kind)
    if kind == "volume_type":
        return errors.NotFound(f"Volume type with name or id {ident} could not be found.")
    if kind == "qos_specs":
        return errors.NotFound(f"No such QoS spec {ident}.")
    if kind == "attachment":
        return errors.NotFound(f"Volume attachment could not be found with filter: "
                               f"attachment_id = {ident}.")
    return errors.NotFound(f"{label} {ident} could not be found.")


class OverLimit(errors.RequestEntityTooLarge):
    """Cinder's quota errors: 413 ``overLimit``."""


def over_limit(resource: str, limit: int) -> OverLimit:
    names = {"volumes": "volumes", "snapshots": "snapshots", "backups": "backups"}
    return OverLimit(f"Maximum number of {names.get(resource, resource)} allowed ({limit}) "
                     f"exceeded for quota '{resource}'.", headers={"Retry-After": "0"})


def over_gigabytes(kind: str, requested: int, limit: int, used: int) -> OverLimit:
    if kind == "backup_gigabytes":
        msg = (f"Requested backup exceeds allowed Backup gigabytes quota. Requested "
               f"{requested}G, quota is {limit}G and {used}G has been consumed.")
    else:
        msg = (f"Requested volume or snapshot exceeds allowed {kind} quota. Requested "
               f"{requested}G, quota is {limit}G and {used}G has been consumed.")
    return OverLimit(msg, headers={"Retry-After": "0"})


# -- formatting -----------------------------------------------------------------------
def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "on", "t"):
        return True
    if text in ("false", "0", "no", "n", "off", "f"):
        return False
    raise errors.BadRequest(f"Invalid value '{value}' for {name}. Accepted values are "
                            "true, false, yes, no, on, off, 1, 0.")


def type_multiattach(extra_specs: dict[str, Any] | None) -> bool:
    """Whether a volume type makes its volumes multiattach (``multiattach: <is> True``)."""
    return str((extra_specs or {}).get("multiattach", "")).strip().lower() in ("<is> true",
                                                                                "true")


def links(req: Request, collection: str, ident: str) -> list[dict[str, str]]:
    project = req.ctx.project_id or ""
    base = req.base_url
    return [{"rel": "self", "href": f"{base}/v3/{project}/{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{base}/{project}/{collection}/{ident}"}]


def api_prefix(req: Request) -> str:
    """``/v3/{project_id}`` or ``/v3``: the form of URL the request itself used."""
    parts = req.raw.url.path.split("/")
    if len(parts) > 2 and parts[1] == "v3" and parts[2] and \
            parts[2] == (req.ctx.project_id or ""):
        return f"/v3/{parts[2]}"
    return "/v3"


SORT_ALIASES = {"display_name": "name", "display_description": "description"}
# what an empty list may still be sorted by (a non-empty one: any key its items have)
COMMON_SORT_KEYS = ("id", "name", "description", "status", "size", "created_at",
                    "updated_at", "availability_zone", "project_id", "user_id", "volume_id")


def paginate(req: Request, items: list[dict[str, Any]], collection: str,
             sort_keys: tuple[str, ...] = ("created_at", "id")
             ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Apply ``sort``/``sort_key``/``sort_dir``, ``marker`` and ``limit``; return the page
    and the ``*_links`` list (a ``next`` link when the page is full)."""
    q = req.query
    keys: list[tuple[str, str]] = []
    if q.get("sort"):
        for part in q["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            keys.append((key, direction or "desc"))
    elif q.get("sort_key"):
        keys.append((q["sort_key"], q.get("sort_dir", "desc")))
    if not keys:
        keys = [("created_at", "desc"), ("id", "desc")]
    keys = [(SORT_ALIASES.get(k, k), d) for k, d in keys]
    known = set(sort_keys) | set(items[0] if items else COMMON_SORT_KEYS)
    for key, direction in keys:
        if direction not in ("asc", "desc"):
            raise errors.BadRequest("Invalid input received: Unknown sort direction, must "
                                    "be 'desc' or 'asc'")
        if key not in known:
            raise errors.BadRequest(f"Invalid input received: Invalid sort key {key}")
    for key, direction in reversed(keys):
        items.sort(key=lambda i: (i.get(key) is not None, str(i.get(key) or "")),
                   reverse=direction == "desc")
    marker = q.get("marker")
    if marker:
        idx = next((n for n, i in enumerate(items) if i.get("id") == marker), None)
        if idx is None:
            raise errors.NotFound(f"Marker {marker} could not be found.")
        items = items[idx + 1:]
    offset = q.get("offset")
    if offset:
        try:
            items = items[int(offset):]
        except ValueError:
            raise errors.BadRequest("Invalid input received: offset must be an integer")
    page_links: list[dict[str, str]] = []
    limit = q.get("limit")
    if limit is not None:
        try:
            n = int(limit)
            if n < 0:
                raise ValueError
        except ValueError:
            raise errors.BadRequest("limit param must be an integer") from None
        if len(items) >= n:  # Cinder links a next page whenever the page is full
            items = items[:n]
            if items:
                params = {k: v for k, v in q.items() if k != "marker"}
                params["marker"] = items[-1]["id"]
                query = urlencode(params)
                page_links = [{"rel": "next", "href":
                               f"{req.base_url}{api_prefix(req)}/{collection}?{query}"}]
    return items, page_links


def all_projects(req: Request) -> bool:
    value = req.query.get("all_tenants") or req.query.get("all_projects")
    return bool(value) and as_bool(value, "all_tenants") and req.ctx.is_admin


def empty(status: int = 200) -> Any:
    """A body-less answer with a status the route default cannot express (200)."""
    from starlette.responses import Response

    return Response(status_code=status)


def check_strings(body: dict[str, Any], keys: tuple[str, ...], max_len: int = 255) -> None:
    """400 unless each present key is a string (or null) of at most ``max_len`` chars."""
    for key in keys:
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or (max_len and len(value) > max_len):
            raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: "
                                    f"{value}. It must be a string of at most {max_len} "
                                    "characters.")


def metadata_body(req: Request) -> dict[str, Any]:
    """The ``{"metadata": {...}}`` body of a metadata create/replace (volumes, snapshots)."""
    body = req.json()
    meta = body.get("metadata") if isinstance(body, dict) else None
    if meta is None:
        raise errors.BadRequest("Malformed request body")
    return meta


def meta_item_body(req: Request, key: str) -> dict[str, Any]:
    """The ``{"meta": {key: value}}`` body of a one-key metadata update, checked against the
    key in the URL as Cinder checks it."""
    body = req.json()
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(meta, dict) or len(meta) != 1:
        raise errors.BadRequest("Request body contains too many items."
                                if isinstance(meta, dict) else "Malformed request body")
    if key not in meta:
        raise errors.BadRequest("Request body and URI mismatch")
    return meta


def find_owned(s: Any, model: Any, kind: str, ident: str, ctx: Any) -> Any:
    """The row of ``model`` with id ``ident`` if the caller's project owns it (or an admin
    asks); otherwise a 404 that does not tell another project's row from a missing one."""
    row = s.get(model, ident)
    if row is None or not (ctx.is_admin or row.project_id == ctx.project_id):
        raise not_found(kind, ident)
    return row
