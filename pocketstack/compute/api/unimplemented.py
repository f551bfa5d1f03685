"""Nova resources pocketstack does not implement yet: a clean 501 instead of a 404."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import Route, Router

PATHS: list[str] = []  # every Nova resource is served now; kept for the next gap


def _not_implemented(req: Request, **params: Any) -> None:
    raise errors.NotImplementedYet(f"{req.method} {req.raw.url.path} is not implemented by "
                                   "pocketstack's Compute API yet.")


def register(router: Router) -> None:
    for path in PATHS:
        for method in ("GET", "POST", "PUT", "DELETE"):
            router.add(Route(method=method, path=path, handler=_not_implemented))
