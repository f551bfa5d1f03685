"""Guest NUMA topology and pinned CPUs: what a flavor (``hw:numa_nodes``, ``hw:numa_cpus.N``,
``hw:numa_mem.N``, ``hw:cpu_policy``, ``hw:mem_page_size``) and its image
(``hw_numa_nodes``, ``hw_cpu_policy``, ``hw_mem_page_size``...) ask for, fitted to a
host's NUMA cells (the fake driver simulates them) at claim time, as Nova's
``numa_fit_instance_to_host``: each guest cell on its own host cell, with enough free
memory (of the asked page size) and CPUs (pinned one to one for ``dedicated``).

:func:`request` costs one scan of the extra specs and returns None when nothing NUMA is
asked for: then nothing here runs. The fitted topology is stored on the instance
(``numa_topology``) and shown by GET /servers/{id}/topology (2.78).

Pinned CPUs are PCPU, as Nova since Train: a host reports PCPU inventory for its
``[compute] cpu_dedicated_set`` and VCPU for its ``cpu_shared_set``, and a pinned guest
(``hw:cpu_policy=dedicated``, the image's ``hw_cpu_policy`` or ``resources:PCPU=N``) asks
for PCPU and is pinned onto dedicated CPUs only. A host with neither option set is a
legacy host (every CPU shared and pinnable, no PCPU inventory): a pinned guest lands there
claiming VCPU unless ``[workarounds] disable_fallback_pcpu_query`` is set (Nova's
fallback query). :func:`host_cpu_sets` is Nova's libvirt rule for the two sets."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from pocketstack.api import errors
from pocketstack.config import Opt, register

register(
    Opt("compute", "cpu_dedicated_set", str, "",
        "Host CPUs (e.g. '2-3,6-7') for pinned guests, reported as PCPU inventory (the "
        "fake driver: each simulated host's CPUs are numbered 0..[fake] vcpus-1)."),
    Opt("compute", "cpu_shared_set", str, "",
        "Host CPUs for unpinned guests, reported as VCPU inventory (unset: every CPU "
        "when cpu_dedicated_set is unset too, else none)."),
    Opt("fake", "cpu_dedicated_hosts", list, [],
        "Fake hosts configured with [compute] cpu_dedicated_set (empty: every fake host); "
        "the others have no dedicated CPUs (no PCPU inventory)."),
    Opt("workarounds", "disable_fallback_pcpu_query", bool, False,
        "Do not let pinned guests fall back to claiming VCPU on legacy hosts (hosts "
        "without cpu_dedicated_set and cpu_shared_set)."),
)

SMALL = 4  # KiB
_FLAVOR_KEYS = ("hw:numa_nodes", "hw:cpu_policy", "hw:mem_page_size")
_IMAGE_KEYS = ("hw_numa_nodes", "hw_cpu_policy", "hw_mem_page_size")
_POLICIES = ("dedicated", "mixed", "shared")
NO_NUMA: dict[str, Any] = {"cells": []}  # a move to a flavor without NUMA specs
_UNITS = {"": 1, "k": 1, "kb": 1, "kib": 1, "m": 1024, "mb": 1024, "mib": 1024,
          "g": 1048576, "gb": 1048576, "gib": 1048576}


def _wants(specs: dict[str, Any], image: dict[str, Any]) -> bool:
    return any(k in specs for k in _FLAVOR_KEYS) or any(k in image for k in _IMAGE_KEYS) \
        or any(k.startswith("hw:numa_") or k.endswith(":PCPU") and _CPU_RC.fullmatch(k)
               for k in specs)


_CPU_RC = re.compile(r"resources(?:[1-9][0-9]*)?:(VCPU|PCPU)")


def _explicit_cpus(specs: dict[str, Any]) -> tuple[int, int]:
    """(VCPU, PCPU) asked for by ``resources[N]:VCPU``/``resources[N]:PCPU``."""
    out = {"VCPU": 0, "PCPU": 0}
    for k, v in specs.items():
        m = _CPU_RC.fullmatch(k)
        if m:
            try:
                out[m[1]] += int(v)
            except (TypeError, ValueError):
                raise errors.BadRequest(f"Invalid value {v!r} for {k}") from None
    return out["VCPU"], out["PCPU"]


def _pin_policy(specs: dict[str, Any], image: dict[str, Any], vcpus: int,
                policy: Any) -> Any:
    """The CPU policy once explicit VCPU/PCPU resources are counted in (Nova's rules)."""
    want_v, want_p = _explicit_cpus(specs)
    if (want_v or want_p) and (policy or image.get("hw_cpu_policy")):
        raise errors.BadRequest("It is not possible to use the 'resources:VCPU' or "
                                "'resources:PCPU' extra specs in combination with the "
                                "'hw:cpu_policy' extra spec or 'hw_cpu_policy' image "
                                "metadata property; use one or the other")
    if want_v and want_p:
        raise errors.BadRequest("It is not possible to specify both 'resources:VCPU' and "
                                "'resources:PCPU' extra specs; use one or the other")
    if want_p and want_p != vcpus:
        raise errors.BadRequest("There is a mismatch between the number of PCPUs "
                                "requested via 'resourcesNN:PCPU' and the flavor); you "
                                "must allocate exactly flavor.vcpus PCPUs")
    return "dedicated" if want_p else ("shared" if want_v else policy)


def pinned_by(specs: dict[str, Any] | None, image: dict[str, Any] | None) -> bool:
    """Whether a flavor's extra specs (and the image's properties) ask for pinned CPUs."""
    specs, image = specs or {}, image or {}
    policy = specs.get("hw:cpu_policy") or image.get("hw_cpu_policy")
    return policy == "dedicated" or any(
        k.endswith(":PCPU") and _CPU_RC.fullmatch(k) for k in specs)


def cpu_resources(numa_req: dict[str, Any] | None, vcpus: int) -> tuple[int, int]:
    """(VCPU, PCPU) a guest asks for: PCPU for every vCPU of a pinned guest."""
    return (0, vcpus) if numa_req and numa_req.get("dedicated") else (vcpus, 0)


def claimed_cpus(vcpus: int, pinned: Any, host_has_pcpu: bool) -> tuple[int, int]:
    """(VCPU, PCPU) a guest's ``vcpus`` CPUs hold on a host: a pinned guest's are PCPU
    where the host reports PCPU, else VCPU (a legacy host: Nova's fallback)."""
    return (0, vcpus) if pinned and host_has_pcpu else (vcpus, 0)


def cpu_set(text: str) -> set[int]:
    """A host CPU set option ("0-3,^2,6") as a set; ValueError when malformed."""
    out: set[int] = set()
    drop: set[int] = set()
    for part in str(text or "").split(","):
        part = part.strip()
        if not part:
            continue
        target = drop if part.startswith("^") else out
        lo, _, hi = part.lstrip("^").partition("-")
        target.update(range(int(lo), int(hi or lo) + 1))
    return out - drop


def host_cpu_sets(conf: Any, cpus: list[int], dedicated_here: bool = True
                  ) -> tuple[set[int], set[int], bool]:
    """(shared CPUs, pinnable CPUs, legacy) of a host whose CPUs are ``cpus``, as Nova's
    libvirt driver reads ``[compute] cpu_shared_set``/``cpu_dedicated_set``: a legacy host
    (neither set) shares and pins every CPU and reports no PCPU; CPUs the host does not
    have are left out. ``dedicated_here=False``: a host configured without
    ``cpu_dedicated_set`` (the fake driver's ``[fake] cpu_dedicated_hosts``)."""
    have = set(cpus)
    dedicated_opt = conf.get("compute", "cpu_dedicated_set")
    dedicated = cpu_set(dedicated_opt) & have if dedicated_here else set()
    shared_opt = conf.get("compute", "cpu_shared_set")
    if shared_opt:
        shared = cpu_set(shared_opt) & have
    else:
        shared = set() if dedicated else set(have)
    legacy = not dedicated_opt and not shared_opt
    return shared - dedicated, (set(have) if legacy else dedicated), legacy


def _cpus(text: str, vcpus: int) -> list[int]:
    """A CPU spec ("0-2,^1,4") as a sorted list; 400 when out of range or malformed."""
    include: set[int] = set()
    exclude: set[int] = set()
    try:
        for part in str(text).split(","):
            part = part.strip()
            target = exclude if part.startswith("^") else include
            part = part.lstrip("^")
            lo, _, hi = part.partition("-")
            target.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise errors.BadRequest(f"Invalid range expression {text!r}") from None
    cpus = sorted(include - exclude)
    for c in cpus:
        if c >= vcpus:
            raise errors.BadRequest(f"CPU number {c} is larger than max {vcpus - 1}")
    return cpus


def _pagesize(value: str) -> str | int:
    text = str(value).strip().lower()
    if text in ("small", "large", "any"):
        return text
    num = text.rstrip("kmgib")
    unit = text[len(num):]
    if not num.isdigit() or unit not in _UNITS or int(num) <= 0:
        raise errors.BadRequest(f"Invalid memory page size '{value}'")
    return int(num) * _UNITS[unit]


def _nodes(value: Any, name: str) -> int:
    try:
        nodes = int(value)
    except (TypeError, ValueError):
        nodes = 0
    if nodes < 1:
        raise errors.BadRequest(f"The property '{name}' cannot be '{value}'. It must be "
                                "a number greater than 0")
    return nodes


def request(specs: dict[str, Any] | None, image: dict[str, Any] | None, vcpus: int,
            memory_mb: int) -> dict[str, Any] | None:
    """The guest NUMA topology a flavor and image ask for, or None (no NUMA spec).
    {"cells": [{"id", "cpus", "memory_mb"}], "dedicated": bool, "pagesize": ...};
    400 for specs Nova rejects."""
    specs, image = specs or {}, image or {}
    if not _wants(specs, image):
        return None
    policy = specs.get("hw:cpu_policy")
    img_policy = image.get("hw_cpu_policy")
    for p in (policy, img_policy):
        if p is not None and p not in _POLICIES:
            raise errors.BadRequest(f"CPU policy '{p}' is invalid, must be one of: "
                                    f"{', '.join(_POLICIES)}")
    policy = _pin_policy(specs, image, vcpus, policy)
    if policy == "shared" and img_policy == "dedicated":
        raise errors.BadRequest("Image property 'hw_cpu_policy' is not permitted to "
                                "override CPU pinning policy set against the flavor")
    dedicated = (policy or img_policy) == "dedicated"
    pagesize = _pagesize(specs["hw:mem_page_size"]) if "hw:mem_page_size" in specs else None
    if "hw_mem_page_size" in image:
        img_size = _pagesize(image["hw_mem_page_size"])
        if pagesize not in ("large", "any") and img_size != pagesize:
            raise errors.BadRequest(f"Page size {image['hw_mem_page_size']} forbidden "
                                    f"against '{specs.get('hw:mem_page_size', 'small')}'")
        pagesize = img_size
    if "hw:numa_nodes" in specs:
        nodes = _nodes(specs["hw:numa_nodes"], "numa_nodes")
        if "hw_numa_nodes" in image and str(image["hw_numa_nodes"]) != str(nodes):
            raise errors.BadRequest("Image property 'hw_numa_nodes' is not permitted to "
                                    "override NUMA configuration set against the flavor")
        prefix = "hw:numa_"
        src = specs
    elif "hw_numa_nodes" in image:
        nodes, prefix, src = _nodes(image["hw_numa_nodes"], "numa_nodes"), "hw_numa_", image
    else:
        nodes, prefix, src = 1, "hw:numa_", {}  # pinning or page size alone: one cell
    if nodes > vcpus:
        raise errors.BadRequest("Asymmetric NUMA topologies require explicit assignment of "
                                "CPUs and memory to nodes in image or flavor")
    cells = _explicit(src, prefix, nodes, vcpus, memory_mb)
    if cells is None:
        if vcpus % nodes or memory_mb % nodes:
            raise errors.BadRequest("Instance CPUs and/or memory cannot be evenly "
                                    "distributed across instance NUMA nodes. Explicit "
                                    "assignment of CPUs and memory to nodes is required")
        per_cpu, per_mem = vcpus // nodes, memory_mb // nodes
        cells = [{"id": i, "cpus": list(range(i * per_cpu, (i + 1) * per_cpu)),
                  "memory_mb": per_mem} for i in range(nodes)]
    kept = {k: v for k, v in image.items() if k in _IMAGE_KEYS or k.startswith("hw_numa_")}
    return {"cells": cells, "dedicated": dedicated, "pagesize": pagesize, "image": kept}


def for_resize(flavor: dict[str, Any], inst: Any) -> dict[str, Any] | None:
    """The NUMA request of ``inst`` moved to ``flavor`` (a snapshot) with its image's
    NUMA properties; NO_NUMA when it had a topology the new flavor no longer asks for."""
    old = inst.numa_topology or {}
    image = (old.get("request") or {}).get("image") or {}
    req = request(flavor.get("extra_specs"), image, int(flavor["vcpus"]),
                  int(flavor["memory_mb"]))
    return NO_NUMA if req is None and old else req


def _explicit(src: dict[str, Any], prefix: str, nodes: int, vcpus: int,
              memory_mb: int) -> list[dict[str, Any]] | None:
    given = [i for i in range(nodes) if f"{prefix}cpus.{i}" in src or
             f"{prefix}mem.{i}" in src]
    if not given:
        return None
    if len(given) != nodes or any(f"{prefix}cpus.{i}" not in src or
                                  f"{prefix}mem.{i}" not in src for i in given):
        raise errors.BadRequest("CPU and memory allocation must be provided for all NUMA "
                                "nodes")
    cells, seen = [], set()
    for i in range(nodes):
        cpus = _cpus(src[f"{prefix}cpus.{i}"], vcpus)
        for c in cpus:
            if c in seen:
                raise errors.BadRequest(f"CPU number {c} is assigned to two nodes")
            seen.add(c)
        try:
            mem = int(src[f"{prefix}mem.{i}"])
        except (TypeError, ValueError):
            raise errors.BadRequest(f"Invalid memory size {src[f'{prefix}mem.{i}']!r}") \
                from None
        cells.append({"id": i, "cpus": cpus, "memory_mb": mem})
    missing = sorted(set(range(vcpus)) - seen)
    if missing:
        raise errors.BadRequest(f"CPU number {missing} is not assigned to any node")
    total = sum(c["memory_mb"] for c in cells)
    if total != memory_mb:
        raise errors.BadRequest(f"{total} MB of memory assigned, but expected "
                                f"{memory_mb} MB")
    return cells


# -- a host's cells and what the guests use of them ----------------------------------
@dataclass
class HostCell:
    id: int
    cpus: list[int]  # shared (unpinned guests)
    memory_mb: int  # of small pages
    pages: dict[int, int]  # huge page size (KiB) -> total pages
    pcpus: list[int] = field(default_factory=list)  # pinnable (cpus too on a legacy host)
    pinned: set[int] = field(default_factory=set)
    cpu_used: int = 0
    mem_used: int = 0  # MB of small pages
    pages_used: dict[int, int] = field(default_factory=dict)


class HostNUMA:
    """The NUMA cells of one host and the fitted guests on them (scheduler memory)."""

    def __init__(self, cells: list[dict[str, Any]]) -> None:
        self.cells = [HostCell(c["id"], list(c["cpus"]), int(c["memory_mb"]),
                               {int(k): int(v) for k, v in (c.get("pages") or {}).items()},
                               list(c["pcpus"] if "pcpus" in c else c["cpus"]))
                      for c in cells]
        self.claims: dict[str, list[dict[str, Any]]] = {}
        self.requests: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _cell_fit(self, hc: HostCell, want: dict[str, Any], req: dict[str, Any],
                  cpu_ratio: float, ram_ratio: float) -> dict[str, Any] | None:
        n, mem = len(want["cpus"]), int(want["memory_mb"])
        size = _page_for(hc, mem, req["pagesize"], ram_ratio)
        if size is None:
            return None
        pinning = None
        if req["dedicated"]:
            free = [c for c in hc.pcpus if c not in hc.pinned]
            if len(free) < n:
                return None
            pinning = {str(v): p for v, p in zip(want["cpus"], free)}
        elif hc.cpu_used + n > len(set(hc.cpus) - hc.pinned) * cpu_ratio:
            return None
        return {"id": want["id"], "host_node": hc.id, "cpus": list(want["cpus"]),
                "memory_mb": mem, "pagesize": size if req["pagesize"] is not None else None,
                "cpu_pinning": pinning}

    def fit(self, req: dict[str, Any], cpu_ratio: float = 16.0, ram_ratio: float = 1.5
            ) -> list[dict[str, Any]] | None:
        """Each guest cell on a distinct host cell (the first arrangement that fits)."""
        wanted = req["cells"]
        with self._lock:
            for order in itertools.permutations(self.cells, len(wanted)):
                out = []
                for hc, want in zip(order, wanted):
                    got = self._cell_fit(hc, want, req, cpu_ratio, ram_ratio)
                    if got is None:
                        break
                    out.append(got)
                else:
                    return out
        return None

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
            pins = set((c.get("cpu_pinning") or {}).values())
            if sign > 0:
                hc.pinned |= pins
            else:
                hc.pinned -= pins
            if not pins:
                hc.cpu_used += sign * len(c["cpus"])
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
    """GET /servers/{id}/topology's body (host_node and cpu_pinning for admins)."""
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
    the result is kept on the spec for the claim that follows."""
    if host.numa is None:
        return None
    cells = host.numa.fit(spec.numa, host.cpu_allocation_ratio, host.ram_allocation_ratio)
    spec.numa_fit = (host.host, cells)
    return cells
