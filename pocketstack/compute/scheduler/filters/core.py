from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class CoreFilter(BaseFilter):
    """Hosts with enough vCPUs, overcommitted by cpu_allocation_ratio."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        return host.free_vcpus >= spec.vcpus
