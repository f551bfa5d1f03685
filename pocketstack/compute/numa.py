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

import re
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
    Opt("fake", "cpu_threads", int, 1,
        "SMT threads per core of the fake hosts (2: CPUs 0-1, 2-3... are thread siblings "
        "within each NUMA cell), for hw:cpu_thread_policy."),
    Opt("fake", "sockets", int, 0,
        "CPU sockets of each fake host, its NUMA cells spread evenly over them (0: one "
        "socket per NUMA cell), for hw:pci_numa_affinity_policy=socket."),
    Opt("compute", "packing_host_numa_cells_allocation_strategy", bool, False,
        "Place guest NUMA cells on the most used host cells first (packing) rather than "
        "on those with the most free resources (spreading, the default)."),
    Opt("workarounds", "disable_fallback_pcpu_query", bool, False,
        "Do not let pinned guests fall back to claiming VCPU on legacy hosts (hosts "
        "without cpu_dedicated_set and cpu_shared_set)."),
)

_FLAVOR_KEYS = ("hw:numa_nodes", "hw:cpu_policy", "hw:mem_page_size", "hw:cpu_thread_policy",
                "hw:cpu_dedicated_mask", "hw:emulator_threads_policy",
                "hw:pci_numa_affinity_policy", "trait:HW_CPU_HYPERTHREADING",
                "hw:cpu_realtime")
_IMAGE_KEYS = ("hw_numa_nodes", "hw_cpu_policy", "hw_mem_page_size", "hw_cpu_thread_policy",
               "hw_pci_numa_affinity_policy", "trait:HW_CPU_HYPERTHREADING")
_POLICIES = ("dedicated", "shared", "mixed")  # Nova's orders, shown in its messages
_THREADS = ("prefer", "isolate", "require")
_EMULATOR = ("share", "isolate")
PCI_POLICIES = ("required", "legacy", "preferred", "socket")
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


def _choice(value: Any, allowed: tuple[str, ...], what: str, source: str) -> Any:
    if value is not None and value not in allowed:
        raise errors.BadRequest(f"{what} requested from '{source}' is invalid, given: "
                                f"'{value}', available: '{allowed}'.")
    return value


def _cpu_policy(specs: dict[str, Any], image: dict[str, Any]) -> str | None:
    """Nova's get_cpu_policy_constraint: the flavor's policy wins; an image may not ask
    for more pinning than the flavor allows."""
    flavor = _choice(specs.get("hw:cpu_policy"), _POLICIES, "CPU policy",
                     "flavor extra specs")
    img = _choice(image.get("hw_cpu_policy"), _POLICIES, "CPU policy", "image properties")
    forbidden = {"mixed": ("dedicated",), "shared": ("mixed", "dedicated")}
    if flavor and img in forbidden.get(flavor, ()):
        raise errors.BadRequest("Image property 'hw_cpu_policy' is not permitted to "
                                "override CPU pinning policy set against the flavor")
    return flavor or img


def _thread_policy(specs: dict[str, Any], image: dict[str, Any]) -> str | None:
    """Nova's get_cpu_thread_policy_constraint (then the HW_CPU_HYPERTHREADING trait)."""
    flavor = _choice(specs.get("hw:cpu_thread_policy"), _THREADS, "CPU thread policy",
                     "flavor extra specs")
    img = _choice(image.get("hw_cpu_thread_policy"), _THREADS, "CPU thread policy",
                  "image properties")
    if flavor in (None, "prefer"):
        policy = flavor or img
    elif img and img != flavor:
        raise errors.BadRequest("Image property 'hw_cpu_thread_policy' is not permitted "
                                "to override CPU thread pinning policy set against the "
                                "flavor")
    else:
        policy = flavor
    trait = specs.get("trait:HW_CPU_HYPERTHREADING") or \
        image.get("trait:HW_CPU_HYPERTHREADING")
    if trait and policy:
        raise errors.BadRequest("It is not possible to use the "
                                "'trait:HW_CPU_HYPERTHREADING' extra spec in combination "
                                "with the 'hw:cpu_thread_policy' extra spec or "
                                "'hw_cpu_thread_policy' image metadata property; use one "
                                "or the other")
    return {"forbidden": "isolate", "required": "require"}.get(str(trait), policy)


def _dedicated_mask(specs: dict[str, Any], vcpus: int) -> set[int] | None:
    """The guest CPUs ``hw:cpu_dedicated_mask`` pins ("^0" = all but 0), as Nova."""
    mask = str(specs.get("hw:cpu_dedicated_mask") or "").strip()
    if not mask:
        return None
    try:
        pcpus = cpu_set(f"0-{vcpus - 1},{mask}" if mask.startswith("^") else mask)
    except ValueError:
        raise errors.BadRequest(f"Invalid range expression {mask!r}") from None
    if not pcpus or not set(range(vcpus)) - pcpus:
        raise errors.BadRequest("Mixed instance must have at least 1 pinned vCPU and 1 "
                                "unpinned vCPU. See 'hw:cpu_dedicated_mask'.")
    if not pcpus <= set(range(vcpus)):
        raise errors.BadRequest("Mixed instance dedicated vCPU(s) mask is not a subset of "
                                "vCPUs in the flavor. See \"hw:cpu_dedicated_mask\"")
    return pcpus


def _realtime_mask(specs: dict[str, Any], image: dict[str, Any], vcpus: int,
                   emulator: str | None) -> set[int] | None:
    """The realtime vCPUs of ``hw:cpu_realtime`` (the image's mask before the flavor's),
    as Nova's get_realtime_cpu_constraint."""
    if str(specs.get("hw:cpu_realtime", "")).lower() not in ("1", "t", "true", "on", "y",
                                                              "yes"):
        return None
    mask = str(image.get("hw_cpu_realtime_mask") or specs.get("hw:cpu_realtime_mask")
               or "").strip()
    every = set(range(vcpus))
    try:
        rt = cpu_set(f"0-{vcpus - 1},{mask}" if mask.startswith("^") else mask) \
            if mask else every
    except ValueError:
        raise errors.BadRequest(f"Invalid range expression {mask!r}") from None
    if not rt or rt == every and not emulator:
        raise errors.BadRequest("Use of realtime CPUs requires either one or more "
                                "non-realtime CPU(s) or offloaded emulator threads.")
    if not rt <= every:
        raise errors.BadRequest("Realtime policy vCPU(s) mask is configured with RT vCPUs "
                                "that are not a subset of the vCPUs in the flavor. See "
                                "hw:cpu_realtime_mask or hw_cpu_realtime_mask")
    return rt


def pci_policy(specs: dict[str, Any] | None, image: dict[str, Any] | None) -> str | None:
    """Nova's get_pci_numa_policy_constraint: the flavor's or the image's PCI NUMA
    affinity policy (403 when they differ, 400 when unknown)."""
    flavor = (specs or {}).get("hw:pci_numa_affinity_policy")
    img = (image or {}).get("hw_pci_numa_affinity_policy")
    if flavor and img and flavor != img:
        raise errors.Forbidden("Image property 'hw_pci_numa_affinity_policy' is not "
                               "permitted to override the 'hw:pci_numa_affinity_policy' "
                               "flavor extra spec.")
    policy = flavor or img
    if policy and policy not in PCI_POLICIES:
        raise errors.BadRequest(f"Invalid PCI NUMA affinity configured: {policy}")
    return policy or None


def _policies(specs: dict[str, Any], image: dict[str, Any], vcpus: int
              ) -> tuple[str | None, str | None, str | None, set[int]]:
    """(CPU policy, thread policy, emulator threads policy, pinned guest CPUs) once
    Nova's numa_get_constraints rules are checked (400 for the combinations it refuses)."""
    policy = _cpu_policy(specs, image)
    threads = _thread_policy(specs, image)
    emulator = _choice(specs.get("hw:emulator_threads_policy"), _EMULATOR,
                       "CPU emulator threads option", "flavor extra specs")
    mask = _dedicated_mask(specs, vcpus)
    realtime = _realtime_mask(specs, image, vcpus, emulator)
    want_v, want_p = _explicit_cpus(specs)
    if policy and (want_v or want_p):
        raise errors.BadRequest("It is not possible to use the 'resources:VCPU' or "
                                "'resources:PCPU' extra specs in combination with the "
                                "'hw:cpu_policy' extra spec or 'hw_cpu_policy' image "
                                "metadata property; use one or the other")
    if want_v and want_p:
        raise errors.BadRequest("It is not possible to specify both 'resources:VCPU' and "
                                "'resources:PCPU' extra specs; use one or the other")
    if want_p:
        if emulator == "isolate" and want_p != vcpus + 1:
            raise errors.BadRequest("You have requested 'hw:emulator_threads_policy="
                                    "isolate' but have not requested sufficient PCPUs to "
                                    "handle this policy; you must allocate exactly "
                                    "flavor.vcpus + 1 PCPUs.")
        if emulator != "isolate" and want_p != vcpus:
            raise errors.BadRequest("There is a mismatch between the number of PCPUs "
                                    "requested via 'resourcesNN:PCPU' and the flavor); you "
                                    "must allocate exactly flavor.vcpus PCPUs")
        policy = "dedicated"
    if want_v:
        policy = "shared"
    if policy in ("shared", None):
        if threads:
            raise errors.BadRequest("Cannot set cpu thread pinning policy in a non "
                                    "dedicated cpu pinning policy")
        if emulator == "isolate":
            raise errors.BadRequest("An isolated CPU emulator threads option requires a "
                                    "dedicated CPU policy option.")
        if realtime:
            raise errors.BadRequest("Cannot set realtime policy in a non dedicated cpu "
                                    "pinning policy")
    if mask and policy != "mixed":
        raise errors.BadRequest("Cannot specify 'hw:cpu_dedicated_mask' without the "
                                "'mixed' policy.")
    if policy == "mixed" and bool(mask) == bool(realtime):
        raise errors.BadRequest("Dedicated CPU set can be specified from either "
                                "'hw:cpu_dedicated_mask' or 'hw:cpu_realtime_mask' when "
                                "using 'mixed' CPU policy. 'hw:cpu_dedicated_mask' and "
                                "'hw:cpu_realtime_mask' can not be specified at the same "
                                "time, or be specified with none of them.")
    pinned = set(range(vcpus)) if policy == "dedicated" else (mask or realtime or set())
    return policy, threads, emulator, pinned


def pinned_by(specs: dict[str, Any] | None, image: dict[str, Any] | None,
              vcpus: int = 0) -> Any:
    """Whether a flavor's extra specs (and the image's properties) ask for pinned CPUs:
    for a flavor of ``vcpus`` CPUs whose guests are partly pinned (mixed, isolated
    emulator threads), the request itself (see :func:`claimed_cpus`)."""
    specs, image = specs or {}, image or {}
    policy = specs.get("hw:cpu_policy") or image.get("hw_cpu_policy")
    pinned = policy in ("dedicated", "mixed") or any(
        k.endswith(":PCPU") and _CPU_RC.fullmatch(k) for k in specs)
    if pinned and vcpus and (policy == "mixed" or "hw:emulator_threads_policy" in specs):
        try:
            return request(specs, image, vcpus, 1) or pinned
        except errors.ApiError:
            return pinned
    return pinned


def _pcpu_count(req: dict[str, Any], vcpus: int) -> int:
    """PCPU a guest request claims: its pinned vCPUs (+1 for isolated emulator threads)."""
    if "pcpus" in req:
        return int(req["pcpus"])
    return vcpus if req.get("dedicated") else 0


def cpu_resources(numa_req: dict[str, Any] | None, vcpus: int) -> tuple[int, int]:
    """(VCPU, PCPU) a guest asks for (Nova's resources_from_request_spec): PCPU for each
    pinned vCPU, plus one for ``hw:emulator_threads_policy=isolate``, VCPU for the rest."""
    if not numa_req:
        return vcpus, 0
    pcpus = _pcpu_count(numa_req, vcpus)
    iso = 1 if numa_req.get("emulator") == "isolate" and pcpus else 0
    return vcpus - (pcpus - iso), pcpus


def claimed_cpus(vcpus: int, pinned: Any, host_has_pcpu: bool) -> tuple[int, int]:
    """(VCPU, PCPU) a guest's ``vcpus`` CPUs hold on a host: ``pinned`` (True, or the
    guest's NUMA request) as :func:`cpu_resources` where the host reports PCPU, else all
    VCPU (a legacy host: Nova's fallback query, which asks for no PCPU)."""
    if not pinned or not host_has_pcpu:
        return vcpus, 0
    if isinstance(pinned, dict):
        return cpu_resources(pinned, vcpus)
    return 0, vcpus


def spec_cpus(spec: Any, host_has_pcpu: bool) -> tuple[int, int]:
    """(VCPU, PCPU) a translated request spec claims on a host."""
    iso = 1 if spec.pcpus and (spec.numa or {}).get("emulator") == "isolate" else 0
    return claimed_cpus(spec.vcpus + (spec.pcpus or 0) - iso, spec.numa if spec.pcpus
                        else None, host_has_pcpu)


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
    {"cells": [{"id", "cpus", "pcpus", "memory_mb"}], "dedicated": bool, "pagesize": ...,
    "policy", "thread_policy", "emulator", "pcpus": PCPU claimed, "pci_policy"}; 400 for
    specs Nova rejects (its numa_get_constraints), also when there is no topology."""
    specs, image = specs or {}, image or {}
    if not _wants(specs, image):
        return None
    policy, threads, emulator, pinned = _policies(specs, image, vcpus)
    pci = pci_policy(specs, image)
    dedicated = policy == "dedicated"
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
    elif pagesize is None and policy not in ("dedicated", "mixed"):
        return None  # (Nova: no NUMA topology without nodes, pinning or page sizes)
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
    for c in cells:
        c["pcpus"] = [x for x in c["cpus"] if x in pinned]
    kept = {k: v for k, v in image.items() if k in _IMAGE_KEYS or k.startswith("hw_numa_")
            or k == "hw_cpu_realtime_mask"}
    iso = 1 if emulator == "isolate" else 0
    return {"cells": cells, "dedicated": dedicated, "pagesize": pagesize, "image": kept,
            "policy": policy, "thread_policy": threads, "emulator": emulator,
            "pcpus": len(pinned) + iso if pinned else 0, "pci_policy": pci}


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


# the host side (cells, fits, claims, the topology view) lives with the scheduler
from pocketstack.compute.scheduler.numa_fit import (  # noqa: E402,F401
    SMALL, HostCell, HostNUMA, fit_for, topology, view)
