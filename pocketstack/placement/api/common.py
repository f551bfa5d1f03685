"""Helpers of the HTTP layer: body validation with Placement's 400s, query checks."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.validation import validate
from pocketstack.placement import common

UUID = {"type": "string", "format": "uuid",
        "pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   "[0-9a-fA-F]{12}$"}
GENERATION = {"type": "integer"}
RC_NAME = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}
NON_NEG = {"type": "integer", "minimum": 0, "maximum": common.MAX_INT}
POSITIVE = {"type": "integer", "minimum": 1, "maximum": common.MAX_INT}
INVENTORY_FIELDS = {
    "total": POSITIVE, "reserved": NON_NEG, "min_unit": POSITIVE, "max_unit": POSITIVE,
    "step_size": POSITIVE,
    "allocation_ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0,
                         "maximum": 3.40282e38},
}


def body(req: Request, schema: dict[str, Any]) -> Any:
    """The JSON body, validated; Placement words schema failures "JSON does not validate"."""
    data = req.json()
    try:
        validate(schema, data)
    except errors.ValidationError as exc:
        raise common.bad_request(f"JSON does not validate: {exc.message}") from None
    return data


def check_classes(placement: Any, names: set[str], param: str = "resources") -> None:
    """400 for unknown resource classes in a query (as Placement answers)."""
    if not names:
        return
    known = set(placement.catalog.list_classes())
    missing = sorted(names - known)
    if missing:
        raise common.bad_request(f"Invalid resource class in {param} parameter: No such "
                                 f"resource class {missing[0]}.", common.QUERY_BAD_VALUE)


def version(req: Request) -> tuple[int, int]:
    return req.version or (1, 0)


def check_query(req: Request, allowed: set[str]) -> None:
    for key in req.query.keys():
        if key not in allowed:
            raise common.bad_request(f"Invalid query string parameters: Additional properties "
                                     f"are not allowed ('{key}' was unexpected)",
                                     common.QUERY_BAD_VALUE)


def one_query(req: Request, name: str) -> str | None:
    values = req.query.getlist(name)
    if len(values) > 1:
        raise common.bad_request(f"Invalid query string parameters: {name} given more than "
                                 "once.", common.QUERY_DUPLICATE_KEY)
    return values[0] if values else None
