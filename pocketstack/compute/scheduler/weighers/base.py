"""The weigher interface: a raw value per host, scaled by a multiplier (higher wins).

Nova normalises each weigher's values to 0..1 over the hosts that passed the filters
(min-max) and sums ``multiplier * normalised`` over the weighers. pocketstack does
exactly that when a request needs a full pass (a soft-affinity group); otherwise, to
decide in O(1) among thousands of hosts, the "static" weighers (whose value does not
depend on the request) are combined into a sort key scaled by each weigher's fixed
``scale`` (the largest capacity), which orders hosts the same way as Nova whenever one
weigher decides and approximates Nova's min-max combination otherwise.
"""

from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


class BaseWeigher:
    option = ""  # the [filter_scheduler] multiplier option
    static = True  # value independent of the request (usable in the sorted host order)

    def __init__(self, multiplier: float) -> None:
        self.multiplier = multiplier

    def value(self, host: HostState, spec: RequestSpec | None) -> float:
        raise NotImplementedError

    def scale(self, hosts: list[HostState]) -> float:
        """A fixed range of this weigher's values (used by the sorted order)."""
        return 1.0

    def weigh(self, hosts: list[HostState], spec: RequestSpec | None = None
              ) -> dict[str, float]:
        """Nova's normalised weights (times the multiplier) over ``hosts``."""
        values = {h.host: self.value(h, spec) for h in hosts}
        if not values:
            return {}
        lo, hi = min(values.values()), max(values.values())
        span = hi - lo
        return {h: (self.multiplier * (v - lo) / span if span else 0.0)
                for h, v in values.items()}
