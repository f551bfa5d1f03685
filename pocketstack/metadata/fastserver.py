"""The metadata port's own HTTP/1.1 server: cache hits written straight to the socket.

A boot storm is thousands of tiny GETs; under uvicorn most of each one's cost is the
generic ASGI machinery (a task, scope and message dicts, header encoding). Here a
request that the caches can answer (see :meth:`MetadataService.hot_response`) costs a
parse by httptools and one ``transport.write`` of pre-built bytes, in the event loop.
Anything else (misses, signed headers, POST, /healthcheck) runs the service's ASGI
app, in order, through a small adapter. HTTP/1.1 keep-alive and pipelining, HTTP/1.0
and ``Connection: close``, idle connections closed after 75 s; no cap on connections
(the listen backlog is the server's, 4096).
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import logging
import time
from typing import Any

import httptools

LOG = logging.getLogger(__name__)
IDLE_TIMEOUT = 75.0
_date = [0, b""]
_REASONS = {200: b"OK", 400: b"Bad Request", 403: b"Forbidden", 404: b"Not Found",
            405: b"Method Not Allowed", 409: b"Conflict", 500: b"Internal Server Error",
            204: b"No Content"}


def http_head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    """Status line and headers, without the Date line and the final CRLF."""
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
    lines.extend(k + b": " + v + b"\r\n" for k, v in headers)
    return b"".join(lines)


head = http_head


def proxy_key(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes] | None:
    """(X-Forwarded-For, X-Neutron-Network-ID) as received: how the caches know a caller
    identified by address; None for signed requests (checked every time) and the rest."""
    forwarded = network = None
    for k, v in headers:
        if k == b"x-forwarded-for":
            forwarded = v
        elif k == b"x-neutron-network-id":
            network = v
        elif k in (b"x-instance-id", b"x-instance-id-signature"):
            return None
    if forwarded is None or network is None:
        return None
    return forwarded, network


def date_header() -> bytes:
    now = int(time.time())
    if _date[0] != now:
        _date[0], _date[1] = now, b"date: " + email.utils.formatdate(
            now, usegmt=True).encode() + b"\r\n"
    return _date[1]


class Request:
    __slots__ = ("method", "path", "query", "headers", "body", "keep_alive", "version")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.path = "/"
        self.query = b""
        self.method = "GET"
        self.keep_alive = True
        self.version = "1.1"


class Connection(asyncio.Protocol):
    def __init__(self, server: "FastServer") -> None:
        self.server = server
        self.svc = server.svc
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.current: Request | None = None
        self.url = b""
        self.pending: collections.deque[Request] = collections.deque()
        self.busy = False
        self.closing = False
        self.last_active = time.monotonic()

    # -- asyncio.Protocol -----------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail()
        except httptools.HttpParserError:
            self._fail()

    def close_if_idle(self, now: float) -> None:
        if not self.busy and now - self.last_active > IDLE_TIMEOUT and self.transport:
            self.transport.close()

    def _fail(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            body = b"400 Bad Request\n\nInvalid HTTP request.\n\n   "
            self.transport.write(head(400, [(b"content-type", b"text/plain; charset=UTF-8"),
                                            (b"content-length", b"%d" % len(body)),
                                            (b"connection", b"close")]) + b"\r\n" + body)
            self.transport.close()

    # -- httptools callbacks ----------------------------------------------------------
    def on_message_begin(self) -> None:
        self.current = Request()
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.current is not None
        self.current.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        req = self.current
        assert req is not None
        parsed = httptools.parse_url(self.url)
        req.path = parsed.path.decode("latin-1")
        req.query = parsed.query or b""
        req.method = self.parser.get_method().decode("latin-1")
        req.version = self.parser.get_http_version()

    def on_body(self, body: bytes) -> None:
        assert self.current is not None
        self.current.body += body
        if len(self.current.body) > 1 << 20:
            self._fail()

    def on_message_complete(self) -> None:
        req = self.current
        assert req is not None
        req.keep_alive = self.parser.should_keep_alive()
        self.current = None
        if not self.busy and not self.pending and req.method == "GET":
            hot = self.svc.hot_response(req.path, req.headers)
            if hot is not None:
                self._write(hot[0], hot[1], req.keep_alive)
                return
        self.pending.append(req)
        if not self.busy:
            self.busy = True
            asyncio.ensure_future(self._drain())

    def _write(self, head_bytes: bytes, body: bytes, keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if keep_alive:
            self.transport.writelines((head_bytes, date_header(), b"\r\n", body))
        else:
            self.transport.writelines((head_bytes, date_header(), b"connection: close\r\n\r\n",
                                       body))
            self.transport.close()

    # -- the ASGI fallback ----------------------------------------------------------------
    async def _drain(self) -> None:
        try:
            while self.pending and not self.closing:
                await self._asgi(self.pending.popleft())
        finally:
            self.busy = False

    async def _asgi(self, req: Request) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": req.version, "method": req.method, "scheme": "http",
                 "path": req.path, "raw_path": req.path.encode("latin-1"),
                 "query_string": req.query, "root_path": "", "headers": req.headers,
                 "client": _address(self.transport.get_extra_info("peername")),
                 "server": _address(self.transport.get_extra_info("sockname")),
                 "pocketstack.internal": self.server.internal}
        sent = False
        out: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": req.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
                out["headers"] = [(bytes(k).lower(), bytes(v)) for k, v in
                                  message.get("headers", [])]
            elif message["type"] == "http.response.body":
                out["body"] = out.get("body", b"") + message.get("body", b"")

        try:
            await self.svc(scope, receive, send)
        except Exception:
            LOG.exception("metadata request %s %s failed", req.method, req.path)
            out = {"status": 500, "headers": [], "body": b""}
        body = out.get("body", b"")
        headers = [(k, v) for k, v in out.get("headers", []) if k != b"content-length"]
        if req.method == "HEAD":
            length = next((v for k, v in out.get("headers", []) if k == b"content-length"),
                          b"0")
            headers.append((b"content-length", length))
        else:
            headers.append((b"content-length", b"%d" % len(body)))
        self._write(head(out.get("status", 500), headers), body, req.keep_alive)


def _address(name: Any) -> tuple[str, int]:
    """(host, port); a Unix socket's name (the workers' socket) as ("unix", 0)."""
    return tuple(name[:2]) if isinstance(name, tuple) else ("unix", 0)  # type: ignore


class FastServer:
    """``svc``: the :class:`MetadataService`, or a worker process's cache
    (:mod:`pocketstack.metadata.worker`); ``internal``: the main process's socket for its
    workers (their cache fills, ``/_pocketstack/bundle``, are served only there)."""

    def __init__(self, svc: Any, internal: bool = False) -> None:
        self.svc = svc
        self.internal = internal
        self.connections: set[Connection] = set()
        self.server: Any = None
        self.reaper: Any = None

    async def serve(self, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: Connection(self), sock=sock,
                                               backlog=4096)
        self.reaper = asyncio.ensure_future(self._reap())

    async def serve_unix(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_unix_server(lambda: Connection(self), path=path,
                                                    backlog=4096)

    async def _reap(self) -> None:
        """Close keep-alive connections idle for IDLE_TIMEOUT (one timer, not one each)."""
        while True:
            await asyncio.sleep(IDLE_TIMEOUT / 5)
            now = time.monotonic()
            for conn in list(self.connections):
                conn.close_if_idle(now)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
