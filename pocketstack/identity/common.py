"""Small pieces shared by the identity managers."""

from __future__ import annotations

from typing import Any, Callable

from pocketstack.api import errors

# Called after every write that can change what a token grants (flushes token caches).
Invalidate = Callable[[], None]


def not_found(kind: str, ident: str) -> errors.NotFound:
    return errors.NotFound(f"Could not find {kind}: {ident}.")


def conflict(kind: str, field: str, value: str) -> errors.Conflict:
    return errors.Conflict(f"Conflict occurred attempting to store {kind} - Duplicate entry "
                           f"found with {field} {value}.")


def truthy(value: Any) -> bool:
    """Keystone's reading of boolean query parameters (``?enabled=false``)."""
    if isinstance(value, bool):
        return value
    return str(value).lower() not in ("0", "false", "no", "off", "")


def split_extra(body: dict[str, Any], known: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keystone keeps unknown attributes of an entity and returns them: split them out."""
    core = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known and k not in ("id", "links")}
    return core, extra
