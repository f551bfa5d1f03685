from __future__ import annotations

from pocketstack.compute.scheduler.filters import extra_specs_ops
from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec

SCOPE = "aggregate_instance_extra_specs"


class AggregateInstanceExtraSpecsFilter(BaseFilter):
    """Flavor extra specs, unscoped or ``aggregate_instance_extra_specs:KEY``, against
    the metadata of the host's aggregates: each key must be there, and one of its values
    (an aggregate's comma-separated value counts as several) must match."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        if not spec.extra_specs:
            return True
        for key, req in spec.extra_specs.items():
            scope, sep, rest = key.partition(":")
            if sep:
                if scope != SCOPE:
                    continue
                key = rest
            values = host.aggregates_metadata.get(key)
            if not values or not any(extra_specs_ops.match(v, str(req)) for v in values):
                return False
        return True
