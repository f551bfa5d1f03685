"""A metadata worker process (``[DEFAULT] metadata_workers`` = N >= 1): one of N
processes sharing the metadata port, each with a cache of its own, as Nova's workers.

Each worker binds the port with ``SO_REUSEPORT`` (the kernel spreads new connections
evenly over the workers) and serves it with :class:`FastServer`. A caller it knows
(``X-Forwarded-For`` + ``X-Neutron-Network-ID``) is answered from its cache: a dict
lookup and one write, in a process that does nothing else (no other API, no worker
threads, a small heap for the garbage collector to walk). Its cache is filled from the
main process, over a private Unix socket: ``GET /_pocketstack/bundle`` with the
caller's headers answers every rendered page of that caller's instance (marshal) and
how long they stay fresh. A stale entry is still served while one refresh runs behind
(so expiries never show as latency); everything else (signed headers, the password,
paths not rendered yet, unknown callers) is passed to the main process as it came.

Started by :mod:`pocketstack.metadata.workers`; exits when its parent does.
"""

from __future__ import annotations

import asyncio
import gc
import marshal
import os
import signal
import socket
import sys
import time
from typing import Any

from pocketstack.metadata.fastserver import FastServer, http_head, proxy_key

BUNDLE_PATH = "/_pocketstack/bundle"
_HOP = {b"connection", b"content-length", b"host", b"transfer-encoding", b"keep-alive"}
NOT_FOUND = b"404 Not Found\n\nThe resource could not be found.\n\n   "
_NEGATIVE = 1.0  # an unknown caller is asked about again after a second


class Upstream:
    """HTTP/1.1 to the main process over its Unix socket (one connection a request:
    only misses come here)."""

    def __init__(self, path: str) -> None:
        self.path = path

    async def request(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                      body: bytes = b"") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        reader, writer = await asyncio.open_unix_connection(self.path)
        try:
            out = [b"%s %s HTTP/1.1\r\n" % (method.encode(), target)]
            out.extend(k + b": " + v + b"\r\n" for k, v in headers if k not in _HOP)
            out.append(b"host: metadata\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"
                       % len(body))
            writer.write(b"".join(out) + body)
            data = await reader.read()
        finally:
            writer.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        parsed = []
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k not in (b"connection", b"transfer-encoding", b"keep-alive", b"date"):
                parsed.append((k, v.strip()))
        return status, parsed, rest


class WorkerCache:
    """What :class:`FastServer` asks: ``hot_response`` (a hit) and the ASGI ``__call__``
    (the rest)."""

    def __init__(self, upstream: Upstream, ttl: float) -> None:
        self.upstream = upstream
        self.caching = ttl > 0  # metadata_cache_expiration = 0: every request goes through
        self.ttl = max(ttl, 1.0)
        # (X-Forwarded-For, X-Neutron-Network-ID) -> [path -> (head, body), fresh until,
        #     path -> (status, headers, body), version (the main process's)]
        self.entries: dict[tuple[bytes, bytes], list[Any]] = {}
        self.unknown: dict[tuple[bytes, bytes], float] = {}
        self.loading: dict[tuple[bytes, bytes], asyncio.Future[Any]] = {}

    def sweep(self) -> None:
        """Forget callers not heard from for a while (instances come and go)."""
        horizon = time.monotonic() - 4 * self.ttl
        for key in [k for k, e in self.entries.items() if e[1] < horizon]:
            del self.entries[key]
        self.unknown = {k: t for k, t in self.unknown.items() if t > horizon}

    def hot_response(self, path: str, headers: list[tuple[bytes, bytes]]
                     ) -> tuple[bytes, bytes] | None:
        key = proxy_key(headers) if self.caching else None
        if key is None:
            return None
        entry = self.entries.get(key)
        if entry is None:
            return None
        now = time.monotonic()
        if entry[1] <= now:
            if entry[1] + self.ttl <= now:  # far too old: the caller waits for fresh ones
                return None
            self._load(key)  # stale: served while one refresh runs behind
        return entry[0].get(path.rstrip("/") if path != "/" else "/")

    def _load(self, key: tuple[bytes, bytes]) -> "asyncio.Future[Any]":
        fut = self.loading.get(key)
        if fut is None:
            fut = self.loading[key] = asyncio.ensure_future(self._fetch(key))
            fut.add_done_callback(lambda f: self._loaded(key, f))
        return fut

    def _loaded(self, key: tuple[bytes, bytes], fut: "asyncio.Future[Any]") -> None:
        self.loading.pop(key, None)
        if not fut.cancelled() and fut.exception() is not None:  # (retrieved: no warning)
            print(f"metadata worker: refresh failed: {fut.exception()!r}", file=sys.stderr)

    async def _fetch(self, key: tuple[bytes, bytes]) -> list[Any] | None:
        old = self.entries.get(key)
        headers = [(b"x-forwarded-for", key[0]), (b"x-neutron-network-id", key[1])]
        if old is not None:
            headers.append((b"x-pocketstack-version", old[3]))
        status, _, body = await self.upstream.request("GET", BUNDLE_PATH.encode(), headers)
        now = time.monotonic()
        if status != 200:
            self.entries.pop(key, None)
            self.unknown[key] = now + _NEGATIVE
            return None
        fresh, version, pages = marshal.loads(body)
        if pages is None and old is not None:  # unchanged: fresh again
            old[1] = now + max(fresh, 1.0)
            return old
        entry = [{p: (http_head(st, hd), b) for p, (st, hd, b) in (pages or {}).items()},
                 now + max(fresh, 1.0), pages or {}, version]
        self.entries[key] = entry
        return entry

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        if method == "GET" and self.caching and not path.startswith("/_pocketstack"):
            key = proxy_key(scope["headers"])
            if key is not None and self.unknown.get(key, 0.0) <= time.monotonic():
                try:
                    entry = await self._load(key)
                except Exception:  # (reported by _loaded) the main process answers it
                    entry = None
                page = entry and entry[2].get(path.rstrip("/") if path != "/" else "/")
                if page is not None:
                    await send({"type": "http.response.start", "status": page[0],
                                "headers": page[1]})
                    await send({"type": "http.response.body", "body": page[2]})
                    return
        if path.startswith("/_pocketstack"):  # the main process's, for workers only
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=UTF-8")]})
            await send({"type": "http.response.body", "body": NOT_FOUND})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        target = path.encode("latin-1")
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        try:
            status, headers, out = await self.upstream.request(method, target, scope["headers"],
                                                               body)
        except (OSError, ValueError, IndexError):
            status, headers, out = 500, [(b"content-type", b"text/plain")], b"500\n"
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def serve(host: str, port: int, upstream: str, ttl: float) -> None:
    parent = os.getppid()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cache = WorkerCache(Upstream(upstream), ttl)
    fast = FastServer(cache)
    await fast.serve(_listen(host, port))
    gc.freeze()  # the imports: never walked again
    print("ready", flush=True)
    ticks = 0
    while not stop.is_set() and os.getppid() == parent:
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            ticks += 1
            if ticks % 30 == 0:
                cache.sweep()
    fast.close()


def main(argv: list[str]) -> None:
    host, port, upstream, ttl = argv
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(host, int(port), upstream, float(ttl)))


if __name__ == "__main__":
    main(sys.argv[1:])
