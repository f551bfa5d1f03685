"""Nova's extra spec operators, shared by ComputeCapabilitiesFilter and
AggregateInstanceExtraSpecsFilter.

A requirement is either a plain value (string equality) or ``OP VALUE``:
``=`` (numeric, at least), ``==``/``!=``/``>=``/``<=`` (numeric), ``s==``/``s!=``/``s<``/
``s<=``/``s>``/``s>=`` (string), ``<in>`` (substring), ``<all-in>`` (every word is in the
value) and ``<or> a <or> b`` (one of the words). A numeric operator on a value that is
not a number does not match (Nova would raise; a decision never fails on it here).
"""

from __future__ import annotations

import operator
from typing import Any, Callable


def _num(cmp: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def check(have: Any, want: Any) -> bool:
        try:
            return cmp(float(have), float(want))
        except (TypeError, ValueError):
            return False
    return check


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _num(operator.ge),  # Nova's historical meaning: "at least"
    "==": _num(operator.eq),
    "!=": _num(operator.ne),
    ">=": _num(operator.ge),
    "<=": _num(operator.le),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
    "<in>": lambda have, want: want in have,
    "<all-in>": lambda have, wants: all(w in have for w in wants),
}


def match(value: str | None, requirement: str) -> bool:
    """Whether ``value`` (a host's capability or an aggregate's metadata value, as a
    string) satisfies ``requirement`` (a flavor extra spec's value)."""
    words = str(requirement).split()
    op = words.pop(0) if words else None
    if op != "<or>" and op not in OPERATORS:
        return value == requirement
    if value is None or not words:
        return False
    if op == "<or>":  # a <or> b <or> c: the words at even positions are the choices
        return value in words[0::2]
    if op == "<all-in>":
        return OPERATORS[op](value, words)
    return OPERATORS[op](value, words[0])
