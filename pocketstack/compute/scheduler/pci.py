"""Simulated PCI passthrough: the devices of the fake hosts, Nova's ``[pci] alias`` and
``[pci] device_spec`` options, a flavor's ``pci_passthrough:alias`` requests, and the
per-host pools that PciPassthroughFilter checks and the scheduler claims from.

The pools live in memory in the host states; they are rebuilt at start from the
driver's devices and the flavors (snapshots) of the servers on each host.

``[fake] pci_devices``: comma-separated ``[HOST=]VENDOR_ID:PRODUCT_ID[:COUNT][@NODE]``
entries, e.g. ``8086:1520:2, fake-host-2=10de:1db4@1`` (no ``HOST=``: every fake host has
them; ``@NODE``: the NUMA node of the devices, 0 by default, ``@none`` for none).
``[pci] alias``: one JSON object per line, or a JSON list, as Nova's
``{"name": "gpu", "vendor_id": "10de", "product_id": "1db4", "numa_policy": "required"}``.

PCI NUMA affinity (Nova's ``_filter_pools_for_numa_cells``): for a guest with a NUMA
topology, ``hw:pci_numa_affinity_policy`` (or the image's ``hw_pci_numa_affinity_policy``,
else the alias's ``numa_policy``, else ``legacy``) decides which devices its cells may
use: ``required`` only those of its host NUMA nodes; ``legacy`` those, or devices without
a NUMA node; ``preferred`` any, its own nodes' first; ``socket`` those on the sockets of
its nodes; a guest without a NUMA topology takes any device.
``[pci] device_spec``: the same forms, ``{"vendor_id": ..., "product_id": ...}``; when set,
only the matching devices can be passed through (when empty every fake device can).
"""

from __future__ import annotations

import json
from typing import Any

from pocketstack.api import errors

ALIAS_SPEC = "pci_passthrough:alias"
Key = tuple[str, str]  # (vendor_id, product_id)
Pool = tuple[str, str, Any]  # (vendor_id, product_id, numa_node or None)


def _json_dicts(raw: Any, option: str) -> list[dict[str, Any]]:
    if not raw:
        return []
    if isinstance(raw, (list, dict)):
        items = raw if isinstance(raw, list) else [raw]
    else:
        text = str(raw).strip()
        try:
            loaded = json.loads(text)
            items = loaded if isinstance(loaded, list) else [loaded]
        except ValueError:
            try:
                items = [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError as exc:
                raise ValueError(f"[pci] {option}: not JSON: {exc}") from None
    if not all(isinstance(i, dict) for i in items):
        raise ValueError(f"[pci] {option}: expected JSON objects")
    return items


def _id(value: Any) -> str:
    return str(value or "").strip().lower()


def aliases(conf: Any) -> dict[str, list[Key]]:
    """alias name -> the (vendor_id, product_id) it may be (Nova allows several)."""
    out: dict[str, list[Key]] = {}
    for item in _json_dicts(conf.get("pci", "alias"), "alias"):
        if item.get("name"):
            out.setdefault(str(item["name"]), []).append(
                (_id(item.get("vendor_id")), _id(item.get("product_id"))))
    return out


def alias_policies(conf: Any) -> dict[str, str]:
    """alias name -> its ``numa_policy`` (when the alias sets one)."""
    return {str(i["name"]): str(i["numa_policy"])
            for i in _json_dicts(conf.get("pci", "alias"), "alias")
            if i.get("name") and i.get("numa_policy")}


def placed(cells: Any, req: Any) -> tuple[list[int] | None, str | None]:
    """(the host NUMA nodes of a guest's fitted cells, its PCI NUMA affinity policy):
    the NUMA arguments of :meth:`PciStats.claim`."""
    if not cells:
        return None, None
    return [c["host_node"] for c in cells], (req or {}).get("pci_policy")


def fake_devices(conf: Any, host: str) -> list[dict[str, Any]]:
    """The devices a fake host reports (Nova's pci_passthrough_devices shape)."""
    out: list[dict[str, Any]] = []
    for entry in conf.get("fake", "pci_devices") or []:
        where, _, what = entry.rpartition("=")
        if where and where.strip() != host:
            continue
        what, _, node_text = what.partition("@")
        parts = [p.strip() for p in what.split(":")]
        node_text = node_text.strip().lower() or "0"
        if len(parts) not in (2, 3) or not all(parts) or not (
                node_text.isdigit() or node_text == "none"):
            raise ValueError(f"[fake] pci_devices: bad entry {entry!r} "
                             "(expected [HOST=]VENDOR_ID:PRODUCT_ID[:COUNT][@NODE])")
        node = None if node_text == "none" else int(node_text)
        count = int(parts[2]) if len(parts) == 3 else 1
        for _ in range(count):
            n = len(out)
            out.append({"address": f"0000:{0x81 + n // 8:02x}:00.{n % 8}",
                        "vendor_id": _id(parts[0]), "product_id": _id(parts[1]),
                        "dev_type": "type-PCI", "status": "available", "numa_node": node})
    return out


def requests_for(conf: Any, extra_specs: dict[str, Any]) -> list[tuple[str, int]]:
    """A flavor's ``pci_passthrough:alias`` (``name:count[,name:count]``) as requests;
    BadRequest (Nova's 400) for an alias that ``[pci] alias`` does not define."""
    spec = (extra_specs or {}).get(ALIAS_SPEC)
    if not spec:
        return []
    try:
        known = aliases(conf)
    except ValueError as exc:  # Nova's PciInvalidAlias: a 400 too
        raise errors.BadRequest(f"Invalid PCI alias definition: {exc}") from None
    out = []
    for item in str(spec).split(","):
        name, _, count = item.strip().partition(":")
        name = name.strip()
        if not count.strip().isdigit() or int(count) < 1 or not name:
            raise errors.BadRequest(f"Invalid PCI alias definition: {item.strip()!r}")
        if name not in known:
            raise errors.BadRequest(f"PCI alias {name} is not defined")
        out.append((name, int(count)))
    return out


def held_requests(conf: Any, extra_specs: dict[str, Any]) -> list[tuple[str, int]]:
    """:func:`requests_for` for a server that already exists (a move, an unshelve): an
    alias the config no longer defines asks for nothing rather than failing the move."""
    try:
        return requests_for(conf, extra_specs)
    except errors.BadRequest:
        return []


class PciStats:
    """Free devices of one host, by pool (vendor_id, product_id, NUMA node), and who
    holds which."""

    def __init__(self, devices: list[dict[str, Any]], device_spec: list[dict[str, Any]],
                 alias_map: dict[str, list[Key]],
                 alias_policy: dict[str, str] | None = None) -> None:
        self.aliases = alias_map
        self.alias_policy = alias_policy or {}
        self.total: dict[Pool, int] = {}
        for d in devices:
            if d.get("status", "available") != "available":
                continue
            if device_spec and not any(all(
                    _id(spec.get(k)) in ("", "*", _id(d.get(k)))
                    for k in ("vendor_id", "product_id")) for spec in device_spec):
                continue
            pool = (_id(d.get("vendor_id")), _id(d.get("product_id")), d.get("numa_node"))
            self.total[pool] = self.total.get(pool, 0) + 1
        self.used: dict[Pool, int] = {}
        self.claims: dict[str, dict[Pool, int]] = {}
        self.socket_of: Any = None  # host NUMA node -> socket (set by the NUMA fit)

    def __bool__(self) -> bool:
        return bool(self.total)

    def free(self, uuid: str) -> None:
        for pool, n in self.claims.pop(uuid, {}).items():
            self.used[pool] = self.used.get(pool, 0) - n

    def _pools(self, keys: list[Key], count: int, nodes: list[int] | None,
               policy: str, socket_of: Any, taken: dict[Pool, int]) -> list[Pool]:
        """The pools a request may take from, in the order it takes them."""
        def room(pools: list[Pool]) -> int:
            return sum(self.total[p] - self.used.get(p, 0) - taken.get(p, 0) for p in pools)

        pools = [p for p in sorted(self.total, key=str) if p[:2] in keys]
        if nodes is None:
            return pools
        affine = [p for p in pools if p[2] in nodes]
        if policy == "required" or room(affine) >= count:
            return affine
        if policy == "socket":
            sockets = {socket_of(n) for n in nodes} if socket_of else {None}
            if None in sockets:
                return []
            return [p for p in pools if p[2] is not None and socket_of(p[2]) in sockets]
        loose = affine + [p for p in pools if p[2] is None]
        if policy == "legacy" or room(loose) >= count:
            return loose
        return loose + [p for p in pools if p not in loose]  # preferred

    def _plan(self, requests: list[tuple[str, int]], nodes: list[int] | None = None,
              policy: str | None = None, socket_of: Any = None) -> dict[Pool, int] | None:
        taken: dict[Pool, int] = {}
        socket_of = socket_of or self.socket_of
        for alias, count in requests:
            wanted = policy or self.alias_policy.get(alias) or "legacy"
            for pool in self._pools(self.aliases.get(alias, []), count, nodes, wanted,
                                    socket_of, taken):
                room = self.total[pool] - self.used.get(pool, 0) - taken.get(pool, 0)
                got = min(room, count)
                if got > 0:
                    taken[pool] = taken.get(pool, 0) + got
                    count -= got
                if not count:
                    break
            if count:
                return None
        return taken

    def supports(self, requests: list[tuple[str, int]], nodes: list[int] | None = None,
                 policy: str | None = None, socket_of: Any = None) -> bool:
        """Whether the requests fit (from the pools of ``nodes`` under ``policy`` when
        the guest has NUMA cells on those host nodes)."""
        return self._plan(requests, nodes, policy, socket_of) is not None

    def claim(self, uuid: str, requests: list[tuple[str, int]],
              nodes: list[int] | None = None, policy: str | None = None,
              socket_of: Any = None) -> bool:
        if not requests or uuid in self.claims:
            return True
        plan = self._plan(requests, nodes, policy, socket_of)
        if plan is None and nodes is not None:  # (a restart with a changed config)
            plan = self._plan(requests)
        if plan is None:
            return False
        self.claims[uuid] = plan
        for pool, n in plan.items():
            self.used[pool] = self.used.get(pool, 0) + n
        return True

    def summary(self) -> list[dict[str, Any]]:
        return [{"vendor_id": k[0], "product_id": k[1], "numa_node": k[2],
                 "count": n - self.used.get(k, 0)}
                for k, n in sorted(self.total.items(), key=str)]


def stats_for(conf: Any, devices: list[dict[str, Any]]) -> PciStats | None:
    if not devices:
        return None
    stats = PciStats(devices, _json_dicts(conf.get("pci", "device_spec"), "device_spec"),
                     aliases(conf), alias_policies(conf))
    return stats or None
