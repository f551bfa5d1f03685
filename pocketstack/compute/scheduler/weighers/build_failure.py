from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec
from pocketstack.compute.scheduler.weighers.base import BaseWeigher


class BuildFailureWeigher(BaseWeigher):
    """Push hosts with recent (consecutive) build failures down: the count is reset by a
    successful build there. The multiplier is large (1000000.0) so that it dominates the
    other weighers, as in Nova; 0 disables it."""

    option = "build_failure_weight_multiplier"

    def value(self, host: HostState, spec: RequestSpec | None) -> float:
        return -float(host.failed_builds)
