from __future__ import annotations

from pocketstack.compute.scheduler.host_state import HostState, RequestSpec
from pocketstack.compute.scheduler.weighers.base import BaseWeigher


def _members_on(host: HostState, spec: RequestSpec | None, policy: str) -> int:
    if spec is None or not spec.group or spec.group.get("policy") != policy:
        return 0
    members = set(spec.group.get("members") or ()) - {spec.instance_uuid}
    return len(members & set(host.instances))


class ServerGroupSoftAffinityWeigher(BaseWeigher):
    """soft-affinity groups: prefer the hosts holding the most members of the group."""

    option = "soft_affinity_weight_multiplier"
    static = False
    policy = "soft-affinity"

    def value(self, host: HostState, spec: RequestSpec | None) -> float:
        return _members_on(host, spec, self.policy)


class ServerGroupSoftAntiAffinityWeigher(BaseWeigher):
    """soft-anti-affinity groups: prefer the hosts holding the fewest members."""

    option = "soft_anti_affinity_weight_multiplier"
    static = False
    policy = "soft-anti-affinity"

    def value(self, host: HostState, spec: RequestSpec | None) -> float:
        return -_members_on(host, spec, self.policy)
