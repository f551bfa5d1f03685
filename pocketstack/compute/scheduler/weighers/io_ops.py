from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec
from pocketstack.compute.scheduler.weighers.base import BaseWeigher


class IoOpsWeigher(BaseWeigher):
    """Weigh by the host's I/O-heavy operations in progress (builds, cold moves,
    rebuilds). The default multiplier (-1.0) prefers idle hosts; positive prefers busy."""

    option = "io_ops_weight_multiplier"

    def value(self, host: HostState, spec: RequestSpec | None) -> float:
        return host.num_io_ops

    def scale(self, hosts: list[HostState]) -> float:
        return 8.0  # Nova's max_io_ops_per_host default: a busy host
