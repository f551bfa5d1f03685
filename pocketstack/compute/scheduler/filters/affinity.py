from __future__ import annotations

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


def _members_on(host: HostState, spec: RequestSpec) -> int:
    members = set(spec.group["members"]) - {spec.instance_uuid} if spec.group else set()
    return len(members & set(host.instances))


class ServerGroupAntiAffinityFilter(BaseFilter):
    """No more than max_server_per_host (default 1) members of the group on one host."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        if not spec.group or spec.group["policy"] != "anti-affinity":
            return True
        limit = int((spec.group.get("rules") or {}).get("max_server_per_host", 1))
        return _members_on(host, spec) < limit


class ServerGroupAffinityFilter(BaseFilter):
    """Only the host(s) already holding members of the group, once there is one."""

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        if not spec.group or spec.group["policy"] != "affinity":
            return True
        if not any(_members_on(h, spec) for h in all_hosts):
            return True
        return _members_on(host, spec) > 0
