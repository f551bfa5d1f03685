"""The console proxies (nova-novncproxy, nova-serialproxy): websocket in, TCP out.

As Nova's proxies (websockify underneath) a proxy first completes the websocket
handshake (choosing the ``binary`` subprotocol when offered), then looks the token up
(``?token=``, else a ``token`` cookie, as noVNC before 1.1 sent it); an unknown or expired
token, a token of another console type, an ``Origin`` that is not this host (nor one of
``[console] allowed_origins``) or a console that cannot be reached closes the connection
without a byte of console data. Otherwise the proxy connects to the host and port the
token names, does the ``CONNECT <internal_access_path>`` handshake when the token has
one (a ``200`` is required), and copies bytes both ways until either side closes.
"""

from __future__ import annotations

import asyncio
import http.cookies
import os
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse
from starlette.websockets import WebSocket, WebSocketState

from pocketstack.api.service import Service
from pocketstack.config import Opt, register
from pocketstack.consoles.tokens import ConnectInfo, ConsoleAuthTokens

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

register(
    Opt("console", "allowed_origins", list, [],
        "Origin host names allowed to open consoles besides the proxy's own host."),
    Opt("DEFAULT", "web", str, "/usr/share/novnc",
        "Directory whose files the noVNC proxy serves (Debian's novnc package)."),
    Opt("consoleauth", "enforce_session_timeout", bool, False,
        "Close a console session when its token expires (else it lasts while it is used)."))

CONNECT_TIMEOUT = 10.0
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss"),
            "ws": ("http", "ws"), "wss": ("https", "wss")}


class Refused(Exception):
    """The connection is closed (the reason is logged, never sent)."""


def token_of(ws: WebSocket) -> str:
    token = ws.query_params.get("token", "")
    if not token:
        for part in (ws.headers.get("cookie") or "").split(";"):
            cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            try:
                cookie.load(part.strip())
            except http.cookies.CookieError:
                continue
            if "token" in cookie:
                token = cookie["token"].value
    return token


def check_origin(ws: WebSocket, info: ConnectInfo, allowed: list[str]) -> None:
    origin = ws.headers.get("origin")
    if origin is None:  # not a browser
        return
    host = ws.headers.get("host", "")
    if host.startswith("["):
        host = host[1:].split("]")[0]
    else:
        host = host.split(":")[0]
    parsed = urllib.parse.urlparse(origin)
    scheme = ws.headers.get("x-forwarded-proto") or parsed.scheme
    if not parsed.hostname or not scheme:
        raise Refused("Origin header not valid.")
    if parsed.hostname not in [host, *allowed]:
        raise Refused("Origin header does not match this host.")
    base = urllib.parse.urlparse(info.access_url_base or "").scheme
    if base and scheme not in _SCHEMES.get(base, ()):
        raise Refused("Origin header protocol does not match this host.")


class ConsoleProxy(Service):
    """A websocket console proxy on its own port; plain HTTP gets the health check,
    the metrics and whatever :meth:`page` serves."""

    catalog_type = ""  # reached through the URLs compute hands out, not the catalog
    console_types: tuple[str, ...] = ()

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        self.tokens = ConsoleAuthTokens(cloud.db)

    def start(self) -> None:
        self.tokens.purge_expired()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self.websocket(WebSocket(scope, receive, send))
        elif scope.get("path") in ("/healthcheck", "/metrics"):
            await super().__call__(scope, receive, send)
        else:
            await self.page(scope)(scope, receive, send)

    def page(self, scope: dict[str, Any]) -> Any:
        return HTMLResponse("<html><body><h1>404 Not Found</h1><p>This is a websocket "
                            "console proxy.</p></body></html>", status_code=404)

    async def websocket(self, ws: WebSocket) -> None:
        offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
        await ws.accept(subprotocol="binary" if "binary" in offered else None)
        client = ws.client.host if ws.client else "-"
        try:
            info = await run_in_threadpool(self.tokens.validate, token_of(ws))
            if info is None:
                raise Refused("invalid or expired token")
            if info.console_type not in self.console_types:
                raise Refused(f"a {info.console_type} token on the {self.name} proxy")
            check_origin(ws, info, self.cloud.conf.get("console", "allowed_origins"))
            reader, writer = await self.connect(info)
        except Refused as exc:
            self.log.info("console connection from %s refused: %s", client, exc)
            return  # the transport closes without a close frame, as websockify's does
        self.log.info("console connection from %s to instance %s (%s)", client,
                      info.instance_uuid, info.console_type)
        timeout = None
        if self.cloud.conf.get("consoleauth", "enforce_session_timeout"):
            timeout = max(0.0, info.expires - time.time())
        await self.bridge(ws, reader, writer, timeout)

    async def connect(self, info: ConnectInfo
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(info.host, info.port), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            raise Refused(f"cannot reach {info.host}:{info.port}: {exc}") from None
        if info.internal_access_path:
            try:
                writer.write(f"CONNECT {info.internal_access_path} HTTP/1.1\r\n\r\n".encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                              CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError) as exc:
                writer.close()
                raise Refused(f"console handshake failed: {exc!r}") from None
            if b"200" not in head.split(b"\r\n", 1)[0]:
                writer.close()
                raise Refused("the console refused the connection: "
                              + head.split(b"\r\n", 1)[0].decode("latin-1"))
        return reader, writer

    async def bridge(self, ws: WebSocket, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, timeout: float | None = None) -> None:
        async def upstream() -> None:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes")
                if data is None:
                    data = (message.get("text") or "").encode()
                writer.write(data)
                await writer.drain()

        async def downstream() -> None:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                await ws.send_bytes(data)

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()
            if ws.application_state == WebSocketState.CONNECTED and \
                    ws.client_state == WebSocketState.CONNECTED:
                try:
                    await ws.close()
                except Exception:  # the client went away first
                    pass


class SerialProxyService(ConsoleProxy):
    """nova-serialproxy: ``ws://HOST:6083/?token=...`` to the guest's serial port."""

    name = "serialproxy"
    catalog_name = "serialproxy"
    description = "Serial console proxy (Nova's nova-serialproxy)"
    port = 6083
    console_types = ("serial",)


class NoVNCProxyService(ConsoleProxy):
    """nova-novncproxy: noVNC's pages over HTTP, the websocket to the guest's VNC server."""

    name = "novncproxy"
    catalog_name = "novncproxy"
    description = "noVNC console proxy (Nova's nova-novncproxy)"
    port = 6080
    console_types = ("novnc",)

    def page(self, scope: dict[str, Any]) -> Any:
        if scope.get("method") not in ("GET", "HEAD"):
            return HTMLResponse("<html><body><h1>405 Method Not Allowed</h1></body></html>",
                                status_code=405)
        web = os.path.abspath(self.cloud.conf.get("DEFAULT", "web"))
        rel = urllib.parse.unquote(scope.get("path") or "/").lstrip("/") or "vnc_auto.html"
        path = os.path.normpath(os.path.join(web, rel))  # the package's own links followed
        if path.startswith(web + os.sep) and os.path.isfile(path):
            return FileResponse(path)
        if not os.path.isdir(web):
            return HTMLResponse(
                "<html><body><h1>404 Not Found</h1><p>noVNC is not installed: the noVNC "
                f"proxy serves its pages from {web} (Debian's <code>novnc</code> package, "
                "or <code>[DEFAULT] web</code>). The websocket on this port works without "
                "them.</p></body></html>", status_code=404)
        return HTMLResponse("<html><body><h1>404 Not Found</h1></body></html>",
                            status_code=404)
