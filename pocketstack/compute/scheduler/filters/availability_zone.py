from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class AvailabilityZoneFilter(BaseFilter):
    """Hosts in the requested availability zone (any host when none was requested)."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        return not spec.availability_zone or host.availability_zone == spec.availability_zone
