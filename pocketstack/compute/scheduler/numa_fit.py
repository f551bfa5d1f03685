"""A host's NUMA cells and the guests fitted onto them (scheduler memory), as Nova's
``numa_fit_instance_to_host``: each guest cell on its own host cell, with enough free
memory (of the asked page size), shared CPUs for its unpinned vCPUs and free dedicated
CPUs for its pinned ones, packed onto thread siblings by the CPU thread policy
(``prefer``/``require``/``isolate``), plus one more dedicated CPU on the first cell for
``hw:emulator_threads_policy=isolate``; and, with PCI requests, devices the chosen cells
may use under the PCI NUMA affinity policy.

A guest request is what :func:`pocketstack.compute.numa.request` returns; a fitted cell
is ``{"id", "host_node", "cpus", "pcpus", "memory_mb", "pagesize", "cpu_pinning",
"cpuset_reserved", "taken"}`` (``taken``: the host CPUs the cell holds, siblings that
``isolate`` keeps idle included)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

SMALL = 4  # KiB


@dataclass
class HostCell:
    id: int
    cpus: list[int]  # shared (unpinned guests)
    memory_mb: int  # of small pages
    pages: dict[int, int]  # huge page size (KiB) -> total pages
    pcpus: list[int] = field(default_factory=list)  # pinnable (cpus too on a legacy host)
    siblings: list[frozenset[int]] = field(default_factory=list)  # SMT thread siblings
    socket: int | None = None
    pinned: set[int] = field(default_factory=set)
    cpu_used: int = 0
    mem_used: int = 0  # MB of small pages
    pages_used: dict[int, int] = field(default_factory=dict)

    @property
    def threads(self) -> int:
        return max((len(s) for s in self.siblings), default=1) or 1

    @property
    def legacy(self) -> bool:
        """Every CPU both shared and pinnable (no cpu_dedicated_set/cpu_shared_set)."""
        return sorted(self.cpus) == sorted(self.pcpus)

    def free_siblings(self) -> list[list[int]]:
        free = set(self.pcpus) - self.pinned
        sibs = self.siblings or [frozenset([c]) for c in self.pcpus]
        out = [sorted(s & free) for s in sibs]
        return [s for s in out if s]


def guest_pinned(want: dict[str, Any], req: dict[str, Any]) -> list[int]:
    """The guest CPUs of a cell that are pinned (all of them for ``dedicated``)."""
    if "pcpus" in want:
        return list(want["pcpus"])
    return list(want["cpus"]) if req.get("dedicated") else []


def _pins(guest: list[int], host: list[int]) -> dict[str, int]:
    return {str(v): p for v, p in zip(sorted(guest), host)}


def pack(hc: HostCell, guest: list[int], policy: str | None, reserve: int
         ) -> tuple[dict[str, int], list[int], set[int]] | None:
    """(pinning, reserved, taken) of ``guest`` vCPUs (and ``reserve`` more CPUs for the
    emulator threads) on the free dedicated CPUs of ``hc``, or None, as Nova packs them:
    ``require`` on siblings of SMT cores only; ``prefer`` (the default) on siblings when
    it can, else anywhere; ``isolate`` one vCPU per wholly free core, its siblings kept
    idle (refused on an SMT host with dedicated CPUs: Nova's placement query forbids
    HW_CPU_HYPERTHREADING there; a legacy host is fitted this way)."""
    threads, n = hc.threads, len(guest)
    free = hc.free_siblings()
    if policy == "isolate":
        if threads > 1 and not hc.legacy:
            return None
        whole = [s for s in free if len(s) == threads]
        if len(whole) < n:
            return None
        used = whole[:n]
        rest = [c for s in free if s not in used for c in s][:reserve]
        if len(rest) < reserve:
            return None
        taken = {c for s in used for c in s} | set(rest)
        return _pins(guest, [s[0] for s in used]), rest, taken
    if policy == "require" and threads <= 1:
        return None
    for t in range(threads, 1 if policy == "require" else 0, -1):
        usable = [s[:t] for s in free if len(s) >= t]
        if len(usable) * t < n:
            continue
        host = list(itertools.chain(*usable))[:n]
        rest = [c for s in free for c in s if c not in host][:reserve]
        if len(rest) < reserve:
            continue
        return _pins(guest, host), rest, set(host) | set(rest)
    if policy == "require":
        return None
    flat = [c for s in free for c in s]
    if len(flat) < n + reserve:
        return None
    host, rest = flat[:n], flat[n:n + reserve]
    return _pins(guest, host), rest, set(host) | set(rest)


class HostNUMA:
    """The NUMA cells of one host and the fitted guests on them (scheduler memory)."""

    def __init__(self, cells: list[dict[str, Any]], pack: bool = False) -> None:
        self.pack = bool(pack)  # [compute] packing_host_numa_cells_allocation_strategy
        self.cells = [HostCell(c["id"], list(c["cpus"]), int(c["memory_mb"]),
                               {int(k): int(v) for k, v in (c.get("pages") or {}).items()},
                               list(c["pcpus"] if "pcpus" in c else c["cpus"]),
                               [frozenset(s) for s in c.get("siblings") or []],
                               c.get("socket"))
                      for c in cells]
        self.claims: dict[str, list[dict[str, Any]]] = {}
        self.requests: dict[str, Any] = {}
        self._lock = threading.Lock()

    def socket_of(self, node: int) -> int | None:
        return next((c.socket for c in self.cells if c.id == node), None)

    def _cell_fit(self, hc: HostCell, want: dict[str, Any], req: dict[str, Any],
                  cpu_ratio: float, ram_ratio: float, reserve: int) -> dict[str, Any] | None:
        mem = int(want["memory_mb"])
        guest = guest_pinned(want, req)
        shared = [c for c in want["cpus"] if c not in set(guest)]
        pinned_guest = bool(guest) or req.get("policy") in ("dedicated", "mixed")
        # pinned guests do not overcommit memory (Nova: avail_memory, not the ratio)
        size = _page_for(hc, mem, req["pagesize"], 1.0 if pinned_guest else ram_ratio)
        if size is None:
            return None
        pinning: dict[str, int] | None = None
        reserved: list[int] = []
        taken: set[int] = set()
        if guest or reserve:
            if len(guest) + reserve > len(hc.pcpus):
                return None
            packed = pack(hc, guest, req.get("thread_policy"), reserve)
            if packed is None:
                return None
            pinning, reserved, taken = packed
        if shared and (len(shared) > len(hc.cpus) or hc.cpu_used + len(shared) >
                       len(set(hc.cpus) - hc.pinned) * cpu_ratio):
            return None
        return {"id": want["id"], "host_node": hc.id, "cpus": list(want["cpus"]),
                "pcpus": guest, "memory_mb": mem,
                "pagesize": size if req["pagesize"] is not None else None,
                "cpu_pinning": pinning, "cpuset_reserved": reserved,
                "taken": sorted(taken)}

    def _ordered(self, req: dict[str, Any], pci_counts: dict[Any, int] | None,
                 wants_pci: bool) -> list[HostCell]:
        """The host cells in the order Nova tries them when there are more than the
        guest has: spread (most free memory, then least CPU usage or most free dedicated
        CPUs, first) or packed, and then cells with PCI devices first for a guest that
        asks for devices, last for one that does not."""
        cells = list(self.cells)
        if len(cells) <= len(req["cells"]):
            return cells
        spread = not self.pack
        cells.sort(key=lambda c: c.memory_mb - c.mem_used, reverse=spread)
        if req.get("policy") in ("dedicated", "mixed") or req.get("dedicated"):
            cells.sort(key=lambda c: len(set(c.pcpus) - c.pinned), reverse=spread)
        else:
            cells.sort(key=lambda c: c.cpu_used, reverse=self.pack)
        if pci_counts:
            cells.sort(key=lambda c: pci_counts.get(c.id, 0), reverse=wants_pci)
        return cells

    def fit(self, req: dict[str, Any], cpu_ratio: float = 16.0, ram_ratio: float = 1.5,
            pci_ok: Callable[[list[int]], bool] | None = None,
            pci_counts: dict[Any, int] | None = None) -> list[dict[str, Any]] | None:
        """Each guest cell on a distinct host cell (the first arrangement that fits, and
        whose cells can give the PCI devices asked for when ``pci_ok`` is given;
        ``pci_counts``: the host's devices by NUMA node)."""
        wanted = req["cells"]
        reserve = 1 if req.get("emulator") == "isolate" else 0
        with self._lock:
            cells = self._ordered(req, pci_counts, pci_ok is not None)
            for order in itertools.permutations(cells, len(wanted)):
                out = []
                for hc, want in zip(order, wanted):
                    got = self._cell_fit(hc, want, req, cpu_ratio, ram_ratio,
                                         reserve if not out else 0)
                    if got is None:
                        break
                    out.append(got)
                else:
                    if pci_ok is None or pci_ok([c["host_node"] for c in out]):
                        out[0]["emulator_cpus"] = self._emulator_cpus(req, out)
                        return out
        return None

    def _emulator_cpus(self, req: dict[str, Any], cells: list[dict[str, Any]]) -> list[int]:
        """Where the guest's emulator threads run (libvirt's emulatorpin, as Nova sets
        it): ``isolate`` on the extra CPU reserved, ``share`` on the host's
        cpu_shared_set when it has one, else on all of the guest's pinned CPUs."""
        if req.get("emulator") == "isolate":
            return list(cells[0]["cpuset_reserved"])
        pinned = sorted(p for c in cells for p in (c["cpu_pinning"] or {}).values())
        shared = sorted({x for hc in self.cells if not hc.legacy for x in hc.cpus})
        return shared if req.get("emulator") == "share" and shared and pinned else pinned

    def claim(self, uuid: str, cells: list[dict[str, Any]], req: Any = None) -> None:
        with self._lock:
            if uuid in self.claims:
                return
            self.claims[uuid], self.requests[uuid] = cells, req
            self._apply(cells, +1)

    def release(self, uuid: str) -> None:
        with self._lock:
            cells = self.claims.pop(uuid, None)
            self.requests.pop(uuid, None)
            if cells is not None:
                self._apply(cells, -1)

    def transfer(self, from_uuid: str, to_uuid: str) -> None:
        with self._lock:
            if from_uuid in self.claims:
                self.claims[to_uuid] = self.claims.pop(from_uuid)
                self.requests[to_uuid] = self.requests.pop(from_uuid, None)

    def topology_of(self, uuid: str) -> dict[str, Any] | None:
        """The topology a claim here holds (e.g. a reverted resize's source claim)."""
        with self._lock:
            if uuid not in self.claims or self.requests.get(uuid) is None:
                return None
            return topology(self.requests[uuid], self.claims[uuid])

    def _apply(self, cells: list[dict[str, Any]], sign: int) -> None:
        by_id = {hc.id: hc for hc in self.cells}
        for c in cells:
            hc = by_id.get(c["host_node"])
            if hc is None:
                continue
            pinning = c.get("cpu_pinning") or {}
            pins = set(c.get("taken") or pinning.values())
            if sign > 0:
                hc.pinned |= pins
            else:
                hc.pinned -= pins
            hc.cpu_used += sign * (len(c["cpus"]) - len(pinning))
            size = c.get("pagesize")
            if size and size != SMALL:
                hc.pages_used[size] = hc.pages_used.get(size, 0) + \
                    sign * c["memory_mb"] * 1024 // size
            else:
                hc.mem_used += sign * c["memory_mb"]


def _page_for(hc: HostCell, mem_mb: int, wanted: Any, ram_ratio: float) -> int | None:
    """The page size (KiB) the cell can back ``mem_mb`` with, or None."""
    if wanted is None:  # no page size asked: small pages, overcommitted
        return SMALL if hc.mem_used + mem_mb <= hc.memory_mb * ram_ratio else None
    huge = sorted(hc.pages, reverse=True)
    sizes = {"small": [SMALL], "large": huge, "any": huge + [SMALL]}.get(
        wanted, [wanted] if isinstance(wanted, int) else [])
    for size in sizes:
        if size == SMALL:
            if hc.mem_used + mem_mb <= hc.memory_mb:
                return SMALL
            continue
        need, rest = divmod(mem_mb * 1024, size)
        if not rest and hc.pages.get(size, 0) - hc.pages_used.get(size, 0) >= need:
            return size
    return None


def topology(req: dict[str, Any], cells: list[dict[str, Any]]) -> dict[str, Any]:
    """What the instance keeps (its ``numa_topology`` column)."""
    return {"request": req, "cells": cells}


def view(topo: dict[str, Any] | None, show_host: bool) -> dict[str, Any]:
    """GET /servers/{id}/topology's body (host_node and cpu_pinning for admins): every
    vCPU of a cell in ``vcpu_set``, the pinned ones (all, or those of
    ``hw:cpu_dedicated_mask``) in ``cpu_pinning``."""
    if not topo or not topo.get("cells"):
        return {"nodes": [], "pagesize_kb": None}
    nodes, pagesize = [], None
    for c in topo["cells"]:
        node: dict[str, Any] = {"vcpu_set": list(c["cpus"]), "siblings": [],
                                "memory_mb": c["memory_mb"]}
        if show_host:
            node["host_node"] = c["host_node"]
            node["cpu_pinning"] = {int(k): v for k, v in
                                   (c.get("cpu_pinning") or {}).items()}
        if c.get("pagesize"):
            pagesize = c["pagesize"]
        nodes.append(node)
    return {"nodes": nodes, "pagesize_kb": pagesize}


def fit_for(host: Any, spec: Any) -> list[dict[str, Any]] | None:
    """Fit ``spec.numa`` to a scheduler host state (None: no fit, or no NUMA cells);
    the result is kept on the spec for the claim that follows. With PCI requests, the
    chosen cells must be able to give the devices under the request's PCI NUMA
    affinity policy (Nova checks them in the same fit)."""
    if host.numa is None:
        return None
    pci_ok = None
    if spec.pci_requests and host.pci is not None:
        policy = spec.numa.get("pci_policy")
        host.pci.socket_of = host.numa.socket_of

        def pci_ok(nodes: list[int]) -> bool:
            return host.pci.supports(spec.pci_requests, nodes, policy)
    counts: dict[Any, int] = {}
    for pool, n in (host.pci.total.items() if host.pci is not None else ()):
        counts[pool[2]] = counts.get(pool[2], 0) + n
    cells = host.numa.fit(spec.numa, host.cpu_allocation_ratio, host.ram_allocation_ratio,
                          pci_ok, counts)
    spec.numa_fit = (host.host, cells)
    return cells


def cpu_fits(st: Any, spec: Any, no_fallback: bool) -> bool:
    """A pinned guest's CPUs: PCPU on a host that reports some (its unpinned vCPUs are
    VCPU, which the core filter checks); on a legacy host (no cpu_dedicated_set and
    cpu_shared_set) all VCPU, Nova's fallback query, unless ``[workarounds]
    disable_fallback_pcpu_query``."""
    from pocketstack.compute.numa import spec_cpus

    if st.total_pcpus:
        return st.free_pcpus >= (spec.pcpus or 0)
    return st.legacy_cpus and st.free_vcpus >= spec_cpus(spec, False)[0] and not no_fallback
