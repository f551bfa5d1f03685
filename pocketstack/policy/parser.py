"""A parser and evaluator for oslo.policy's rule language.

Grammar (as oslo.policy documents it)::

    rule    := or_expr
    or_expr := and_expr ("or" and_expr)*
    and_expr:= not_expr ("and" not_expr)*
    not_expr:= "not" not_expr | "(" rule ")" | check
    check   := "@" | "!" | "rule:NAME" | "role:NAME" | KEY ":" MATCH

``KEY:MATCH`` compares a credential (``project_id``, ``system_scope``, ...) with a
literal or with a value of the target interpolated as ``%(name)s``; a quoted
``'literal':%(name)s`` compares a constant with the target.

Written for pocketstack (oslo.policy itself brings oslo.config's global state with
it); the semantics follow oslo.policy's documentation.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Callable, Mapping

Creds = Mapping[str, Any]
Target = Mapping[str, Any]
RuleLookup = Callable[[str], "Check | None"]


class Check:
    def __call__(self, target: Target, creds: Creds, rules: RuleLookup, depth: int = 0) -> bool:
        raise NotImplementedError


class TrueCheck(Check):
    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return "@"


class FalseCheck(Check):
    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        return False

    def __str__(self) -> str:
        return "!"


class AndCheck(Check):
    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        return all(c(target, creds, rules, depth) for c in self.checks)

    def __str__(self) -> str:
        return "(" + " and ".join(map(str, self.checks)) + ")"


class OrCheck(Check):
    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        return any(c(target, creds, rules, depth) for c in self.checks)

    def __str__(self) -> str:
        return "(" + " or ".join(map(str, self.checks)) + ")"


class NotCheck(Check):
    def __init__(self, check: Check) -> None:
        self.check = check

    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        return not self.check(target, creds, rules, depth)

    def __str__(self) -> str:
        return f"not {self.check}"


class RuleCheck(Check):
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        if depth > 50:
            return False  # a rule that refers to itself never grants anything
        rule = rules(self.name)
        return bool(rule and rule(target, creds, rules, depth + 1))

    def __str__(self) -> str:
        return f"rule:{self.name}"


def _interpolate(match: str, target: Target) -> str | None:
    if "%(" not in match:
        return match
    try:
        return match % _FlatTarget(target)
    except KeyError:
        return None


class _FlatTarget(dict):
    """Lets ``%(target.user.domain_id)s`` reach into nested dictionaries."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._target = target

    def __missing__(self, key: str) -> Any:
        value = lookup(self._target, key)
        if value is _ABSENT:
            raise KeyError(key)
        return value


class RoleCheck(Check):
    def __init__(self, role: str) -> None:
        self.role = role

    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        role = _interpolate(self.role, target)
        if role is None:
            return False
        return role.lower() in [r.lower() for r in creds.get("roles", [])]

    def __str__(self) -> str:
        return f"role:{self.role}"


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class GenericCheck(Check):
    def __init__(self, kind: str, match: str) -> None:
        self.kind = kind
        self.match = match

    def __call__(self, target, creds, rules, depth=0):  # type: ignore[override]
        expected = _interpolate(self.match, target)
        if expected is None:
            return False
        if self.kind[:1] in ("'", '"'):
            # 'constant':%(target_value)s
            return _literal(self.kind) == _literal(expected) or self.kind.strip("'\"") == expected
        value: Any = creds
        for part in self.kind.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                return False
        if isinstance(value, (list, tuple, set)):
            return expected in value or _literal(expected) in value
        if isinstance(value, bool) or value is None:
            return value == _literal(expected)
        return str(value) == str(expected)

    def __str__(self) -> str:
        return f"{self.kind}:{self.match}"


class ParseError(ValueError):
    pass


def _tokenize(rule: str) -> list[str]:
    tokens: list[str] = []
    for word in rule.split():
        while word.startswith("("):
            tokens.append("(")
            word = word[1:]
        trailing = 0
        # strip closing parentheses that are not part of a %(name)s substitution
        while word.endswith(")") and word.count("(") < word.count(")"):
            trailing += 1
            word = word[:-1]
        if word:
            tokens.append(word)
        tokens.extend([")"] * trailing)
    return tokens


def _make_check(token: str) -> Check:
    if token == "@":
        return TrueCheck()
    if token == "!":
        return FalseCheck()
    if ":" not in token:
        raise ParseError(f"not a check: {token!r}")
    kind, match = token.split(":", 1)
    if kind == "rule":
        return RuleCheck(match)
    if kind == "role":
        return RoleCheck(match)
    if kind in ("http", "https"):
        # Remote checks are not supported: they never grant access.
        return FalseCheck()
    return GenericCheck(kind, match)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_or(self) -> Check:
        checks = [self.parse_and()]
        while self.peek() is not None and self.peek().lower() == "or":  # type: ignore[union-attr]
            self.take()
            checks.append(self.parse_and())
        return checks[0] if len(checks) == 1 else OrCheck(checks)

    def parse_and(self) -> Check:
        checks = [self.parse_not()]
        while self.peek() is not None and self.peek().lower() == "and":  # type: ignore[union-attr]
            self.take()
            checks.append(self.parse_not())
        return checks[0] if len(checks) == 1 else AndCheck(checks)

    def parse_not(self) -> Check:
        token = self.peek()
        if token is None:
            raise ParseError("unexpected end of rule")
        if token.lower() == "not":
            self.take()
            return NotCheck(self.parse_not())
        if token == "(":
            self.take()
            inner = self.parse_or()
            if self.peek() != ")":
                raise ParseError("missing ')'")
            self.take()
            return inner
        if token == ")" or token.lower() in ("and", "or"):
            raise ParseError(f"unexpected {token!r}")
        return _make_check(self.take())


def parse_rule(rule: str | list[Any]) -> Check:
    """Parse a rule string (or oslo.policy's legacy list-of-lists form)."""
    if isinstance(rule, list):
        if not rule:
            return TrueCheck()
        ors = []
        for inner in rule:
            items = inner if isinstance(inner, list) else [inner]
            ands = [parse_rule(item) for item in items]
            ors.append(ands[0] if len(ands) == 1 else AndCheck(ands))
        return ors[0] if len(ors) == 1 else OrCheck(ors)
    tokens = _tokenize(rule)
    if not tokens:
        return TrueCheck()
    parser = _Parser(tokens)
    check = parser.parse_or()
    if parser.peek() is not None:
        raise ParseError(f"unexpected {parser.peek()!r}")
    return check


_SUBSTITUTION = re.compile(r"%\(([^)]*)\)s")


def reads(check: Check, rules: RuleLookup) -> tuple[frozenset[str], frozenset[str]] | None:
    """The target fields (``%(name)s``) and credential keys a rule's outcome depends on,
    following ``rule:`` references through ``rules``; None when it cannot tell (a check
    kind it does not know, a reference cycle), so that callers do not memoize it."""
    target: set[str] = set()
    creds: set[str] = set()
    seen: set[str] = set()

    def walk(c: Check | None) -> bool:
        if c is None or isinstance(c, (TrueCheck, FalseCheck)):
            return True
        if isinstance(c, (AndCheck, OrCheck)):
            return all(walk(child) for child in c.checks)
        if isinstance(c, NotCheck):
            return walk(c.check)
        if isinstance(c, RuleCheck):
            if c.name in seen:
                return False
            seen.add(c.name)
            return walk(rules(c.name))
        if isinstance(c, RoleCheck):
            creds.add("roles")
            target.update(_SUBSTITUTION.findall(c.role))
            return True
        if isinstance(c, GenericCheck):
            target.update(_SUBSTITUTION.findall(c.match))
            if c.kind[:1] not in ("'", '"'):
                creds.add(c.kind.split(".")[0])
            return True
        return False

    return (frozenset(target), frozenset(creds)) if walk(check) else None


_ABSENT = object()


def lookup(target: Target, name: str) -> Any:
    """``target[name]`` as a ``%(name)s`` substitution reads it (dotted names reach into
    nested mappings); a private marker when absent."""
    if name in target:
        return target[name]
    value: Any = target
    for part in name.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _ABSENT
    return value

