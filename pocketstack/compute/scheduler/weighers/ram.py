from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState


class RAMWeigher:
    """Prefer the host with the most free RAM (spread); a negative multiplier stacks."""

    def __init__(self, multiplier: float) -> None:
        self.multiplier = multiplier

    def weigh(self, hosts: list[HostState]) -> dict[str, float]:
        values = [h.free_ram_mb for h in hosts]
        lo, hi = min(values), max(values)
        span = (hi - lo) or 1.0
        return {h.host: self.multiplier * (h.free_ram_mb - lo) / span for h in hosts}
