"""Compute's report client: the fake hosts as Placement resource providers, and claims.

Every compute node is a root provider (uuid = the compute node's uuid, name = its
hypervisor hostname) with VCPU / MEMORY_MB / DISK_GB inventory, and PCPU for the CPUs of
its ``[compute] cpu_dedicated_set`` (allocation ratio 1.0, as Nova). Allocation ratios
follow Nova: ``cpu_allocation_ratio`` (and ram/disk) when set (> 0), otherwise the
provider's current ratio, otherwise ``initial_*_allocation_ratio`` for a new provider.
A server's allocations are keyed by its uuid (the consumer), with its project and user;
during a resize it holds resources on both hosts until confirmed or reverted.

Placement is optional: without a placement service everything here is a no-op.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sqlalchemy import select, update

from pocketstack.api import errors
from pocketstack.config import Opt, register
from pocketstack.db.raw import Tx

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud
    from pocketstack.compute.models import ComputeNode

LOG = logging.getLogger(__name__)

register(
    Opt("DEFAULT", "initial_cpu_allocation_ratio", float, 4.0,
        "VCPU allocation ratio of a new provider when cpu_allocation_ratio is unset (0)."),
    Opt("DEFAULT", "initial_ram_allocation_ratio", float, 1.0,
        "MEMORY_MB allocation ratio of a new provider when ram_allocation_ratio is unset (0)."),
    Opt("DEFAULT", "initial_disk_allocation_ratio", float, 1.0,
        "DISK_GB allocation ratio of a new provider when disk_allocation_ratio is unset (0)."),
    Opt("DEFAULT", "reserved_host_memory_mb", int, 0, "MEMORY_MB reserved for the host."),
    Opt("DEFAULT", "reserved_host_disk_mb", int, 0, "Disk (MB) reserved for the host."),
    Opt("DEFAULT", "reserved_host_cpus", int, 0, "VCPUs reserved for the host."),
)

RATIO_OPTS = {"VCPU": "cpu", "MEMORY_MB": "ram", "DISK_GB": "disk"}


def resources(vcpus: int, memory_mb: int, disk: int, pcpus: int = 0) -> dict[str, int]:
    out = {"VCPU": vcpus, "MEMORY_MB": memory_mb, "DISK_GB": disk, "PCPU": pcpus}
    return {rc: v for rc, v in out.items() if v}


class ReportClient:
    def __init__(self, cloud: "Cloud") -> None:
        self.conf = cloud.conf
        self.db = cloud.db
        self.cloud = cloud
        self._api: Any = None
        self.providers: dict[str, str] = {}  # compute host -> provider uuid

    @property
    def api(self) -> Any:
        """The in-process Placement (looked up late: it is built after compute)."""
        if self._api is None:
            self._api = getattr(self.cloud.service("placement"), "placement", None)
        return self._api

    @property
    def enabled(self) -> bool:
        return self.api is not None

    # -- providers ----------------------------------------------------------------
    def _current(self) -> dict[str, tuple[str, dict[str, dict[str, Any]]]]:
        """Provider name -> (uuid, inventories), in one read."""
        from pocketstack.placement.models import Inventory, ResourceProvider

        out: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {}
        with self.db.read() as s:
            rps = {rp_id: (name, uuid) for rp_id, name, uuid in s.execute(
                select(ResourceProvider.id, ResourceProvider.name, ResourceProvider.uuid))}
            for name, uuid in rps.values():
                out[name] = (uuid, {})
            for inv in s.scalars(select(Inventory)):
                name = rps[inv.resource_provider_id][0]
                out[name][1][inv.resource_class] = {
                    "total": inv.total, "reserved": inv.reserved, "min_unit": inv.min_unit,
                    "max_unit": inv.max_unit, "step_size": inv.step_size,
                    "allocation_ratio": inv.allocation_ratio}
        return out

    def _ratio(self, rc: str, current: dict[str, dict[str, Any]] | None) -> float:
        name = RATIO_OPTS[rc]
        configured = self.conf.get("DEFAULT", f"{name}_allocation_ratio")
        if configured and configured > 0:
            return float(configured)
        if current and rc in current:
            return float(current[rc]["allocation_ratio"])
        return float(self.conf.get("DEFAULT", f"initial_{name}_allocation_ratio"))

    def sync(self, nodes: Iterable["ComputeNode"], pcpus: dict[str, int] | None = None
             ) -> dict[str, dict[str, float]]:
        """Create/update the provider of every node (``pcpus``: host -> its dedicated
        CPUs, PCPU inventory); returns host -> {rc: ratio}."""
        c = self.conf
        nodes = list(nodes)
        current = self._current() if self.enabled else {}
        if self.enabled:
            self.api.catalog.seed()  # the standard classes (placement starts after compute)
        ratios: dict[str, dict[str, float]] = {}
        reserved = {"VCPU": c.get("DEFAULT", "reserved_host_cpus"),
                    "MEMORY_MB": c.get("DEFAULT", "reserved_host_memory_mb"),
                    "DISK_GB": -(-c.get("DEFAULT", "reserved_host_disk_mb") // 1024)}
        changes: list[tuple["ComputeNode", str | None, dict[str, dict[str, Any]]]] = []
        for n in nodes:
            uuid, have = current.get(n.hypervisor_hostname, (None, None))
            totals = {"VCPU": n.vcpus, "MEMORY_MB": n.memory_mb, "DISK_GB": n.local_gb}
            ratios[n.host] = {rc: self._ratio(rc, have) for rc in totals}
            if not self.enabled:
                continue
            wanted = {rc: {"total": total, "reserved": reserved[rc], "min_unit": 1,
                           "max_unit": total, "step_size": 1,
                           "allocation_ratio": ratios[n.host][rc]}
                      for rc, total in totals.items() if total > 0}
            dedicated = (pcpus or {}).get(n.host, 0)
            if dedicated > 0:  # pinned CPUs are never overcommitted
                wanted["PCPU"] = {"total": dedicated, "reserved": 0, "min_unit": 1,
                                  "max_unit": dedicated, "step_size": 1,
                                  "allocation_ratio": 1.0}
            if uuid is not None and have == wanted:
                self.providers[n.host] = uuid
                continue
            changes.append((n, uuid, wanted))
        if changes:
            try:
                self._write(changes)
            except errors.ApiError as exc:  # one by one, to report the others
                LOG.warning("placement: bulk report failed (%s), reporting one by one", exc)
                for n, _, wanted in changes:
                    try:
                        self.providers[n.host] = self.api.ensure_compute_provider(
                            n.hypervisor_hostname, wanted, uuid=n.uuid)
                    except errors.ApiError as exc:
                        LOG.warning("placement: cannot report host %s: %s", n.host, exc)
        return ratios

    def _write(self, changes: list[tuple[Any, str | None, dict[str, dict[str, Any]]]]
               ) -> None:
        """New providers and inventories of many hosts in one transaction (start-up with
        thousands of fake hosts would otherwise take a transaction or three per host)."""
        from pocketstack.placement.models import ResourceProvider

        done = {}
        with self.db.write() as s:
            for n, uuid, wanted in changes:
                if uuid is None:
                    rp = ResourceProvider(uuid=n.uuid, name=n.hypervisor_hostname,
                                          generation=0)
                    s.add(rp)
                    s.flush()
                    rp.root_provider_id = rp.id
                    uuid = rp.uuid
                    generation = 0
                else:
                    generation = s.scalar(select(ResourceProvider.generation)
                                          .where(ResourceProvider.uuid == uuid))
                self.api.inventories.replace_in(s, uuid, generation, wanted)
                done[n.host] = uuid
        self.providers.update(done)

    # -- traits ---------------------------------------------------------------------
    def sync_traits(self, owned: dict[str, tuple[frozenset[str], frozenset[str]]]
                    ) -> dict[str, frozenset[str]]:
        """Re-report the traits of the hosts' providers (``owned``: host -> the traits its
        driver reports and those it reports absent, compute.traits.driver_traits), with
        COMPUTE_STATUS_DISABLED as its service, keeping the traits nobody owns: one read,
        then, for the providers that change, a write that reads them again in its
        transaction (an operator's change meanwhile is kept). Returns host -> its traits."""
        hosts = [h for h in owned if h in self.providers]
        if not self.enabled or not hosts:
            return {}
        with self.db.read() as s:
            out, changed = self._sync_traits(s, hosts, owned, write=False)
        if changed:
            with self.db.write() as s:
                out.update(self._sync_traits(s, changed, owned, write=True)[0])
        return out

    def _sync_traits(self, s: Any, hosts: list[str],
                     owned: dict[str, tuple[frozenset[str], frozenset[str]]], write: bool
                     ) -> tuple[dict[str, frozenset[str]], list[str]]:
        from pocketstack.compute.models import ComputeService
        from pocketstack.compute.traits import merged
        from pocketstack.placement.models import ProviderTrait, ResourceProvider

        ids = {uuid: rp_id for uuid, rp_id in s.execute(
            select(ResourceProvider.uuid, ResourceProvider.id))}
        q = select(ProviderTrait.resource_provider_id, ProviderTrait.trait)
        if len(hosts) <= 500:  # (else all of them: one scan)
            q = q.where(ProviderTrait.resource_provider_id.in_(
                [ids.get(self.providers[h]) for h in hosts]))
        current: dict[int, set[str]] = {}
        for rp_id, trait in s.connection().execute(q):  # (Core rows: 100,000s of them)
            current.setdefault(rp_id, set()).add(trait)
        disabled = {host: off for host, off in s.execute(
            select(ComputeService.host, ComputeService.disabled)
            .where(ComputeService.binary == "nova-compute"))}
        out, changed, ids_changed = {}, [], {}
        for h in hosts:
            rp_id = ids.get(self.providers[h])
            if rp_id is None:
                continue
            have = current.get(rp_id, set())
            out[h] = merged(have, owned[h], bool(disabled.get(h)))
            if out[h] != have:
                changed.append(h)
                ids_changed[rp_id] = out[h]
        if write and ids_changed:
            self._write_traits(s, ids_changed)
        return out, changed

    @staticmethod
    def _write_traits(s: Any, changed: dict[int, frozenset[str]]) -> None:
        from sqlalchemy import delete, insert

        from pocketstack.placement.models import ProviderTrait, ResourceProvider, Trait

        names = set().union(*changed.values())
        known = set(s.scalars(select(Trait.name).where(Trait.name.in_(names))))
        if names - known:  # (standard names are seeded: a trait os-traits added since)
            s.execute(insert(Trait), [{"name": n, "standard": not n.startswith("CUSTOM_")}
                                      for n in sorted(names - known)])
        ids = sorted(changed)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            s.execute(delete(ProviderTrait)
                      .where(ProviderTrait.resource_provider_id.in_(chunk))
                      .execution_options(synchronize_session=False))
            s.execute(update(ResourceProvider).where(ResourceProvider.id.in_(chunk))
                      .values(generation=ResourceProvider.generation + 1)
                      .execution_options(synchronize_session=False))
        # the table's INSERT, not the ORM's bulk path (a third of the cost at start-up with
        # thousands of hosts of ~30 traits)
        s.connection().execute(ProviderTrait.__table__.insert(), [
            {"resource_provider_id": rp_id, "trait": t}
            for rp_id in ids for t in sorted(changed[rp_id])])

    # -- allocations ----------------------------------------------------------------
    def allocations(self) -> dict[str, dict[str, dict[str, int]]]:
        """Consumer -> {provider uuid: {rc: used}} on the compute providers."""
        from pocketstack.placement.models import Allocation, ResourceProvider

        mine = set(self.providers.values())
        out: dict[str, dict[str, dict[str, int]]] = {}
        if not self.enabled or not mine:
            return out
        with self.db.read() as s:
            for consumer, rp_uuid, rc, used in s.execute(
                    select(Allocation.consumer_id, ResourceProvider.uuid,
                           Allocation.resource_class, Allocation.used)
                    .join(ResourceProvider,
                          ResourceProvider.id == Allocation.resource_provider_id)):
                if rp_uuid in mine:
                    out.setdefault(consumer, {}).setdefault(rp_uuid, {})[rc] = used
        return out

    def _allocs(self, usage: dict[str, tuple[int, ...]]) -> dict[str, dict[str, int]]:
        allocs = {self.providers[h]: resources(*u) for h, u in usage.items()
                  if h in self.providers}
        return {rp: r for rp, r in allocs.items() if r}

    def put(self, consumer: str, usage: dict[str, tuple[int, ...]],
            project_id: str, user_id: str, consumer_type: str = "INSTANCE",
            within: Callable[[Tx], None] | None = None) -> None:
        """Make the consumer's allocations ``usage`` (host -> (vcpus, ram, disk)); with
        ``within``, also run it (the caller's own SQL on a :class:`Tx`) in the same
        transaction."""
        if not self.enabled:
            return
        from pocketstack.placement import claims
        from pocketstack.placement.allocations import ConsumerRequest

        allocs = self._allocs(usage)
        if allocs and self.db.is_sqlite:
            # the scheduler's claim: SQL text on the writer connection, no ORM session
            try:
                with self.db.raw_write() as tx:
                    claims.claim(tx, consumer, allocs, project_id, user_id, consumer_type)
                    if within is not None:
                        within(tx)
                return
            except claims.Undecided:  # rolled back: the ORM path decides (or gives the error)
                LOG.debug("placement: claim of %s by the ORM path", consumer)
        with self.db.write() as s:
            if allocs:
                self.api.allocations.set_in(s, [ConsumerRequest(
                    consumer, allocs, project_id, user_id, consumer_type=consumer_type)])
            else:
                self.api.allocations.delete_in(s, consumer)
            if within is not None:
                within(self.db.tx_of(s))

    def put_many(self, consumers: list[tuple[str, dict[str, tuple[int, ...]], str, str,
                                             str]]) -> None:
        """Several consumers' allocations in one transaction (consumer, usage, project,
        user, type): moving a host's claim from a server to its migration, or back."""
        if not self.enabled:
            return
        from pocketstack.placement.allocations import ConsumerRequest

        self.api.allocations.set([ConsumerRequest(c, self._allocs(u), p, us,
                                                  consumer_type=t)
                                  for c, u, p, us, t in consumers])

    def release(self, consumer: str, tx: Tx | None = None) -> None:
        """Drop the consumer's allocations (in ``tx``, the caller's transaction, when
        given)."""
        if not self.enabled:
            return
        if tx is None:
            self.api.release(consumer)
        else:
            from pocketstack.placement import claims

            claims.release(tx, consumer)
