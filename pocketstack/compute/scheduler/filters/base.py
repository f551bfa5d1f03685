from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class BaseFilter:
    RUN_ON_REBUILD = False  # Nova's: whether a rebuild to a new image runs the filter
    @classmethod
    def from_conf(cls, conf: Any) -> "BaseFilter":
        return cls()

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        raise NotImplementedError
