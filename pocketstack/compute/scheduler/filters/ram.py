from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class RamFilter(BaseFilter):
    """Hosts with enough RAM, overcommitted by ram_allocation_ratio."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        return host.free_ram_mb >= spec.memory_mb
