"""Select a host for a request: filters, then weighers, then an in-memory claim."""

from __future__ import annotations

import logging
import math
import threading
from typing import TYPE_CHECKING

from sqlalchemy import select

from pocketstack.compute.models import ComputeNode, Instance
from pocketstack.compute.scheduler import filters as filter_mod
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec
from pocketstack.compute.scheduler.weighers.ram import RAMWeigher

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud
    from pocketstack.compute.hosts import Hosts

LOG = logging.getLogger(__name__)


class NoValidHost(Exception):
    def __init__(self, reason: str = "There are not enough hosts available.") -> None:
        super().__init__(f"No valid host was found. {reason}")


def disk_gb(root_gb: int, ephemeral_gb: int, swap_mb: int) -> int:
    return root_gb + ephemeral_gb + math.ceil(swap_mb / 1024)


class Scheduler:
    def __init__(self, cloud: "Cloud", hosts: "Hosts") -> None:
        self.conf = cloud.conf
        self.db = cloud.db
        self.hosts = hosts
        self._lock = threading.Lock()
        self._states: dict[str, HostState] = {}
        names = self.conf.get("filter_scheduler", "enabled_filters")
        unknown = [n for n in names if n not in filter_mod.ALL]
        if unknown:
            LOG.warning("unknown scheduler filters ignored: %s", ", ".join(unknown))
        self.filters = [filter_mod.ALL[n]() for n in names if n in filter_mod.ALL]
        self.weigher = RAMWeigher(self.conf.get("filter_scheduler", "ram_weight_multiplier"))

    def load(self) -> None:
        """(Re)build the host states from the compute nodes and the instances on them."""
        c = self.conf
        with self.db.read() as s:
            nodes = list(s.scalars(select(ComputeNode)))
            rows = list(s.execute(select(Instance.uuid, Instance.host, Instance.vcpus,
                                         Instance.memory_mb, Instance.root_gb,
                                         Instance.ephemeral_gb, Instance.flavor)
                                  .where(Instance.deleted.is_(False),
                                         Instance.host.is_not(None))))
        zones = {h: svc.zone for h, svc in self.hosts.compute_services().items()}
        states = {}
        for n in nodes:
            states[n.host] = HostState(
                host=n.host, nodename=n.hypervisor_hostname,
                availability_zone=zones.get(n.host, c.get("DEFAULT", "default_availability_zone")),
                total_vcpus=n.vcpus, total_ram_mb=n.memory_mb, total_disk_gb=n.local_gb,
                cpu_allocation_ratio=c.get("DEFAULT", "cpu_allocation_ratio"),
                ram_allocation_ratio=c.get("DEFAULT", "ram_allocation_ratio"),
                disk_allocation_ratio=c.get("DEFAULT", "disk_allocation_ratio"))
        for uuid, host, vcpus, ram, root, eph, flavor in rows:
            if host in states:
                states[host].consume(uuid, vcpus, ram,
                                     disk_gb(root, eph, int((flavor or {}).get("swap") or 0)))
        with self._lock:
            self._states = states

    def select_destination(self, spec: RequestSpec) -> HostState:
        """Filter and weigh the hosts; claim the request's resources on the winner."""
        services = self.hosts.compute_services()
        with self._lock:
            candidates = []
            for st in self._states.values():
                svc = services.get(st.host)
                st.service_enabled = svc is not None and not svc.disabled
                st.service_up = svc is not None and self.hosts.is_up(svc)
                if svc is not None:
                    st.availability_zone = svc.zone
                if st.host in spec.ignore_hosts:
                    continue
                if spec.force_host and st.host != spec.force_host:
                    continue
                candidates.append(st)
            everything = list(self._states.values())
            for flt in self.filters:
                before = len(candidates)
                candidates = [h for h in candidates if flt.host_passes(h, spec, everything)]
                LOG.debug("filter %s: %d -> %d hosts", type(flt).__name__, before,
                          len(candidates))
                if not candidates:
                    LOG.info("no valid host for %s: %s returned 0 hosts", spec.instance_uuid,
                             type(flt).__name__)
                    raise NoValidHost()
            weights = self.weigher.weigh(candidates)
            best = max(candidates, key=lambda h: (weights[h.host], -len(h.instances), h.host))
            best.consume(spec.instance_uuid, spec.vcpus, spec.memory_mb, spec.disk_gb)
            return best

    def release(self, host: str | None, uuid: str) -> None:
        if not host:
            return
        with self._lock:
            st = self._states.get(host)
            if st is not None:
                st.release(uuid)
