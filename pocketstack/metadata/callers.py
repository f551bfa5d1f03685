"""Who is calling: the instance behind a metadata request, as Neutron's proxy tells it.

Two ways, checked in this order:

* signed: ``X-Instance-ID``, ``X-Tenant-ID`` and ``X-Instance-ID-Signature``, the
  HMAC-SHA256 of the instance id with ``[neutron] metadata_proxy_shared_secret``
  (compared in constant time; a wrong signature is a 403; the tenant must own the
  instance, else 404);
* by address: ``X-Forwarded-For`` (the instance's fixed IP) with
  ``X-Neutron-Network-ID`` (the network it is on) or ``X-Neutron-Router-ID`` (a router
  with an interface on that network): the instance port with that IP gives the
  instance (its ``device_id``).

Anything else is an unknown caller: 404, and nothing about any instance. The
fixed-IP tables are loaded per network, in one query, cached for the metadata cache
time; an address missing from a table older than 0.1 s reloads it once (an
instance that just booted is found at once, a flood of unknown addresses costs at
most ten queries per second and network; with a one-second guard an instance
booting within a second of the previous one waited up to that second for its metadata).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from pocketstack.metadata.cache import Batcher, Entry
from pocketstack.metadata.source import Source

_WANTED = {b"x-instance-id", b"x-tenant-id", b"x-instance-id-signature", b"x-forwarded-for",
           b"x-neutron-network-id", b"x-neutron-router-id"}
_RELOAD_AFTER = 0.1


class Refused(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or str(status))
        self.status = status
        self.message = message


class Callers:
    def __init__(self, source: Source, secret: bytes, ttl: float) -> None:
        self.source = source
        self.secret = secret
        self.ttl = max(ttl, _RELOAD_AFTER)
        self.nets: dict[str, Entry[dict[str, str]]] = {}
        # (X-Forwarded-For, X-Neutron-Network-ID) as received -> (uuid, until): the hot path
        self.known: dict[tuple[bytes, bytes], tuple[str, float]] = {}
        self.routers: dict[str, Entry[list[str]]] = {}
        self._nets: Batcher[str, dict[str, str]] = Batcher(
            lambda ids: {i: self.source.addresses(i) for i in ids}, name="metadata-callers")
        self._routers: Batcher[str, list[str]] = Batcher(
            lambda ids: {i: self.source.router_networks(i) for i in ids},
            name="metadata-routers")

    def sign(self, instance_id: str) -> str:
        return hmac.new(self.secret, instance_id.encode(), hashlib.sha256).hexdigest()

    async def identify(self, raw_headers: list[tuple[bytes, bytes]]
                       ) -> tuple[str, str | None]:
        """(instance uuid, tenant to check or None) or :class:`Refused`."""
        h: dict[bytes, bytes] = {}
        for k, v in raw_headers:
            if k in _WANTED:
                if k in h and k == b"x-instance-id":
                    raise Refused(400, "Multiple X-Instance-ID headers found within request.")
                h[k] = v
        if b"x-instance-id" in h or b"x-instance-id-signature" in h:
            return self._signed(h)
        forwarded = h.get(b"x-forwarded-for")
        if forwarded is None:
            raise Refused(404)
        network = h.get(b"x-neutron-network-id")
        if network is not None:
            hit = self.known.get((forwarded, network))
            if hit is not None and hit[1] > time.monotonic():
                return hit[0], None
        ip = forwarded.split(b",")[0].strip().decode("latin-1")
        if network is not None:
            uuid = await self._lookup(network.decode("latin-1"), ip)
            if uuid:
                entry = self.nets[network.decode("latin-1")]
                self.known[(forwarded, network)] = (uuid, entry.expires)
        elif b"x-neutron-router-id" in h:
            uuid = None
            for net in await self._router(h[b"x-neutron-router-id"].decode("latin-1")):
                uuid = await self._lookup(net, ip)
                if uuid:
                    break
        else:
            raise Refused(404)
        if not uuid:
            raise Refused(404)
        return uuid, None

    def _signed(self, h: dict[bytes, bytes]) -> tuple[str, str | None]:
        instance = h.get(b"x-instance-id")
        tenant = h.get(b"x-tenant-id")
        signature = h.get(b"x-instance-id-signature", b"")
        if not instance:
            raise Refused(400, "X-Instance-ID header is missing from request.")
        if not tenant:
            raise Refused(400, "X-Tenant-ID header is missing from request.")
        expected = hmac.new(self.secret, instance, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(expected, signature):
            raise Refused(403)
        return instance.decode("latin-1"), tenant.decode("latin-1")

    async def _lookup(self, network: str, ip: str) -> str | None:
        now = time.monotonic()
        entry = self.nets.get(network)
        if entry is None or entry.expires <= now:
            entry = await self._load_net(network)
        uuid = entry.value.get(ip)
        if uuid is None and now - entry.loaded > _RELOAD_AFTER:
            entry = await self._load_net(network)
            uuid = entry.value.get(ip)
        return uuid

    async def _load_net(self, network: str) -> Entry[dict[str, str]]:
        table = await self._nets.get(network) or {}
        now = time.monotonic()
        entry = self.nets[network] = Entry(table, now + self.ttl, now)
        return entry

    async def _router(self, router: str) -> list[str]:
        now = time.monotonic()
        entry = self.routers.get(router)
        if entry is None or entry.expires <= now:
            nets = await self._routers.get(router) or []
            entry = self.routers[router] = Entry(nets, now + self.ttl, now)
        return entry.value

    def sweep(self, horizon: float) -> None:
        for key in [k for k, (_, until) in self.known.items() if until < horizon]:
            del self.known[key]
        for table in (self.nets, self.routers):
            for key in [k for k, e in table.items() if e.expires < horizon]:
                del table[key]
