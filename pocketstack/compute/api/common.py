"""Small helpers shared by the Compute API modules."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request


def int_param(req: Request, name: str, minimum: int = 0) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest(f"Invalid input for query parameters {name}. Value: {raw}. "
                                f"'{raw}' is not an integer") from None
    if value < minimum:
        raise errors.BadRequest(f"Invalid input for query parameters {name}. Value: {raw}. "
                                f"{raw} is less than the minimum of {minimum}")
    return value


def bool_param(value: Any) -> bool | None:
    if value is None:
        return None
    v = str(value).strip().lower()
    if v in ("1", "true", "t", "yes", "y", "on"):
        return True
    if v in ("0", "false", "f", "no", "n", "off"):
        return False
    raise errors.BadRequest(f"Invalid boolean value: {value}")


def next_link(req: Request, kind: str, items: list[Any], limit: int | None, marker: str
              ) -> list[dict[str, str]]:
    if limit is None or len(items) < limit or not items:
        return []
    from urllib.parse import urlencode

    params = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
    params.append(("marker", marker))
    return [{"rel": "next", "href": f"{req.base_url}/v2.1/{kind}?{urlencode(params)}"}]


def offset_page(req: Request, items: list[Any]) -> list[Any]:
    """Nova's ``offset``/``limit`` paging of the older list APIs."""
    try:
        offset = int(req.query.get("offset") or 0)
        limit = int(req.query["limit"]) if req.query.get("limit") else None
    except ValueError:
        raise errors.BadRequest("limit and offset must be integers") from None
    if offset < 0 or (limit is not None and limit < 0):
        raise errors.BadRequest("limit and offset must be >= 0")
    return items[offset:] if limit is None else items[offset:offset + limit]


def network_api(cloud: Any) -> Any:
    """The Networking service's in-process API, for Nova's proxies (404 without one)."""
    from pocketstack.compute.networks import _net

    net = _net(cloud)
    if net is None:
        raise errors.NotFound("There is no Network service in this cloud.")
    return net
