"""The metadata API on port 8775 (Nova's metadata service with Neutron's proxy headers).

Not in the Keystone catalog (``catalog_type`` is empty) and without tokens: a caller is
an instance, identified by the headers Neutron's metadata proxy adds (see
:mod:`pocketstack.metadata.callers`). The service has its own lean ASGI ``__call__``:
a cache hit is a few dict lookups in the event loop and two ``send`` calls with
pre-rendered bytes; only misses, refreshes and password writes reach a worker thread.
``/healthcheck`` and ``/metrics`` go through the generic pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from pocketstack.metadata import config  # noqa: F401  (registers the options)
from pocketstack.api.service import Service
from pocketstack.metadata.cache import Batcher, Entry
from pocketstack.metadata.callers import Callers, Refused
from pocketstack.metadata.documents import OPENSTACK_VERSIONS, TEXT, Documents
from pocketstack.metadata.fastserver import proxy_key
from pocketstack.metadata.passwords import MAX_SIZE, Passwords, PasswordExists
from pocketstack.metadata.source import Source
from pocketstack.metadata.vendordata import VendorData
from pocketstack.metadata.worker import BUNDLE_PATH

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger("pocketstack.metadata")
_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 500: "Internal Server Error"}
_EXPLAIN = {403: "Access was denied to this resource.",
            404: "The resource could not be found.",
            405: "The method is not allowed for this resource.",
            409: "There was a conflict when trying to complete your request.",
            500: "The server has either erred or is incapable of performing the requested "
                 "operation."}
_PASSWORD_PATHS = {f"/openstack/{v}/password" for v in [*OPENSTACK_VERSIONS[1:], "latest"]}


def _error(status: int, message: str | None = None) -> tuple[int, list[Any], bytes]:
    text = f"{status} {_REASONS[status]}\n\n{message or _EXPLAIN.get(status, '')}\n\n   "
    body = text.encode()
    return status, [(b"content-type", TEXT.encode()),
                    (b"content-length", str(len(body)).encode())], body


class MetadataService(Service):
    name = "metadata"
    catalog_type = ""  # instances reach it through the proxy, not through the catalog
    catalog_name = "metadata"
    description = "Metadata service (Nova's, for instances)"
    port = 8775

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        conf = cloud.conf
        self.ttl = float(conf.get("api", "metadata_cache_expiration"))
        self.dhcp_domain = conf.get("api", "dhcp_domain")
        self.source = Source(cloud, self.ttl)
        self.passwords = Passwords(cloud.db)
        self.vendor = VendorData(conf)
        self.callers = Callers(self.source, self._secret(), self.ttl)
        self.docs: dict[str, Entry[Documents]] = {}
        self._loader: Batcher[str, Documents | None] = Batcher(self._build, max_batch=100)
        self._fingerprints: Batcher[str, Any] = Batcher(
            lambda keys: {k: self.source.fingerprint() for k in keys}, name="metadata-fp")
        self._fp: tuple[float, Any] = (0.0, None)
        self._revalidating: set[str] = set()
        self._last_sweep = time.monotonic()
        self._drive_lock = threading.Lock()
        self.stats = {"hits": 0, "misses": 0, "refreshes": 0, "denied": 0, "bundles": 0,
                      "bundles_unchanged": 0}
        cloud.metrics.gauge("pocketstack_metadata_requests",
                            "Metadata requests by outcome (cache hits, misses...).",
                            ["outcome"], lambda: [([k], float(v)) for k, v in
                                                  self.stats.items()])

    def _secret(self) -> bytes:
        import os
        import secrets

        configured = self.cloud.conf.get("neutron", "metadata_proxy_shared_secret")
        if configured:
            return configured.encode()
        path = os.path.join(self.cloud.data_dir, "metadata-proxy-secret")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(secrets.token_urlsafe(24) + "\n")
        with open(path, encoding="utf-8") as f:
            return f.read().strip().encode()

    # -- loading ----------------------------------------------------------------
    def _build(self, uuids: list[str]) -> dict[str, Documents | None]:
        """Worker thread: read the instances and render their documents."""
        out: dict[str, Documents | None] = {}
        fingerprint = self.source.fingerprint()  # before reading: changes meanwhile show
        for uuid, data in self.source.load(uuids).items():
            time.sleep(0)  # let the event loop have the GIL between instances
            if data is None:
                out[uuid] = None
                continue
            docs = Documents(data, self.dhcp_domain, self.vendor.static, {})
            docs.fingerprint = fingerprint
            docs.vendor2 = self.vendor.dynamic(data, docs.user_data)
            current = self.docs.get(uuid)
            if current is None or current.value.data != data or \
                    current.value.vendor2 != docs.vendor2:
                docs.prerender()  # (an unchanged instance keeps its pages: _store_value)
            out[uuid] = docs
        return out

    async def documents(self, uuid: str) -> Documents | None:
        now = time.monotonic()
        entry = self.docs.get(uuid)
        if entry is not None:
            if entry.expires > now:
                self.stats["hits"] += 1
                return entry.value
            if self.ttl > 0:  # stale: serve it, revalidate behind (once)
                if uuid not in self._revalidating:
                    self._revalidating.add(uuid)
                    asyncio.ensure_future(self._revalidate(uuid, entry))
                return entry.value
        self.stats["misses"] += 1
        docs = await self._loader.get(uuid)
        self._store_value(uuid, docs)
        return docs

    async def _revalidate(self, uuid: str, entry: Entry[Documents]) -> None:
        """Nothing changed in the tables since the documents were read: keep them for
        another cache period; else read the instance again."""
        try:
            now = time.monotonic()
            if now - self._fp[0] > 0.5:  # one query answers every instance for a moment
                self._fp = (now, await self._fingerprints.get("all"))
            if self._fp[1] == entry.value.fingerprint:
                self.docs[uuid] = Entry(entry.value, now + self.ttl, now)
                return
            self.stats["refreshes"] += 1
            self._store_value(uuid, await self._loader.get(uuid))
        except Exception:
            LOG.exception("refreshing the metadata of %s failed", uuid)
        finally:
            self._revalidating.discard(uuid)

    def _store_value(self, uuid: str, docs: Documents | None) -> None:
        old = self.docs.get(uuid)
        if docs is not None and old is not None and old.value.data == docs.data and \
                old.value.vendor2 == docs.vendor2:
            docs = old.value  # unchanged: keep the rendered pages (and their bytes)
        if docs is None:
            self.docs.pop(uuid, None)
        elif self.ttl > 0:  # expiries spread over the second half: refreshes do not bunch up
            now = time.monotonic()
            self.docs[uuid] = Entry(docs, now + self.ttl * (0.5 + random.random() / 2), now)

    # -- config drive (compute's hook) -----------------------------------------
    def config_drive(self, uuid: str) -> str | None:
        """Build ``DATA_DIR/instances/<uuid>/disk.config`` now, from the instance as it is
        (compute calls this before ``driver.spawn``); its path (None: no such instance).
        Idempotent: asked again, the same path, written whole again (atomic rename)."""
        from pocketstack.metadata.configdrive import build_for

        with self._drive_lock:
            return build_for(self, uuid)

    def drop_config_drive(self, uuid: str) -> None:
        """The instance is deleted: its config drive goes with it (compute's hook)."""
        from pocketstack.metadata.configdrive import remove

        remove(self.cloud.data_dir, uuid)
        self.invalidate(uuid)

    def invalidate(self, uuid: str) -> None:
        """Forget an instance's rendered documents (e.g. after its metadata changed)."""
        self.docs.pop(uuid, None)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < max(self.ttl, 5.0):
            return
        self._last_sweep = now
        horizon = now - max(self.ttl, 5.0) * 4
        for uuid in [u for u, e in self.docs.items() if e.expires < horizon]:
            del self.docs[uuid]
        self.callers.sweep(horizon)

    # -- ASGI ---------------------------------------------------------------------
    def _hot(self, scope: dict[str, Any]) -> tuple[int, list[Any], bytes] | None:
        return self._hot_lookup(scope["path"], scope["headers"])

    def hot_response(self, path: str, headers: list[tuple[bytes, bytes]]
                     ) -> tuple[bytes, bytes] | None:
        """For :mod:`fastserver`: (status line and headers, body) of a cache hit, or None."""
        wire = self._hot_lookup(path, headers)
        if wire is None:
            return None
        return wire[3], wire[2]

    async def serve_socket(self, sock: Any) -> None:
        """Serve the metadata port (called by ``pocketstack up``): with :class:`FastServer`
        in this event loop, or by ``metadata_workers`` processes (:mod:`workers`)."""
        count = int(self.cloud.conf.get("DEFAULT", "metadata_workers") or 0)
        if count > 0:
            from pocketstack.metadata.workers import Workers

            self.workers = Workers(self, count)
            await self.workers.start(sock)
            return
        from pocketstack.metadata.fastserver import FastServer

        self.fast = FastServer(self)
        await self.fast.serve(sock)

    def stop(self) -> None:
        workers = getattr(self, "workers", None)
        if workers is not None:
            workers.stop()

    def _hot_lookup(self, path: str, headers: list[tuple[bytes, bytes]]
                    ) -> tuple[int, list[Any], bytes] | None:
        """A GET answered from the caches alone, or None (then the full path runs)."""
        key = proxy_key(headers)
        if key is None:
            return None
        now = time.monotonic()
        hit = self.callers.known.get(key)
        if hit is None or hit[1] <= now:
            return None
        entry = self.docs.get(hit[0])
        if entry is None or entry.expires <= now:
            return None
        wire = entry.value.wire.get(path.rstrip("/") if path != "/" else "/")
        if wire is not None:
            self.stats["hits"] += 1
        return wire

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("method") == "GET" and scope["type"] == "http":
            wire = self._hot(scope)
            if wire is not None:
                await send({"type": "http.response.start", "status": wire[0],
                            "headers": wire[1]})  # wire[3]: the same, as HTTP/1.1 bytes
                await send({"type": "http.response.body", "body": wire[2]})
                return
        path = scope["path"]
        if scope["type"] != "http" or path in ("/healthcheck", "/metrics"):
            await super().__call__(scope, receive, send)
            return
        method = scope["method"]
        try:
            if path == BUNDLE_PATH and scope.get("pocketstack.internal"):
                status, headers, body = await self._bundle(scope)
            else:
                status, headers, body = await self._serve(scope, receive, method, path)
        except Refused as exc:
            self.stats["denied"] += 1
            status, headers, body = _error(exc.status, exc.message)
        except Exception:
            LOG.exception("unexpected error serving %s %s", method, path)
            status, headers, body = _error(500)
        if status >= 400 and status != 404:
            LOG.info('%s "%s %s" status: %s', (scope.get("client") or ("-",))[0], method,
                     path, status)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    async def _serve(self, scope: dict[str, Any], receive: Any, method: str, path: str
                     ) -> tuple[int, list[Any], bytes]:
        uuid, tenant = await self.callers.identify(scope["headers"])
        docs = await self.documents(uuid)
        if docs is None or (tenant is not None and docs.data.project_id != tenant):
            if docs is not None:
                LOG.warning("X-Tenant-ID %s does not match the project of instance %s",
                            tenant, uuid)
            raise Refused(404)
        now = time.monotonic()
        if now - self._last_sweep > 5.0:
            self._sweep(now)
        key = path.rstrip("/") if path != "/" else "/"
        if key in _PASSWORD_PATHS:
            return await self._password(docs, method, receive)
        if method not in ("GET", "HEAD"):
            raise Refused(405)
        return docs.response(key)[:3]

    async def _bundle(self, scope: dict[str, Any]) -> tuple[int, list[Any], bytes]:
        """A worker process fills its cache (:mod:`workers`): the caller's pages."""
        from pocketstack.metadata.workers import bundle

        uuid, _ = await self.callers.identify(scope["headers"])
        if await self.documents(uuid) is None:
            raise Refused(404)
        return 200, [(b"content-type", b"application/octet-stream")], bundle(
            self, scope["headers"], uuid)

    async def _password(self, docs: Documents, method: str, receive: Any
                        ) -> tuple[int, list[Any], bytes]:
        uuid = docs.data.uuid
        if method in ("GET", "HEAD"):
            body = (await run_in_threadpool(self.passwords.get, uuid)).encode()
            return 200, [(b"content-type", TEXT.encode()),
                         (b"content-length", str(len(body)).encode())], body
        if method != "POST":
            raise Refused(400)
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_SIZE:
                raise Refused(400, "Request is too large.")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        try:
            password = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "The password must be UTF-8 text.") from None
        try:
            await run_in_threadpool(self.passwords.set, uuid, password)
        except PasswordExists:
            raise Refused(409, "Password already set.") from None
        return 200, [(b"content-type", TEXT.encode()), (b"content-length", b"0")], b""
