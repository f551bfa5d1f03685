from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class PciPassthroughFilter(BaseFilter):
    """Hosts with enough free PCI devices for the flavor's ``pci_passthrough:alias``."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        if not spec.pci_requests:
            return True
        return host.pci is not None and host.pci.supports(spec.pci_requests)
