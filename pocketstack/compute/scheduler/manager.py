"""Select a host for a request: filters and weighers in memory, then a claim in
Placement (the server's uuid as consumer) so that ``resource provider usage show`` and
the hypervisor statistics agree.

Fast at scale: the hosts are kept in weight order (a sorted list updated on each claim
and release), and the first host in that order that passes every filter is the one the
full filter-then-weigh pass would pick; so a decision usually looks at one host, not all.
The nova-compute service rows (enabled, up, zone) are cached and re-read after a commit
that wrote them or an aggregate (ORM events, in this process), or after a few seconds
(heartbeats, other processes): a decision itself reads nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import logging
import math
import random
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import func, select, update

from pocketstack.api import errors
from pocketstack.compute import numa
from pocketstack.compute.models import Aggregate, ComputeNode, ComputeService, Instance
from pocketstack.compute.placement import ReportClient
from pocketstack.compute.scheduler import pci as pci_mod
from pocketstack.compute.scheduler import filters as filter_mod
from pocketstack.compute.scheduler.host_state import NOTHING, HostState, RequestSpec
from pocketstack.compute.scheduler.numa_fit import cpu_fits
from pocketstack.compute.scheduler.provider_traits import ProviderTraits
from pocketstack.compute.scheduler.service_watch import watch_service_writes
from pocketstack.compute.scheduler import weighers as weigher_mod
from pocketstack.db import utcnow
from pocketstack.db.raw import Tx

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud
    from pocketstack.compute.hosts import Hosts

LOG = logging.getLogger(__name__)
IO_TASKS = ("spawning", "resize_prep", "resize_migrating", "rebuilding", "image_snapshot",
            "image_backup", "rescuing", "unshelving")
_SERVICE_TTL = 2.0  # seconds a cached view of the service rows is trusted (heartbeats)
_OWNER_SQL = f"SELECT project_id, user_id FROM {Instance.__tablename__} WHERE uuid = ?"


_SCHEDULERS: "weakref.WeakSet[Scheduler]" = weakref.WeakSet()


def _mark_schedulers() -> None:
    for sched in list(_SCHEDULERS):
        sched.services_changed()


class NoValidHost(Exception):
    def __init__(self, reason: str = "There are not enough hosts available.") -> None:
        super().__init__(f"No valid host was found. {reason}")


def disk_gb(root_gb: int, ephemeral_gb: int, swap_mb: int) -> int:
    return root_gb + ephemeral_gb + math.ceil(swap_mb / 1024)


class Scheduler(ProviderTraits):
    def __init__(self, cloud: "Cloud", hosts: "Hosts") -> None:
        self.conf = cloud.conf
        self.db = cloud.db
        self.hosts = hosts
        self.report = ReportClient(cloud)
        self._lock = threading.RLock()
        self._states: dict[str, HostState] = {}
        self._keys: dict[str, tuple[Any, ...]] = {}
        self._order: list[tuple[Any, ...]] = []  # ascending; the best host is last
        self._owners: dict[str, tuple[str, str]] = {}  # instance -> (project, user)
        self._where: dict[str, set[str]] = {}  # instance -> hosts holding a claim for it
        self._svc_dirty = True  # a commit wrote a service row or an aggregate
        self._migrations: set[str] = set()  # consumers that are migration records
        self._svc_at = 0.0
        names = self.conf.get("filter_scheduler", "enabled_filters")
        unknown = [n for n in names if n not in filter_mod.ALL]
        if unknown:
            LOG.warning("unknown scheduler filters ignored: %s", ", ".join(unknown))
        self.filters = [filter_mod.ALL[n].from_conf(self.conf) for n in names
                        if n in filter_mod.ALL]
        self.subset = max(1, int(self.conf.get("filter_scheduler", "host_subset_size")))
        self.shuffle = bool(self.conf.get("filter_scheduler", "shuffle_best_same_weighed_hosts"))
        self.weighers = self._weighers()
        self._static = [w for w in self.weighers if w.static and w.multiplier]
        self._scales: dict[int, float] = {}
        # guest NUMA topologies (compute/numa.py): asked for, by instance (for its moves);
        # whether the claim itself checks the fit (when NUMATopologyFilter is not enabled)
        self._numa_requests: dict[str, dict[str, Any]] = {}
        self._numa_check = "NUMATopologyFilter" not in names
        self._no_fallback = bool(self.conf.get("workarounds", "disable_fallback_pcpu_query"))
        self._watch_traits()
        watch_service_writes(_mark_schedulers)
        _SCHEDULERS.add(self)

    def services_changed(self) -> None:
        """A service row or an aggregate was written: read them again before the next
        decision."""
        self._svc_dirty = True

    def _weighers(self) -> list[weigher_mod.BaseWeigher]:
        names = [n.rsplit(".", 1)[-1] for n in
                 self.conf.get("filter_scheduler", "weight_classes")]
        if "all_weighers" in names:
            names = list(weigher_mod.ALL)
        unknown = [n for n in names if n not in weigher_mod.ALL]
        if unknown:
            LOG.warning("unknown scheduler weighers ignored: %s", ", ".join(unknown))
        out = []
        for n in names:
            if n in weigher_mod.ALL:
                cls = weigher_mod.ALL[n]
                out.append(cls(self.conf.get("filter_scheduler", cls.option)))
        return out

    # -- state ----------------------------------------------------------------------
    def load(self) -> None:
        """(Re)build the host states from the compute nodes and the instances on them,
        report the nodes to Placement and heal the servers' allocations there."""
        c = self.conf
        with self.db.read() as s:
            nodes = list(s.scalars(select(ComputeNode)))
            rows = list(s.execute(select(Instance.uuid, Instance.host, Instance.vcpus,
                                         Instance.memory_mb, Instance.root_gb,
                                         Instance.ephemeral_gb, Instance.flavor,
                                         Instance.project_id, Instance.user_id,
                                         Instance.resize_from, Instance.task_state)
                                  .where(Instance.deleted.is_(False),
                                         Instance.host.is_not(None))))
            fitted = list(s.execute(select(Instance.uuid, Instance.host,
                                           Instance.numa_topology)
                                    .where(Instance.deleted.is_(False),  # offloaded too
                                           Instance.numa_topology.is_not(None))))
        reported = {n.host: self._resources(n.host) for n in nodes}
        ratios = self.report.sync(nodes, {h: int(r.get("pcpus") or 0)
                                          for h, r in reported.items()})
        states = {}
        for n in nodes:
            r = ratios.get(n.host, {})
            states[n.host] = HostState(
                host=n.host, nodename=n.hypervisor_hostname,
                availability_zone=c.get("DEFAULT", "default_availability_zone"),
                total_vcpus=n.vcpus, total_ram_mb=n.memory_mb, total_disk_gb=n.local_gb,
                cpu_allocation_ratio=r.get("VCPU", c.get("DEFAULT", "cpu_allocation_ratio")),
                ram_allocation_ratio=r.get("MEMORY_MB",
                                           c.get("DEFAULT", "ram_allocation_ratio")),
                disk_allocation_ratio=r.get("DISK_GB",
                                            c.get("DEFAULT", "disk_allocation_ratio")))
            states[n.host].describe(n, reported[n.host], c)
        self._load_traits(states, reported)
        pinned = {uuid: topo.get("request") for uuid, _, topo in fitted}
        topos = {uuid: topo for uuid, _, topo in fitted}
        image_of = {uuid: (topo.get("request") or {}).get("image") for uuid, _, topo in fitted}
        owners = {}
        for uuid, host, vcpus, ram, root, eph, flavor, project, user, resize_from, task \
                in rows:
            owners[uuid] = (project, user)
            if task in IO_TASKS and host in states:
                states[host].num_io_ops += 1
            if host in states:
                v, p = numa.claimed_cpus(vcpus, pinned.get(uuid), states[host].total_pcpus > 0)
                states[host].consume(uuid, v, ram,
                                     disk_gb(root, eph, int((flavor or {}).get("swap") or 0)), p)
                self._claim_pci(states[host], uuid, (flavor or {}).get("extra_specs"),
                                topos.get(uuid))
            src = (resize_from or {}).get("host")
            old = (resize_from or {}).get("flavor") or {}
            holder = (resize_from or {}).get("migration_uuid") or uuid
            if holder != uuid:
                owners[holder] = (project, user)
                self._migrations.add(holder)
            if src and (src != host or holder != uuid) and src in states:
                v, p = numa.claimed_cpus(
                    int(old.get("vcpus", vcpus)),
                    numa.pinned_by(old.get("extra_specs"), image_of.get(uuid),
                                   int(old.get("vcpus", vcpus))),
                    states[src].total_pcpus > 0)
                states[src].consume(holder, v,  # the source claim
                                    int(old.get("memory_mb", ram)),
                                    disk_gb(int(old.get("root_gb", root)),
                                            int(old.get("ephemeral_gb", eph)),
                                            int(old.get("swap") or 0)), p)
        numa_requests = {}
        for uuid, host, topo in fitted:  # what the guests with a NUMA topology hold
            numa_requests[uuid] = topo.get("request")
            if host in states and self._numa_ready(states[host]):
                states[host].numa.claim(uuid, topo.get("cells") or [], topo.get("request"))
        where: dict[str, set[str]] = {}
        for st in states.values():
            for uuid in st.instances:
                where.setdefault(uuid, set()).add(st.host)
        with self._lock:
            self._states = states
            self._owners = owners
            self._where = where
            self._numa_requests = numa_requests
            self._refresh_services(force=True)
            hosts = list(states.values())
            self._scales = {id(w): w.scale(hosts) for w in self._static}
            self._keys = {h: self._key(st) for h, st in states.items()}
            self._order = sorted(self._keys.values())
        self._heal()

    def _resources(self, host: str) -> dict[str, Any]:
        """The driver's report of a host (supported instances, PCI devices)."""
        try:
            return self.hosts.driver.get_available_resource(host)
        except Exception as exc:  # a host the driver no longer knows
            LOG.debug("no resources reported for %s: %s", host, exc)
            return {}

    def _claim_pci(self, st: HostState, uuid: str, extra_specs: Any, topo: Any = None
                   ) -> None:
        if st.pci is not None and extra_specs:
            try:
                st.pci.claim(uuid, pci_mod.requests_for(self.conf, extra_specs),
                             *pci_mod.placed(topo and topo.get("cells"),
                                             topo and topo.get("request")))
            except errors.ApiError as exc:  # an alias removed from the config since
                LOG.warning("PCI devices of %s not reclaimed: %s", uuid, exc)

    def _heal(self) -> None:
        """Give Placement the allocations of the servers it does not know (or wrongly)."""
        if not self.report.enabled:
            return
        have = self.report.allocations()
        with self._lock:
            wanted: dict[str, dict[str, tuple[int, ...]]] = {}
            for st in self._states.values():
                for uuid, usage in st.instances.items():
                    wanted.setdefault(uuid, {})[st.host] = usage
        for uuid, usage in wanted.items():
            from pocketstack.compute.placement import resources

            expect = {self.report.providers.get(h): resources(*u) for h, u in usage.items()}
            if have.get(uuid) != expect and uuid in self._owners:
                try:
                    self.report.put(uuid, usage, *self._owners[uuid], self._type(uuid))
                except errors.ApiError as exc:
                    LOG.warning("placement: cannot heal allocations of %s: %s", uuid, exc)

    def _key(self, st: HostState) -> tuple[Any, ...]:
        weight = sum(w.multiplier * w.value(st, None) / self._scales.get(id(w), 1.0)
                     for w in self._static)
        return (weight, -len(st.instances), st.host)

    def _dynamic(self, spec: RequestSpec) -> bool:
        """Whether the request needs Nova's full filter-then-weigh pass (a weigher that
        depends on the request, e.g. a soft-affinity group, has something to weigh)."""
        return bool(spec.group) and any(
            not w.static and w.multiplier and getattr(w, "policy", None) ==
            spec.group.get("policy") for w in self.weighers)

    def _full_pass(self, spec: RequestSpec, everything: list[HostState]) -> HostState:
        passing = [st for st in everything if self._passes(st, spec, everything)]
        if not passing:
            raise NoValidHost()
        total = {st.host: 0.0 for st in passing}
        for w in self.weighers:
            if w.multiplier:
                for h, v in w.weigh(passing, spec).items():
                    total[h] += v
        passing.sort(key=lambda st: (total[st.host], self._keys[st.host]), reverse=True)
        return random.choice(passing[:self.subset])

    # -- io ops and build failures (IoOpsWeigher, BuildFailureWeigher) ----------------
    def io_ops(self, host: str | None, delta: int) -> None:
        with self._lock:
            st = self._states.get(host or "")
            if st is not None:
                st.num_io_ops = max(0, st.num_io_ops + delta)
                self._reorder(st)

    def build_result(self, host: str | None, ok: bool) -> None:
        with self._lock:
            st = self._states.get(host or "")
            if st is not None and (ok and st.failed_builds or not ok):
                st.failed_builds = 0 if ok else st.failed_builds + 1
                self._reorder(st)

    def _reorder(self, st: HostState) -> None:
        old = self._keys.get(st.host)
        if old is not None:
            i = bisect.bisect_left(self._order, old)
            if i < len(self._order) and self._order[i] == old:
                del self._order[i]
        new = self._key(st)
        self._keys[st.host] = new
        bisect.insort(self._order, new)

    def _refresh_services(self, force: bool = False) -> None:
        """Copy the service rows' enabled/up/zone onto the host states when written
        (a commit in this process) or when the cached copy is a few seconds old."""
        now = time.monotonic()
        if not force and not self._svc_dirty and now - self._svc_at < _SERVICE_TTL:
            return
        self._svc_dirty, self._svc_at = False, now  # before reading: a commit now re-marks
        limit = utcnow() - dt.timedelta(seconds=self.conf.get("DEFAULT", "service_down_time"))
        seen = func.coalesce(ComputeService.last_seen_up, ComputeService.updated_at,
                             ComputeService.created_at)
        with self.db.read() as s:  # "up" computed by the database: no datetimes parsed
            services = {r[0]: r for r in s.execute(
                select(ComputeService.host, ComputeService.disabled,
                       ComputeService.forced_down, ComputeService.zone, seen >= limit)
                .where(ComputeService.binary == "nova-compute"))}
        self._aggregates_metadata()  # AggregateInstanceExtraSpecsFilter's metadata
        for st in self._states.values():
            svc = services.get(st.host)
            st.service_enabled = svc is not None and not svc[1]
            if svc is None:
                st.service_up = False
                continue
            st.service_up = not svc[2] and bool(svc[4])
            st.availability_zone = svc[3]

    def _aggregates_metadata(self) -> None:
        with self.db.read() as s:
            rows = list(s.execute(select(Aggregate.hosts, Aggregate.aggregate_metadata)))
        per_host: dict[str, dict[str, set[str]]] = {}
        for hosts, metadata in rows:
            for h in hosts or []:
                md = per_host.setdefault(h, {})
                for k, v in (metadata or {}).items():
                    md.setdefault(k, set()).update(x.strip() for x in str(v).split(","))
        for st in self._states.values():
            st.aggregates_metadata = per_host.get(st.host) or NOTHING

    # -- decisions ------------------------------------------------------------------
    def _numa_ready(self, st: HostState) -> bool:
        """Give the host state its NUMA cells (from the driver) the first time a NUMA
        request looks at it; False when the host has none."""
        if st.numa is None:
            cells_of = getattr(self.hosts.driver, "numa_topology", None)
            cells = cells_of(st.host) if cells_of is not None else []
            st.numa = numa.HostNUMA(cells, self.conf.get(
                "compute", "packing_host_numa_cells_allocation_strategy")) if cells else False
        return bool(st.numa)

    def _passes(self, st: HostState, spec: RequestSpec, everything: list[HostState]) -> bool:
        if st.host in spec.ignore_hosts:
            return False
        if not self._traits_pass(st, spec):
            return False
        if spec.pcpus and not cpu_fits(st, spec, self._no_fallback):
            return False
        if spec.numa is not None and (not self._numa_ready(st) or self._numa_check and
                                      numa.fit_for(st, spec) is None):
            return False
        return all(f.host_passes(st, spec, everything) for f in self.filters)

    def rebuild_passes(self, host: str | None, spec: RequestSpec) -> bool:
        """A rebuild to a new image stays on its host if the RUN_ON_REBUILD filters
        (ImagePropertiesFilter) pass there, as Nova's conductor asks the scheduler, and
        the host's provider has the image's required traits."""
        st = self._states.get(host or "")
        return st is None or self._image_traits_fit(st, spec) and all(
            f.host_passes(st, spec, [st]) for f in self.filters if f.RUN_ON_REBUILD)

    def _pick(self, spec: RequestSpec) -> HostState:
        everything = list(self._states.values())
        if spec.force_host:
            st = self._states.get(spec.force_host)
            if st is not None and spec.skip_filters:
                return st
            if st is not None and self._passes(st, spec, everything):
                return st
            raise NoValidHost()
        if self._dynamic(spec):
            return self._full_pass(spec, everything)
        order = self._order
        best: list[HostState] = []  # host_subset_size: one at random among the N best
        i = len(order) - 1
        while i >= 0 and len(best) < self.subset:
            if self.shuffle and not best:  # the hosts of the best weight, shuffled (the
                lo = bisect.bisect_left(order, (order[i][0],))  # order is by weight first)
                block = order[lo:i + 1]
                random.shuffle(block)
                i = lo - 1
            else:
                block, i = [order[i]], i - 1
            for key in block:
                st = self._states[key[2]]
                if self._passes(st, spec, everything):
                    best.append(st)
                    if len(best) >= self.subset:
                        break
        if best:
            return best[0] if len(best) == 1 else random.choice(best)
        LOG.info("no valid host for %s among %d hosts", spec.instance_uuid, len(order))
        raise NoValidHost()

    def select_destination(self, spec: RequestSpec,
                           within: Callable[[Tx, HostState], None] | None = None
                           ) -> HostState:
        """Filter and weigh the hosts; claim the request's resources on the winner. With
        ``within``, run ``within(tx, host)`` in the claim's transaction (the caller's own
        SQL: one transaction, not two); if it raises, the claim is undone and the
        exception propagates."""
        self._refresh_services()
        self._request_traits(spec)
        if spec.user_id and spec.instance_uuid not in self._owners:
            self._owners[spec.instance_uuid] = (spec.project_id, spec.user_id)
        forget = False
        if spec.numa is None and self._numa_requests:  # a move keeps its NUMA topology
            spec.numa = self._numa_requests.get(spec.instance_uuid)
        elif spec.numa is not None and not spec.numa["cells"]:  # resized to a flavor without
            spec.numa, forget = None, True
        if spec.pcpus is None:  # pinned CPUs are PCPU (Nova's resources_from_request_spec)
            spec.vcpus, spec.pcpus = numa.cpu_resources(spec.numa, spec.vcpus)
        tried: set[str] = set()
        for _ in range(3):
            with self._lock:
                spec.numa_fit = None  # (fits are computed under this lock, for this pass)
                best = self._pick(spec)
                write = within
                if spec.numa is not None:
                    write = self._numa_claim(best, spec, within)
                elif forget:
                    self._numa_requests.pop(spec.instance_uuid, None)
                    write = self._store_topology(within, spec.instance_uuid, None)
                v, p = numa.spec_cpus(spec, best.total_pcpus > 0)
                best.consume(spec.instance_uuid, v, spec.memory_mb, spec.disk_gb, p)
                if spec.pci_requests and best.pci is not None:
                    best.pci.claim(spec.instance_uuid, spec.pci_requests,
                                   *pci_mod.placed(spec.numa_fit and spec.numa_fit[1],
                                                   spec.numa))
                self._where.setdefault(spec.instance_uuid, set()).add(best.host)
                self._reorder(best)
            try:
                self._claim(spec.instance_uuid, spec.project_id, write and (
                    lambda tx, best=best, write=write: write(tx, best)))
                return best
            except errors.Conflict as exc:  # Placement disagrees (usage made elsewhere)
                LOG.info("placement refused %s on %s: %s", spec.instance_uuid, best.host, exc)
                self._release_memory(best.host, spec.instance_uuid)
                tried.add(best.host)
                spec.ignore_hosts.add(best.host)
            except BaseException:
                self._release_memory(best.host, spec.instance_uuid)
                raise
        spec.ignore_hosts -= tried
        raise NoValidHost()

    def _numa_claim(self, best: HostState, spec: RequestSpec,
                    within: Callable[[Tx, HostState], None] | None
                    ) -> Callable[[Tx, HostState], None]:
        """Claim the guest cells on ``best`` (the fit its filter pass computed) and return
        ``within`` extended to store the instance's topology in the claim's transaction."""
        cells = spec.numa_fit[1] if spec.numa_fit and spec.numa_fit[0] == best.host \
            else (numa.fit_for(best, spec) if self._numa_ready(best) else None)
        if cells is None:  # a forced host without the filters
            raise NoValidHost("The host cannot hold the requested NUMA topology.")
        uuid = spec.instance_uuid
        best.numa.claim(uuid, cells, spec.numa)
        self._numa_requests[uuid] = spec.numa
        return self._store_topology(within, uuid, numa.topology(spec.numa, cells))

    def _store_topology(self, within: Callable[[Tx, HostState], None] | None, uuid: str,
                        topo: dict[str, Any] | None) -> Callable[[Tx, HostState], None]:
        bound = self.db.codec(Instance).bind({"numa_topology": topo})["numa_topology"]

        def write(tx: Tx, host: HostState) -> None:
            if within is not None:
                within(tx, host)
            tx.execute("UPDATE compute_instance SET numa_topology = :topo WHERE uuid = :uuid",
                       {"topo": bound, "uuid": uuid})
        return write

    def forget(self, uuid: str) -> None:
        """A server is deleted: drop its NUMA request (its claims go with release)."""
        self._numa_requests.pop(uuid, None)

    def _owner(self, uuid: str, project_id: str | None = None) -> tuple[str, str]:
        owner = self._owners.get(uuid)
        if owner is None:
            if self.db.is_sqlite:  # one SELECT by the unique uuid: no session, no compile
                raw = self.db.reader.raw_connection()
                try:
                    row = raw.driver_connection.execute(_OWNER_SQL, (uuid,)).fetchone()
                finally:
                    raw.close()
            else:
                with self.db.read() as s:
                    row = s.execute(select(Instance.project_id, Instance.user_id)
                                    .where(Instance.uuid == uuid)).first()
            owner = (row[0], row[1]) if row else (project_id or "", project_id or "")
            self._owners[uuid] = owner
        return owner

    def _usage_of(self, uuid: str) -> dict[str, tuple[int, ...]]:
        with self._lock:
            out = {}
            for h in self._where.get(uuid, ()):
                st = self._states.get(h)
                if st is not None and uuid in st.instances:
                    out[h] = st.instances[uuid]
            return out

    def _claim(self, uuid: str, project_id: str | None = None,
               within: Callable[[Tx], None] | None = None) -> None:
        if not self.report.enabled:
            if within is not None:
                with self.db.raw_write() as tx:
                    within(tx)
            return
        project, user = self._owner(uuid, project_id)
        self.report.put(uuid, self._usage_of(uuid), project, user, self._type(uuid),
                        within=within)

    def _release_memory(self, host: str, uuid: str) -> None:
        with self._lock:
            st = self._states.get(host)
            if st is not None and uuid in st.instances:
                st.release(uuid)
                self._reorder(st)
            if st is not None and st.numa:
                st.numa.release(uuid)
            hosts = self._where.get(uuid)
            if hosts is not None:
                hosts.discard(host)
                if not hosts:
                    del self._where[uuid]

    def _type(self, consumer: str) -> str:
        return "MIGRATION" if consumer in self._migrations else "INSTANCE"

    def transfer(self, host: str | None, from_uuid: str, to_uuid: str,
                 migration: bool = True) -> None:
        """Hand the claim ``from_uuid`` holds on ``host`` to ``to_uuid`` (a server's source
        claim to its migration record, Nova's migration-based allocations, or back), in
        memory and in Placement in one transaction."""
        if not host:
            return
        with self._lock:
            st = self._states.get(host)
            if st is None or from_uuid not in st.instances:
                return
            usage = st.instances[from_uuid]
            owner = self._owner(from_uuid)
            self._owners[to_uuid] = owner
            (self._migrations.add if migration else self._migrations.discard)(to_uuid)
            if not migration:
                self._migrations.add(from_uuid)
            devices = st.pci.claims.pop(from_uuid, None) if st.pci is not None else None
            st.release(from_uuid)
            st.consume(to_uuid, *usage)
            restored = None
            if st.numa:
                st.numa.transfer(from_uuid, to_uuid)
                restored = None if migration else st.numa.topology_of(to_uuid)
            if devices is not None:  # the PCI devices go with the claim
                st.pci.claims[to_uuid] = devices  # type: ignore[union-attr]
            self._reorder(st)
            for a, b in ((from_uuid, host), (to_uuid, host)):
                hosts = self._where.setdefault(a, set())
                (hosts.discard if a == from_uuid else hosts.add)(b)
                if not hosts:
                    del self._where[a]
        if restored is not None:  # a move undone: the server's topology is the source's
            self._numa_requests[to_uuid] = restored["request"]
            with self.db.write() as s:
                s.execute(update(Instance).where(Instance.uuid == to_uuid)
                          .values(numa_topology=restored))
        if not self.report.enabled:
            return
        try:
            self.report.put_many([(c, self._usage_of(c), *owner, self._type(c))
                                  for c in (from_uuid, to_uuid)])
        except errors.ApiError as exc:
            LOG.warning("placement: cannot move %s's claim on %s to %s: %s", from_uuid, host,
                        to_uuid, exc)
        if not self._usage_of(from_uuid):
            self._owners.pop(from_uuid, None)
            self._migrations.discard(from_uuid)

    def release(self, host: str | None, uuid: str, tx: Tx | None = None) -> None:
        """Free the server's resources on ``host`` (in memory and in Placement; in ``tx``,
        the caller's write transaction, when given and nothing else of the server's stays
        claimed: else once ``tx`` is committed)."""
        if not host:
            return
        self._release_memory(host, uuid)
        if not self.report.enabled:
            return
        usage = self._usage_of(uuid)
        try:
            if usage:
                put = functools.partial(self.report.put, uuid, usage, *self._owner(uuid),
                                        self._type(uuid))
                if tx is not None:
                    tx.after_commit(put)
                else:
                    put()
            else:
                self.report.release(uuid, tx)
                self._owners.pop(uuid, None)
                self._migrations.discard(uuid)
        except errors.ApiError as exc:
            LOG.warning("placement: cannot release %s on %s: %s", uuid, host, exc)
