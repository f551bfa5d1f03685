from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec
from pocketstack.compute.scheduler.weighers.base import BaseWeigher


class CPUWeigher(BaseWeigher):
    """Prefer the host with the most free vCPUs (spread); a negative multiplier stacks."""

    option = "cpu_weight_multiplier"

    def value(self, host: HostState, spec: RequestSpec | None) -> float:
        return host.free_vcpus

    def scale(self, hosts: list[HostState]) -> float:
        return max((h.total_vcpus * h.cpu_allocation_ratio for h in hosts), default=1) or 1
