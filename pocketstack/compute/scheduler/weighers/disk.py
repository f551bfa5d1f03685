from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec
from pocketstack.compute.scheduler.weighers.base import BaseWeigher


class DiskWeigher(BaseWeigher):
    """Prefer the host with the most free disk (spread); a negative multiplier stacks."""

    option = "disk_weight_multiplier"

    def value(self, host: HostState, spec: RequestSpec | None) -> float:
        return host.free_disk_gb

    def scale(self, hosts: list[HostState]) -> float:
        return max((h.total_disk_gb * h.disk_allocation_ratio for h in hosts),
                   default=1) or 1
