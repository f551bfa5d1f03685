"""Declaring API routes.

A route is declared on a method of a resource class, which receives its
collaborators in its constructor::

    class Users:
        def __init__(self, identity: IdentityManager) -> None: ...

        @route("GET", "/v3/users/{user_id}")
        def get(self, req: Request, user_id: str) -> dict: ...

A :class:`Router` collects the routes of resource instances; the service's ASGI
app (:mod:`pocketstack.api.app`) matches requests against them. The same table
drives the "not implemented" answer and the coverage listing.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable

_PARAM = re.compile(r"{(\w+)(?::(path))?}")


@dataclass
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    status: int = 200
    auth: bool = True
    policy: str | None = None
    min_version: tuple[int, int] | None = None
    max_version: tuple[int, int] | None = None
    stream: bool = False  # the handler reads the body itself (uploads)
    pattern: re.Pattern[str] = field(init=False)
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        regex = ""
        pos = 0
        for m in _PARAM.finditer(self.path):
            regex += re.escape(self.path[pos:m.start()])
            regex += f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
            pos = m.end()
        regex += re.escape(self.path[pos:])
        self.pattern = re.compile(f"^{regex}/?$")
        self.is_async = inspect.iscoroutinefunction(self.handler)

    def matches_version(self, version: tuple[int, int] | None) -> bool:
        if version is None:
            return True
        if self.min_version and version < self.min_version:
            return False
        if self.max_version and version > self.max_version:
            return False
        return True


def _version(v: str | None) -> tuple[int, int] | None:
    if v is None:
        return None
    major, minor = v.split(".")
    return int(major), int(minor)


def route(method: str, path: str, *, status: int = 200, auth: bool = True,
          policy: str | None = None, min_version: str | None = None,
          max_version: str | None = None, stream: bool = False
          ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a resource method as the handler of ``method path``.

    ``policy`` names a rule enforced before the handler with the caller's project
    and the path parameters as target; handlers that need the stored object as
    target call ``req.enforce`` themselves instead.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        specs = getattr(fn, "_routes", [])
        specs.append(dict(method=method.upper(), path=path, status=status, auth=auth,
                          policy=policy, min_version=_version(min_version),
                          max_version=_version(max_version), stream=stream))
        fn._routes = specs  # type: ignore[attr-defined]
        return fn

    return decorate


def _literal_head(path: str) -> tuple[str, ...]:
    """The first two segments of a route template when they hold no parameter (fewer when
    a parameter comes sooner): the key of the route's bucket in :class:`Router`."""
    segments = path.split("{", 1)[0].split("/")[1:-1]  # the whole segments before a "{"
    return tuple(segments[:2])


class Router:
    """Static paths by dictionary; templated ones by their literal first two segments and
    their number of segments, so that a request is matched against the few routes of its
    resource and depth rather than all of a service's hundreds (Nova's API has ~400)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._static: dict[str, list[Route]] = {}
        self._dynamic: list[Route] = []
        self._heads: set[tuple[str, ...]] = set()
        self._merged: dict[tuple[Any, ...], list[Route]] = {}  # key -> candidates, in order

    def include(self, resource: object) -> None:
        """Add every route declared on the methods of ``resource``."""
        for name in dir(type(resource)):
            fn = getattr(type(resource), name, None)
            for spec in getattr(fn, "_routes", []):
                self.add(Route(handler=getattr(resource, name), **spec))

    def add(self, r: Route) -> None:
        self.routes.append(r)
        if "{" in r.path:
            self._dynamic.append(r)
            self._heads.add(_literal_head(r.path))
            self._merged.clear()
        else:
            self._static.setdefault(r.path.rstrip("/") or "/", []).append(r)

    def match(self, path: str) -> list[tuple[Route, dict[str, str]]]:
        """Every route whose path matches, with its path parameters."""
        found = [(r, {}) for r in self._static.get(path.rstrip("/") or "/", [])]
        for r in self._candidates(tuple(path.split("/", 3)[1:3]), _depth(path)):
            m = r.pattern.match(path)
            if m:
                found.append((r, m.groupdict()))
        return found

    def _candidates(self, head: tuple[str, ...], depth: int) -> list[Route]:
        """The templated routes that can match a path of ``depth`` segments starting with
        ``head`` (its first two segments), in the order they were added."""
        key = (head, depth)
        merged = self._merged.get(key)
        if merged is None:
            heads = {head, head[:1], ()}
            merged = [r for r in self._dynamic if _literal_head(r.path) in heads
                      and (":path}" in r.path or _depth(r.path) == depth)]
            if head in self._heads or len(self._merged) < 1024:  # bounded whatever comes
                self._merged[key] = merged
        return merged


def _depth(path: str) -> int:
    """Segments in a path or template, a trailing slash ignored (a parameter other than
    ``{x:path}`` never spans a slash)."""
    return path.rstrip("/").count("/")
