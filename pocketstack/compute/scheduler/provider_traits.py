"""The scheduler's share of the hosts' traits: reported to Placement at load and when a
service is enabled or disabled (compute.traits), kept in memory on the host states, read
again only for the providers written since (an operator's ``resource provider trait set``),
so that a decision reads nothing."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.compute import traits as traits_mod
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec, shared_traits
from pocketstack.compute.scheduler.service_watch import watch_provider_writes

if TYPE_CHECKING:
    from pocketstack.compute.placement import ReportClient

_NONE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
_WATCHING: "weakref.WeakSet[ProviderTraits]" = weakref.WeakSet()


def _mark(uuids: set[str]) -> None:
    for sched in list(_WATCHING):
        sched.providers_changed(uuids)


class ProviderTraits:
    """Mixed into the Scheduler (its conf, db, hosts, report, _lock and _states)."""

    conf: Any
    db: Any
    hosts: Any
    report: "ReportClient"
    _lock: Any
    _states: dict[str, HostState]
    _dirty_rps: set[str]
    _rps_lock: threading.Lock

    def _resources(self, host: str) -> dict[str, Any]:
        raise NotImplementedError

    def _watch_traits(self) -> None:
        self._dirty_rps = set()  # providers written since the last decision
        self._seen_rps: set[str] = set()  # ... since the periodic report began
        self._rps_lock = threading.Lock()
        watch_provider_writes(_mark)
        _WATCHING.add(self)

    def _request_traits(self, spec: RequestSpec) -> None:
        """Before a decision: the traits written since, and the request's traits."""
        if self._dirty_rps:
            self._refresh_traits()
        if spec.traits is None:
            spec.traits = traits_mod.requested(spec.extra_specs, spec.image_props, self.conf)

    @staticmethod
    def _traits_pass(st: HostState, spec: RequestSpec) -> bool:
        """The host's provider has the required traits and none of the forbidden."""
        required, forbidden = spec.traits or _NONE
        return not (required and not required <= st.traits) and \
            forbidden.isdisjoint(st.traits)

    def _image_traits_fit(self, st: HostState, spec: RequestSpec) -> bool:
        """A rebuild to a new image (Nova's conductor): the image's required traits are on
        the host's provider, and the flavor forbids none of them."""
        wanted = {k[6:] for k, v in spec.image_props.items()
                  if k.startswith("trait:") and v == "required"}
        if not wanted:
            return True
        if self._dirty_rps:
            self._refresh_traits()
        forbidden = traits_mod.requested(spec.extra_specs, {}, self.conf)[1]
        return wanted <= st.traits and not wanted & forbidden

    def _load_traits(self, states: dict[str, HostState],
                     reported: dict[str, dict[str, Any]]) -> None:
        """Report every host's traits and keep them on its state."""
        caps = traits_mod.capabilities(self.hosts.driver, self.conf)  # (one driver)
        owned = {h: traits_mod.driver_traits(self.hosts.driver, self.conf, reported[h], caps)
                 for h in states}
        have = self.report.sync_traits(owned)
        for h, st in states.items():  # (without Placement: what the driver reports)
            st.traits = shared_traits(have.get(h, owned[h][0]))

    def report_all_traits(self) -> None:
        """Every host's traits again (Nova's update_available_resource periodic task, for
        the traits): what an operator removed of the driver's comes back, the others stay;
        written only where something changed."""
        with self._lock, self._rps_lock:
            states = dict(self._states)
            self._seen_rps = set()
        self._load_traits(states, {h: {"cpu_info": st.cpu_info} for h, st in states.items()})
        with self._rps_lock:  # written meanwhile: what was just read may be older
            self._dirty_rps |= self._seen_rps

    def providers_changed(self, uuids: set[str]) -> None:
        """Resource providers were written (their traits, say): read their traits again
        before the next decision."""
        with self._rps_lock:
            self._dirty_rps |= uuids
            self._seen_rps |= uuids

    def report_traits(self, host: str) -> None:
        """Re-report ``host``'s traits to Placement (its service was enabled or disabled:
        COMPUTE_STATUS_DISABLED, as Nova's compute does on ``set_host_enabled``), the
        traits it does not own kept."""
        owned = {host: traits_mod.driver_traits(self.hosts.driver, self.conf,
                                                self._resources(host))}
        have = self.report.sync_traits(owned)
        with self._lock:
            st = self._states.get(host)
            if st is not None and host in have:
                st.traits = shared_traits(have[host])

    def _refresh_traits(self) -> None:
        """Read the traits of the compute providers written since the last decision (an
        operator's ``resource provider trait set``): one query, only then."""
        from pocketstack.placement.models import ProviderTrait, ResourceProvider

        with self._rps_lock:
            uuids, self._dirty_rps = self._dirty_rps, set()
        hosts = {uuid: h for h, uuid in self.report.providers.items() if uuid in uuids}
        if not hosts:
            return
        found: dict[str, set[str]] = {uuid: set() for uuid in hosts}
        with self.db.read() as s:
            for uuid, trait in s.execute(
                    select(ResourceProvider.uuid, ProviderTrait.trait)
                    .join(ProviderTrait,
                          ProviderTrait.resource_provider_id == ResourceProvider.id)
                    .where(ResourceProvider.uuid.in_(list(hosts)))):
                found[uuid].add(trait)
        with self._lock:
            for uuid, host in hosts.items():
                st = self._states.get(host)
                if st is not None:
                    st.traits = shared_traits(frozenset(found[uuid]))
