"""Validation of flavor extra specs (microversion 2.86): a spec whose name Nova knows must
have a value of its type; an unknown name in a namespace Nova knows is refused; names
outside those namespaces are free."""

from __future__ import annotations

import re
from typing import Any

from pocketstack.api import errors
from pocketstack.compute.extra_spec_rules import RULES
from pocketstack.placement.standard import RESOURCE_CLASSES, TRAITS

_GROUP = r"(?:[a-zA-Z0-9_-]{1,64})?"
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")
_EXACT = {name: (kind, extra) for name, kind, extra in RULES}
_COMPILED = [(re.compile(name), kind, extra) for name, kind, extra in RULES]
_RESOURCES = re.compile(rf"resources{_GROUP}:(?P<rc>.+)")
_TRAIT = re.compile(rf"trait{_GROUP}:(?P<trait>.+)")
_NAMESPACES = [re.compile(ns) for ns in {r[0].split(":", 1)[0] for r in RULES if ":" in r[0]}]
_NAMESPACES += [re.compile(f"resources{_GROUP}"), re.compile(f"trait{_GROUP}")]
_STANDARD_RC, _STANDARD_TRAITS = frozenset(RESOURCE_CLASSES), frozenset(TRAITS)


def _fail(text: str) -> errors.BadRequest:
    return errors.BadRequest(f"Validation failed; {text}")


def _check(kind: str, extra: Any, value: str) -> None:
    if kind == "int":
        try:
            number = int(value)
        except ValueError:
            raise _fail(f"'{value}' is not a valid integer value.") from None
        low, high = extra or (None, None)
        if high is not None and number > high:
            raise _fail(f"'{value}' is greater than the max value of '{high}'.")
        if low is not None and number < low:
            raise _fail(f"'{value}' is less than the min value of '{low}'.")
    elif kind == "bool":
        if value.lower() not in _TRUE + _FALSE:
            raise _fail(f"'{value}' is not a valid boolean-like value.")
    elif isinstance(extra, tuple):
        if value not in extra:
            raise _fail(f"'{value}' is not one of: {', '.join(extra)}.")
    elif isinstance(extra, str) and not re.fullmatch(extra, value):
        raise _fail(f"'{value}' is not of the format '{extra}'.")


def validate_extra_spec(name: str, value: Any) -> None:
    """Raise BadRequest (Nova's messages) when ``name=value`` is not a valid extra spec."""
    value = str(value).lower() if isinstance(value, bool) else str(value)
    if name in _EXACT:
        return _check(*_EXACT[name], value)
    m = _RESOURCES.fullmatch(name)
    if m and (m["rc"] in _STANDARD_RC or re.fullmatch(r"CUSTOM_[A-Z0-9_]+", m["rc"])):
        return _check("int", None, value)
    m = _TRAIT.fullmatch(name)
    if m and (m["trait"] in _STANDARD_TRAITS or re.fullmatch(r"CUSTOM_[A-Z0-9_]+",
                                                             m["trait"])):
        return _check("str", ("required", "forbidden"), value)
    for rx, kind, extra in _COMPILED:
        if rx.fullmatch(name):
            return _check(kind, extra, value)
    if ":" in name and any(ns.fullmatch(name.split(":", 1)[0]) for ns in _NAMESPACES):
        raise _fail(f"extra spec '{name}' does not appear to be a valid extra spec.")
    return None
