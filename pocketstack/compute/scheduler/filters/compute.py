from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class ComputeFilter(BaseFilter):
    """Hosts whose nova-compute service is enabled and up."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        return host.service_enabled and host.service_up
