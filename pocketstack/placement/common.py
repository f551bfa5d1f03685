"""Shared helpers: Placement's error codes, query-string parsing, links."""

from __future__ import annotations

import re
import uuid as _uuid
from typing import Any

from pocketstack.api import errors

# Placement's machine-readable error codes (``errors[].code``, microversion 1.23+).
UNDEFINED = "placement.undefined_code"
CONCURRENT_UPDATE = "placement.concurrent_update"
DUPLICATE_NAME = "placement.duplicate_name"
INVENTORY_INUSE = "placement.inventory.inuse"
PROVIDER_INUSE = "placement.resource_provider.inuse"
PROVIDER_NOT_FOUND = "placement.resource_provider.not_found"
CANNOT_DELETE_PARENT = "placement.resource_provider.cannot_delete_parent"
QUERY_BAD_VALUE = "placement.query.bad_value"
QUERY_DUPLICATE_KEY = "placement.query.duplicate_key"
QUERY_MISSING_VALUE = "placement.query.missing_value"

MAX_INT = 2147483647
TRAIT_NAME = re.compile(r"^[A-Z0-9_]+$")
SUFFIX = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def conflict(message: str, code: str = UNDEFINED) -> errors.Conflict:
    return errors.Conflict(message, code=code)


def bad_request(message: str, code: str = UNDEFINED) -> errors.BadRequest:
    return errors.BadRequest(message, code=code)


def not_found(message: str, code: str = UNDEFINED) -> errors.NotFound:
    return errors.NotFound(message, code=code)


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        _uuid.UUID(value)
    except ValueError:
        return False
    return True


def normalize_uuid(value: str) -> str:
    return str(_uuid.UUID(value))


def parse_resources(text: str, name: str = "resources") -> dict[str, int]:
    """``VCPU:1,MEMORY_MB:512`` -> {"VCPU": 1, "MEMORY_MB": 512}."""
    out: dict[str, int] = {}
    for part in text.split(","):
        rc, sep, amount = part.strip().partition(":")
        rc = rc.strip()
        try:
            value = int(amount)
        except ValueError:
            value = -1
        if (not sep or not rc or value < 0 or value > MAX_INT
                or (value < 1 and name.startswith("resources"))):
            raise bad_request(
                f"Badly formed {name} parameter. Expected {name} query string parameter in "
                f"form: ?{name}=VCPU:2,MEMORY_MB:1024. Got: {text}.", QUERY_BAD_VALUE)
        if rc in out:
            raise bad_request(f"Badly formed {name} parameter: duplicate resource class {rc}.",
                              QUERY_DUPLICATE_KEY)
        out[rc] = value
    return out


def parse_traits(text: str, allow_forbidden: bool, allow_any: bool
                 ) -> tuple[list[set[str]], set[str]]:
    """``A,!B`` or ``in:A,B`` -> (list of any-of sets that must each be met, forbidden)."""
    required: list[set[str]] = []
    forbidden: set[str] = set()
    text = text.strip()
    if text.startswith("in:"):
        if not allow_any:
            raise bad_request(f"Invalid query string parameters: 'required' {text}",
                              QUERY_BAD_VALUE)
        names = [t.strip() for t in text[3:].split(",")]
        if not all(TRAIT_NAME.match(n) for n in names):
            raise bad_request(f"Invalid query string parameters: 'required' {text}",
                              QUERY_BAD_VALUE)
        return [set(names)], forbidden
    for name in text.split(","):
        name = name.strip()
        if name.startswith("!") and allow_forbidden and TRAIT_NAME.match(name[1:]):
            forbidden.add(name[1:])
        elif TRAIT_NAME.match(name):
            required.append({name})
        else:
            raise bad_request(f"Invalid query string parameters: Expected 'required' parameter "
                              f"value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {text}",
                              QUERY_BAD_VALUE)
    return required, forbidden


def parse_member_of(text: str, allow_forbidden: bool) -> tuple[set[str] | None, set[str]]:
    """``in:a,b`` / ``a`` / ``!in:a,b`` -> (any-of aggregates or None, forbidden)."""
    text = text.strip()
    negate = False
    if text.startswith("!"):
        if not allow_forbidden:
            raise bad_request("Invalid query string parameters: forbidden aggregates are not "
                              "supported at this microversion.", QUERY_BAD_VALUE)
        negate, text = True, text[1:]
    if text.startswith("in:"):
        text = text[3:]
    uuids = [u.strip() for u in text.split(",")]
    if not uuids or not all(is_uuid(u) for u in uuids):
        raise bad_request(f"Invalid query string parameters: Expected 'member_of' parameter to "
                          f"contain valid UUID(s). Got: {text}", QUERY_BAD_VALUE)
    uuids = [normalize_uuid(u) for u in uuids]
    if negate:
        return None, set(uuids)
    return set(uuids), set()


def provider_links(rp_uuid: str, version: tuple[int, int]) -> list[dict[str, str]]:
    base = f"/resource_providers/{rp_uuid}"
    links = [{"rel": "self", "href": base},
             {"rel": "inventories", "href": f"{base}/inventories"},
             {"rel": "usages", "href": f"{base}/usages"}]
    if version >= (1, 1):
        links.append({"rel": "aggregates", "href": f"{base}/aggregates"})
    if version >= (1, 6):
        links.append({"rel": "traits", "href": f"{base}/traits"})
    if version >= (1, 11):
        links.append({"rel": "allocations", "href": f"{base}/allocations"})
    return links
