"""``manage placement audit`` and ``manage placement heal-allocations``.

Placement's allocations and Compute's servers are two records of the same fact, and in
real clouds they drift: a compute host that died mid-delete leaves its server's allocation
behind ("orphaned allocations", which make the scheduler think a host is full), and a
server whose allocation was lost (a failed migration, a hand-edited database) uses a
host that Placement believes free. Nova's answers were ``nova-manage placement audit
[--delete]`` and ``nova-manage placement heal_allocations``; these are the same, over
the compute nodes' providers only (allocations against providers Compute does not own
are someone else's and are left alone).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

# migration statuses after which a migration no longer holds resources
FINAL_MIGRATION = {"confirmed", "reverted", "error", "failed", "completed", "done",
                   "cancelled", "finished"}
# servers that hold no resources on a host in these vm states
NOT_ON_A_HOST = {"shelved_offloaded", "deleted", "soft-delete"}
# a delete releases its allocation just after marking the server deleted: not an orphan yet
GRACE = dt.timedelta(seconds=60)


@dataclass
class Orphan:
    consumer: str
    provider: str  # provider name (the compute host)
    resources: dict[str, int]


@dataclass
class Missing:
    uuid: str
    host: str
    provider: str | None  # uuid of the host's provider, None when the host has none
    resources: dict[str, int]
    project_id: str
    user_id: str


def _consumers_of_compute(s: Any) -> set[str]:
    """Consumers that compute legitimately keeps allocations for: live servers and
    migrations still in progress."""
    from pocketstack.compute import models

    recent = utcnow() - GRACE
    live = set(s.scalars(select(models.Instance.uuid).where(
        (models.Instance.deleted.is_(False)) | (models.Instance.updated_at >= recent))))
    migration = getattr(models, "Migration", None)
    if migration is not None and hasattr(migration, "uuid"):
        for uuid, status in s.execute(select(migration.uuid, migration.status)):
            if (status or "").lower() not in FINAL_MIGRATION:
                live.add(uuid)
    return live


def _server_resources(inst: Any, volume_backed: bool, pcpu_host: bool) -> dict[str, int]:
    """What the server should hold: its CPUs as PCPU when it is pinned (its NUMA request
    says dedicated) on a host that reports PCPU, else VCPU (Nova's legacy fallback), as
    the scheduler claims them."""
    from pocketstack.compute.numa import claimed_cpus
    from pocketstack.compute.placement import resources
    from pocketstack.compute.scheduler.manager import disk_gb

    swap = int((inst.flavor or {}).get("swap") or 0)
    root = 0 if volume_backed else inst.root_gb
    pinned = (inst.numa_topology or {}).get("request")  # (mixed: part PCPU, part VCPU)
    vcpus, pcpus = claimed_cpus(inst.vcpus, pinned, pcpu_host)
    return resources(vcpus, inst.memory_mb, disk_gb(root, inst.ephemeral_gb, swap), pcpus)


def audit(cloud: "Cloud") -> tuple[list[Orphan], list[Missing]]:
    """Allocations on compute providers without a live consumer, and servers on a host
    that hold no allocation at all."""
    from pocketstack.compute.models import BlockDeviceMapping, ComputeNode, Instance
    from pocketstack.placement.models import Allocation, Inventory, ResourceProvider

    orphans: dict[tuple[str, str], Orphan] = {}
    missing: list[Missing] = []
    with cloud.db.read() as s:
        nodes = {uuid: host for uuid, host in s.execute(select(ComputeNode.uuid,
                                                               ComputeNode.host))}
        by_host = {host: uuid for uuid, host in nodes.items()}
        providers = {rp_id: (uuid, name) for rp_id, uuid, name in s.execute(
            select(ResourceProvider.id, ResourceProvider.uuid, ResourceProvider.name))}
        known = _consumers_of_compute(s)
        held: set[str] = set()
        for consumer, rp_id, rc, used in s.execute(select(
                Allocation.consumer_id, Allocation.resource_provider_id,
                Allocation.resource_class, Allocation.used)):
            held.add(consumer)
            rp_uuid, name = providers[rp_id]
            if rp_uuid not in nodes or consumer in known:
                continue
            orphans.setdefault((consumer, name), Orphan(consumer, name, {})).resources[rc] = used
        with_pcpu = set(s.scalars(select(ResourceProvider.uuid).join(
            Inventory, Inventory.resource_provider_id == ResourceProvider.id).where(
            Inventory.resource_class == "PCPU")))
        volume_backed = set(s.scalars(select(BlockDeviceMapping.instance_uuid).where(
            BlockDeviceMapping.boot_index == 0,
            BlockDeviceMapping.destination_type == "volume")))
        for inst in s.scalars(select(Instance).where(Instance.deleted.is_(False),
                                                     Instance.host.is_not(None))):
            if inst.uuid in held or inst.vm_state in NOT_ON_A_HOST or inst.task_state:
                continue
            want = _server_resources(inst, inst.uuid in volume_backed,
                                     by_host.get(inst.host or "") in with_pcpu)
            if want:
                missing.append(Missing(inst.uuid, inst.host or "", by_host.get(inst.host or ""),
                                       want, inst.project_id, inst.user_id))
    return sorted(orphans.values(), key=lambda o: (o.consumer, o.provider)), missing


def delete_orphans(cloud: "Cloud", orphans: list[Orphan]) -> int:
    """Remove the allocations of every orphaned consumer; returns how many consumers."""
    from pocketstack.api.errors import NotFound
    from pocketstack.placement.allocations import Allocations

    gone = 0
    allocations = Allocations(cloud.db)
    for consumer in sorted({o.consumer for o in orphans}):
        try:
            allocations.delete(consumer)
            gone += 1
        except NotFound:  # deleted meanwhile: nothing left to do
            pass
    return gone


def heal(cloud: "Cloud", missing: list[Missing]) -> list[str]:
    """Allocate each server's flavor on its host's provider; returns one line per server.
    A server whose host has no provider, or no room left, is reported, not healed."""
    from pocketstack.api.errors import ApiError
    from pocketstack.placement.allocations import Allocations, ConsumerRequest

    allocations = Allocations(cloud.db)
    lines = []
    for m in missing:
        if m.provider is None:
            lines.append(f"server {m.uuid}: host {m.host} has no resource provider: not healed "
                         "(see pocketstack doctor's 'server hosts' check)")
            continue
        try:
            allocations.set([ConsumerRequest(m.uuid, {m.provider: m.resources}, m.project_id,
                                             m.user_id, consumer_type="INSTANCE")])
        except ApiError as exc:
            lines.append(f"server {m.uuid}: not healed: {exc}")
            continue
        what = ", ".join(f"{rc}={n}" for rc, n in sorted(m.resources.items()))
        lines.append(f"server {m.uuid}: allocated {what} on {m.host}")
    return lines
