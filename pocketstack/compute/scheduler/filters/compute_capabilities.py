from __future__ import annotations

import json
from typing import Any

from pocketstack.compute.scheduler.filters import extra_specs_ops
from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec

SCOPE = "capabilities"


def capabilities(host: HostState) -> dict[str, Any]:
    """The host state's attributes under Nova's HostState names."""
    return {
        "host": host.host, "nodename": host.nodename, "hypervisor_hostname": host.nodename,
        "hypervisor_type": host.hypervisor_type,
        "hypervisor_version": host.hypervisor_version, "cpu_info": host.cpu_info,
        "supported_instances": host.supported_instances,
        "vcpus_total": host.total_vcpus, "vcpus_used": host.vcpus_used,
        "total_usable_ram_mb": host.total_ram_mb,
        "free_ram_mb": host.total_ram_mb - host.ram_used_mb,
        "total_usable_disk_gb": host.total_disk_gb,
        "free_disk_mb": (host.total_disk_gb - host.disk_used_gb) * 1024,
        "disk_mb_used": host.disk_used_gb * 1024,
        "num_instances": len(host.instances), "num_io_ops": host.num_io_ops,
        "failed_builds": host.failed_builds,
        "cpu_allocation_ratio": host.cpu_allocation_ratio,
        "ram_allocation_ratio": host.ram_allocation_ratio,
        "disk_allocation_ratio": host.disk_allocation_ratio, "stats": {}}


def _lookup(caps: dict[str, Any], path: list[str]) -> Any:
    cap: Any = caps
    for part in path:
        if isinstance(cap, str):
            try:
                cap = json.loads(cap)
            except ValueError:
                return None
        if not isinstance(cap, dict):
            return None
        cap = cap.get(part, caps["stats"].get(part) if cap is caps else None)
        if cap is None:
            return None
    return cap


class ComputeCapabilitiesFilter(BaseFilter):
    """Flavor extra specs ``capabilities:PATH`` (or an unscoped key naming a host state
    attribute) against the host's capabilities, with the extra spec operators.
    ``hw:maxphysaddr_bits`` is checked as ``capabilities:cpu_info:maxphysaddr:bits``."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        if not spec.extra_specs:
            return True
        especs = dict(spec.extra_specs)
        bits = especs.pop("hw:maxphysaddr_bits", None)
        if bits is not None:
            especs["capabilities:cpu_info:maxphysaddr:bits"] = f">= {bits}"
        caps = capabilities(host)
        for key, req in especs.items():
            path = key.split(":")
            if len(path) == 1:
                if key not in caps and key not in caps["stats"]:
                    continue  # an unscoped key that is no capability: not ours
            elif path[0] != SCOPE:
                continue
            else:
                path = path[1:]
            cap = _lookup(caps, path)
            if cap is None or not extra_specs_ops.match(str(cap), str(req)):
                return False
        return True
