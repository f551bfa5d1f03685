from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


def _hint(spec: RequestSpec, name: str) -> set[str]:
    value = spec.hints.get(name) or []
    return {value} if isinstance(value, str) else set(value)


class SameHostFilter(BaseFilter):
    """``same_host`` hint: a host holding one of the given servers."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        wanted = _hint(spec, "same_host")
        return not wanted or bool(wanted & set(host.instances))


class DifferentHostFilter(BaseFilter):
    """``different_host`` hint: a host holding none of the given servers."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        avoid = _hint(spec, "different_host")
        return not (avoid & set(host.instances))
