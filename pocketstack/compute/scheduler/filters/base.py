from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class BaseFilter:
    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        raise NotImplementedError
