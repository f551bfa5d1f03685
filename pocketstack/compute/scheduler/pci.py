"""Simulated PCI passthrough: the devices of the fake hosts, Nova's ``[pci] alias`` and
``[pci] device_spec`` options, a flavor's ``pci_passthrough:alias`` requests, and the
per-host pools that PciPassthroughFilter checks and the scheduler claims from.

The pools live in memory in the host states; they are rebuilt at start from the
driver's devices and the flavors (snapshots) of the servers on each host.

``[fake] pci_devices``: comma-separated ``[HOST=]VENDOR_ID:PRODUCT_ID[:COUNT]`` entries,
e.g. ``8086:1520:2, fake-host-2=10de:1db4`` (no ``HOST=``: every fake host has them).
``[pci] alias``: one JSON object per line, or a JSON list, as Nova's
``{"name": "gpu", "vendor_id": "10de", "product_id": "1db4"}``.
``[pci] device_spec``: the same forms, ``{"vendor_id": ..., "product_id": ...}``; when set,
only the matching devices can be passed through (when empty every fake device can).
"""

from __future__ import annotations

import json
from typing import Any

from pocketstack.api import errors

ALIAS_SPEC = "pci_passthrough:alias"
Key = tuple[str, str]  # (vendor_id, product_id)


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


def fake_devices(conf: Any, host: str) -> list[dict[str, Any]]:
    """The devices a fake host reports (Nova's pci_passthrough_devices shape)."""
    out: list[dict[str, Any]] = []
    for entry in conf.get("fake", "pci_devices") or []:
        where, _, what = entry.rpartition("=")
        if where and where.strip() != host:
            continue
        parts = [p.strip() for p in what.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"[fake] pci_devices: bad entry {entry!r} "
                             "(expected [HOST=]VENDOR_ID:PRODUCT_ID[:COUNT])")
        count = int(parts[2]) if len(parts) == 3 else 1
        for _ in range(count):
            n = len(out)
            out.append({"address": f"0000:{0x81 + n // 8:02x}:00.{n % 8}",
                        "vendor_id": _id(parts[0]), "product_id": _id(parts[1]),
                        "dev_type": "type-PCI", "status": "available", "numa_node": 0})
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
    """Free devices of one host, by (vendor_id, product_id), and who holds which."""

    def __init__(self, devices: list[dict[str, Any]], device_spec: list[dict[str, Any]],
                 alias_map: dict[str, list[Key]]) -> None:
        self.aliases = alias_map
        self.total: dict[Key, int] = {}
        for d in devices:
            if d.get("status", "available") != "available":
                continue
            if device_spec and not any(all(
                    _id(spec.get(k)) in ("", "*", _id(d.get(k)))
                    for k in ("vendor_id", "product_id")) for spec in device_spec):
                continue
            key = (_id(d.get("vendor_id")), _id(d.get("product_id")))
            self.total[key] = self.total.get(key, 0) + 1
        self.used: dict[Key, int] = {}
        self.claims: dict[str, dict[Key, int]] = {}

    def __bool__(self) -> bool:
        return bool(self.total)

    def free(self, uuid: str) -> None:
        for key, n in self.claims.pop(uuid, {}).items():
            self.used[key] -= n

    def _plan(self, requests: list[tuple[str, int]]) -> dict[Key, int] | None:
        taken: dict[Key, int] = {}
        for alias, count in requests:
            for key in self.aliases.get(alias, []):
                room = self.total.get(key, 0) - self.used.get(key, 0) - taken.get(key, 0)
                got = min(room, count)
                if got > 0:
                    taken[key] = taken.get(key, 0) + got
                    count -= got
                if not count:
                    break
            if count:
                return None
        return taken

    def supports(self, requests: list[tuple[str, int]]) -> bool:
        return self._plan(requests) is not None

    def claim(self, uuid: str, requests: list[tuple[str, int]]) -> bool:
        if not requests or uuid in self.claims:
            return True
        plan = self._plan(requests)
        if plan is None:
            return False
        self.claims[uuid] = plan
        for key, n in plan.items():
            self.used[key] = self.used.get(key, 0) + n
        return True

    def summary(self) -> list[dict[str, Any]]:
        return [{"vendor_id": k[0], "product_id": k[1], "count": n - self.used.get(k, 0)}
                for k, n in sorted(self.total.items())]


def stats_for(conf: Any, devices: list[dict[str, Any]]) -> PciStats | None:
    if not devices:
        return None
    stats = PciStats(devices, _json_dicts(conf.get("pci", "device_spec"), "device_spec"),
                     aliases(conf))
    return stats or None
