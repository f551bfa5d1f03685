from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class NUMATopologyFilter(BaseFilter):
    """Hosts whose NUMA cells can hold the guest's NUMA topology (compute/numa.py); every
    host passes for a request without one. The scheduler fits the topology at claim time
    whether or not this filter is enabled (as Nova's resource tracker claim does)."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        if spec.numa is None:
            return True
        from pocketstack.compute.numa import fit_for

        return fit_for(host, spec) is not None
