"""What a handler sees of an HTTP request."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from starlette.datastructures import Headers, QueryParams

from pocketstack.api import errors
from pocketstack.api.context import RequestContext

if TYPE_CHECKING:
    from starlette.requests import Request as StarletteRequest

    from pocketstack.api.service import Service

_NO_BODY = object()
_BASE_URLS: dict[tuple[Any, ...], str] = {}  # Request.base_url by what it is made of


@dataclass
class Reply:
    """A handler's answer when the route's default status or headers do not fit."""

    body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Request:
    def __init__(self, raw: "StarletteRequest", service: "Service", ctx: RequestContext,
                 params: dict[str, str], version: tuple[int, int] | None,
                 body: bytes | None) -> None:
        self.raw = raw
        self.service = service
        self.ctx = ctx
        self.params = params
        self.version = version
        self._body = body
        self._json: Any = _NO_BODY
        self._at_least: dict[str, bool] = {}

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def headers(self) -> Headers:
        return self.raw.headers

    @property
    def query(self) -> QueryParams:
        return self.raw.query_params

    @property
    def body(self) -> bytes:
        return self._body or b""

    @functools.cached_property
    def base_url(self) -> str:
        """``scheme://host:port`` as the client addressed us (for links; a server's view
        asks for it several times). Starlette's, kept by what it is made of (the scheme,
        the Host header, the server's address): a URL object built and parsed again for
        every request otherwise."""
        scope = self.raw.scope
        host = next((v for k, v in scope["headers"] if k == b"host"), None)
        key = (scope.get("scheme"), host, scope.get("server"), scope.get("root_path"),
               scope.get("app_root_path"))
        url = _BASE_URLS.get(key)
        if url is None:
            if len(_BASE_URLS) > 1000:
                _BASE_URLS.clear()
            url = _BASE_URLS[key] = str(self.raw.base_url).rstrip("/")
        return url

    @property
    def url(self) -> str:
        return str(self.raw.url)

    @property
    def path(self) -> str:
        """The request's path (as ``raw.url.path``, without building the whole URL)."""
        return request_path(self.raw.scope)

    def json(self, required: bool = True) -> Any:
        if self._json is _NO_BODY:
            if not self._body:
                if required:
                    raise errors.BadRequest("Malformed request body: the request body is empty.")
                self._json = None
            else:
                try:
                    self._json = json.loads(self._body)
                except ValueError as exc:
                    raise errors.BadRequest(f"Malformed request body: {exc}") from None
        return self._json

    def flag(self, name: str) -> bool:
        """A query flag: present (``?nocatalog``, ``?x=1``, ``?x=true``) and not false-y."""
        if name not in self.query:
            return False
        return self.query[name].strip().lower() not in ("0", "false", "no", "off")

    def at_least(self, version: str) -> bool:
        """True when the request's microversion is ``version`` or newer (answered once per
        request and version: a list's views ask a dozen times per server)."""
        known = self._at_least
        answer = known.get(version)
        if answer is None:
            answer = known[version] = \
                self.version is not None and self.version >= _version_tuple(version)
        return answer

    def enforce(self, action: str, target: Mapping[str, Any] | None = None) -> None:
        if target is None:
            target = {"project_id": self.ctx.project_id, "user_id": self.ctx.user_id}
        self.service.cloud.policy.enforce(action, target, self.ctx.credentials())

    def authorized(self, action: str, target: Mapping[str, Any] | None = None) -> bool:
        if target is None:
            target = {"project_id": self.ctx.project_id, "user_id": self.ctx.user_id}
        return self.service.cloud.policy.authorize(action, target, self.ctx.credentials())


def request_path(scope: dict[str, Any]) -> str:
    """The request's path as ``Request.url.path`` gives it (``?``, ``#`` and ``\\`` kept
    escaped), without building a URL object for every request."""
    path: str = scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    return path


@functools.lru_cache(maxsize=512)
def _version_tuple(version: str) -> tuple[int, int]:
    """"2.47" -> (2, 47), parsed once (views ask for the same few versions per server)."""
    major, minor = version.split(".")
    return int(major), int(minor)
