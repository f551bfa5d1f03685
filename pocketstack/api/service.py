"""A service's ASGI application: the request pipeline every service shares.

The pipeline, in order: request id and log context, ``/healthcheck``, route
match (404/405), microversion negotiation (406), token validation (401),
route policy (403), body read, handler (in a worker thread unless it is a
coroutine), rendering, error rendering in the service's own format, access log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from microversion_parse import get_version
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse, Response

from pocketstack.api import errors
from pocketstack.api.context import RequestContext, current
from pocketstack.api.request import Reply, Request, request_path
from pocketstack.api.routing import Route, Router
from pocketstack.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger("pocketstack.api")


try:
    import orjson
except ImportError:  # pragma: no cover - the pinned dependency is normally there
    orjson = None  # type: ignore[assignment]

# orjson with the stdlib's answers: datetimes and dataclasses through str(), non-str keys
_ORJSON_OPTIONS = 0 if orjson is None else (orjson.OPT_NON_STR_KEYS |
                                            orjson.OPT_PASSTHROUGH_DATETIME |
                                            orjson.OPT_PASSTHROUGH_DATACLASS)


def dumps(body: Any) -> bytes:
    """Compact JSON bytes: orjson (several times faster than the json module on a list of
    1,000 servers, which it would otherwise encode in the event loop), the json module for
    what orjson refuses (integers over 64 bits, NaN-free but surrogate strings...)."""
    if orjson is not None:
        try:
            return orjson.dumps(body, default=str, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    return Response(dumps(body), status_code=status, headers=headers,
                    media_type="application/json")


class Microversions:
    """``OpenStack-API-Version: <service_type> X.Y`` negotiation."""

    def __init__(self, service_type: str, minimum: str, maximum: str,
                 legacy_headers: tuple[str, ...] = (), prefix: str = "/") -> None:
        self.service_type = service_type
        self.min = self._parse(minimum)
        self.max = self._parse(maximum)
        self.minimum, self.maximum = minimum, maximum
        self.legacy_headers = list(legacy_headers)
        self._header_names = ("openstack-api-version",
                              *(h.lower() for h in self.legacy_headers))
        self.prefix = prefix  # only paths under it are versioned (not version discovery)
        self._known: dict[tuple[tuple[str, str], ...], tuple[int, int]] = {}  # by headers
        self._answers: dict[tuple[int, int], dict[str, str]] = {}  # headers(), by version

    @staticmethod
    def _parse(v: str) -> tuple[int, int]:
        major, _, minor = v.partition(".")
        return int(major), int(minor)

    def negotiate(self, headers: Any) -> tuple[int, int]:
        # only the headers that can carry a version: microversion_parse folds every header
        # it is given, which was a visible part of a small request's cost
        present = {h: headers[h] for h in self._header_names if h in headers}
        if not present:
            return self.min
        key = tuple(present.items())
        version = self._known.get(key)  # (a client sends the same header every time)
        if version is None:
            version = self._negotiate(present)
            if len(self._known) < 1000:
                self._known[key] = version
        return version

    def _negotiate(self, present: dict[str, str]) -> tuple[int, int]:
        requested = get_version(present, self.service_type,
                                legacy_headers=self.legacy_headers)
        if requested is None:
            return self.min
        requested = requested.strip()
        if requested == "latest":
            return self.max
        try:
            version = self._parse(requested)
        except ValueError:
            raise errors.BadRequest(
                f"API Version String {requested} is of invalid format. "
                "Must be of format MajorNum.MinorNum.") from None
        if not self.min <= version <= self.max:
            raise errors.NotAcceptable(
                f"Version {requested} is not supported by the API. Minimum is "
                f"{self.minimum} and maximum is {self.maximum}.")
        return version

    def headers(self, version: tuple[int, int]) -> dict[str, str]:
        out = self._answers.get(version)
        if out is None:
            text = f"{version[0]}.{version[1]}"
            out = {"OpenStack-API-Version": f"{self.service_type} {text}",
                   "Vary": ", ".join(["OpenStack-API-Version", *self.legacy_headers])}
            for h in self.legacy_headers:
                out[h] = text
            self._answers[version] = out  # (a few hundred versions at most)
        return dict(out)


class Service:
    """Base of every service: subclasses set the class attributes and add routes."""

    name = "service"
    catalog_type = "service"
    catalog_name = "service"
    port = 0
    version_path = ""  # appended to the base URL in the catalog
    microversions: Microversions | None = None
    request_id_headers: tuple[str, ...] = ("x-openstack-request-id",)
    handler_threads: int | None = None  # None: [DEFAULT] wsgi_default_pool_size; 0: inline

    def __init__(self, cloud: "Cloud") -> None:
        self.cloud = cloud
        self.router = Router()
        self.log = logging.getLogger(f"pocketstack.{self.name}")
        self._pool: ThreadPoolExecutor | None = None
        self._validating: dict[str, asyncio.Future[Any]] = {}  # tokens being validated

    def _threads(self) -> ThreadPoolExecutor:
        """The worker threads that run this service's synchronous handlers: few
        (``[DEFAULT] wsgi_default_pool_size``, per service), because Python threads share one
        interpreter lock: with 40 of them (anyio's default) runnable at once, a thread that
        holds the database's write lock waits for the interpreter behind all the others at
        every statement, and under load each transaction held the lock for tens of
        milliseconds (boot-and-delete at concurrency 50: 6.6/s with 40 threads, 23/s with 4;
        benchmarks/README.md). Requests beyond these wait in the event loop, which is cheap."""
        if self._pool is None:  # (a plain pool: ~0.1 ms less per request than anyio's)
            size = self.handler_threads or self.cloud.conf.get("DEFAULT",
                                                               "wsgi_default_pool_size")
            self._pool = ThreadPoolExecutor(max(1, size),
                                            thread_name_prefix=f"{self.name}-api")
        return self._pool

    # -- hooks for subclasses -------------------------------------------------
    def catalog_url(self, base_url: str) -> str:
        return base_url + self.version_path

    def render_error(self, exc: errors.ApiError) -> Response:
        """Keystone's error format; other services override."""
        return json_response(
            {"error": {"code": exc.code, "message": exc.message, "title": exc.title}},
            status=exc.code, headers=exc.headers)

    def start(self) -> None:
        """Called once before serving (background tasks, seeding)."""

    def stop(self) -> None:
        """Called once on shutdown."""

    # -- pipeline -------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = StarletteRequest(scope, receive)
        ctx = RequestContext()
        token = current.set(ctx)
        started = time.perf_counter()
        version: tuple[int, int] | None = None
        try:
            try:
                response, version = await self._dispatch(raw, ctx)
            except errors.ApiError as exc:
                if exc.code >= 500:
                    self.log.error("%s %s failed: %s", raw.method, request_path(scope),
                                   exc.message)
                response = self.render_error(exc)
            except Exception:
                self.log.exception("unexpected error serving %s %s", raw.method,
                                   request_path(scope))
                response = self.render_error(errors.ApiError())
            for header in self.request_id_headers:
                response.headers[header] = ctx.request_id
            if self.microversions is not None and version is not None:
                response.headers.update(self.microversions.headers(version))
            if raw.method == "HEAD":
                response.body = b""
            await response(scope, receive, send)
            elapsed = time.perf_counter() - started
            self.cloud.metrics.observe(self.name, raw.method,
                                       getattr(raw.state, "route", "unmatched"),
                                       response.status_code, elapsed)
            self.log.info('%s "%s %s" status: %s time: %.4f', scope.get("client", ("-",))[0],
                          raw.method, request_path(scope) + (
                              f"?{query.decode(errors='replace')}"
                              if (query := scope["query_string"]) else ""),
                          response.status_code, elapsed)
        finally:
            current.reset(token)

    async def _dispatch(self, raw: StarletteRequest, ctx: RequestContext
                        ) -> tuple[Response, tuple[int, int] | None]:
        path = request_path(raw.scope)
        if path == "/healthcheck":
            return PlainTextResponse("OK"), None
        if path == "/metrics":
            return Response(self.cloud.metrics.render(), media_type=METRICS_CONTENT_TYPE), None
        candidates = self.router.match(path)
        if not candidates:
            raise errors.NotFound("The resource could not be found.")
        version = None
        if self.microversions is not None and path.startswith(self.microversions.prefix):
            version = self.microversions.negotiate(raw.headers)
        method = raw.method
        by_method = [c for c in candidates if c[0].method == method]
        if not by_method and method == "HEAD":
            by_method = [c for c in candidates if c[0].method == "GET"]
        if not by_method:
            allowed = sorted({c[0].method for c in candidates})
            raise errors.MethodNotAllowed(headers={"Allow": ", ".join(allowed)})
        chosen = next(((r, p) for r, p in by_method if r.matches_version(version)), None)
        if chosen is None:
            raise errors.NotFound("The resource could not be found.")
        route, params = chosen
        raw.state.route = route.path
        await self._authenticate(raw, ctx, route)
        if route.policy:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id, **params}
            self.cloud.policy.enforce(route.policy, target, ctx.credentials())
        body = None if route.stream else await raw.body()
        req = Request(raw, self, ctx, params, version, body)
        if route.is_async:
            result = await route.handler(req, **params)
        elif self.handler_threads == 0:  # one request at a time, in the event loop's thread
            result = self._call_sync(route, req, params)
        else:
            result = await asyncio.get_running_loop().run_in_executor(
                self._threads(), self._call_sync, route, req, params)
        return self._render(result, route), version

    @staticmethod
    def _call_sync(route: Route, req: Request, params: dict[str, str]) -> Any:
        token = current.set(req.ctx)  # worker threads log with the request id too
        try:
            return route.handler(req, **params)
        finally:
            current.reset(token)

    async def _authenticate(self, raw: StarletteRequest, ctx: RequestContext, route: Route
                            ) -> None:
        token = raw.headers.get("x-auth-token")
        if not token:
            if route.auth:
                raise errors.Unauthorized(
                    "The request you have made requires authentication.",
                    headers=self._www_authenticate())
            return
        auth = self.cloud.auth
        info = auth.cached(token)
        if info is None:
            try:
                info = await self._validate(token)
            except errors.ApiError:
                if route.auth:
                    raise errors.Unauthorized(
                        "The request you have made requires authentication.",
                        headers=self._www_authenticate()) from None
                return
        info.fill(ctx, token)

    def _validate(self, token: str) -> "asyncio.Future[Any]":
        """The token validated once for all the requests that bring it before it is in
        the cache (a client's first burst; a new worker's first second under load)."""
        pending = self._validating.get(token)
        if pending is None:
            pending = self._validating[token] = asyncio.ensure_future(
                run_in_threadpool(self.cloud.auth.validate, token))
            pending.add_done_callback(lambda _: self._validating.pop(token, None))
        return asyncio.shield(pending)

    def _www_authenticate(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Keystone uri="{self.cloud.identity_url}"'}

    def _render(self, result: Any, route: Route) -> Response:
        if isinstance(result, Response):
            return result
        status, headers = route.status, {}
        if isinstance(result, Reply):
            headers = result.headers
            if result.status is not None:
                status = result.status
            elif result.body is None and status == 200:
                status = 204
            result = result.body
        elif result is None and status == 200:
            status = 204
        if result is None:
            return Response(status_code=status, headers=headers)
        return json_response(result, status, headers)
