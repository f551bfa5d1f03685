"""Compute hosts: the nova-* service records (with heartbeats) and the hypervisor records."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select, update

from pocketstack.api import errors
from pocketstack.compute.models import ComputeNode, ComputeService, Instance
from pocketstack.db import new_uuid, utcnow

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud
    from pocketstack.compute.drivers.base import ComputeDriver

LOG = logging.getLogger(__name__)
CONTROL_BINARIES = (("nova-scheduler", "scheduler"), ("nova-conductor", "conductor"))


class Hosts:
    def __init__(self, cloud: "Cloud", driver: "ComputeDriver", aggregates: Any) -> None:
        self.cloud = cloud
        self.aggregates = aggregates
        self.db = cloud.db
        self.conf = cloud.conf
        self.driver = driver
        self.control_host = socket.gethostname() or "pocketstack"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # called with the host after its nova-compute service was enabled or disabled
        self.enabled_hooks: list[Callable[[str], None]] = []

    # -- start-up -------------------------------------------------------------
    def ensure(self) -> None:
        """Create (idempotently) the service and hypervisor record of every host."""
        az = self.conf.get("DEFAULT", "default_availability_zone")
        internal = self.conf.get("DEFAULT", "internal_service_availability_zone")
        now = utcnow()
        with self.db.write() as s:
            existing = {(r.host, r.binary): r for r in s.scalars(select(ComputeService))}
            wanted = [(self.control_host, b, t, internal) for b, t in CONTROL_BINARIES]
            wanted += [(h, "nova-compute", "compute", az) for h in self.driver.hosts()]
            for host, binary, topic, zone in wanted:
                row = existing.get((host, binary))
                if row is None:
                    s.add(ComputeService(uuid=new_uuid(), host=host, binary=binary, topic=topic,
                                         zone=zone, last_seen_up=now, created_at=now))
                else:
                    row.last_seen_up = now
                    row.zone = zone if binary != "nova-compute" else \
                        (self.aggregates.zone_of(host) or zone)
            nodes = {n.host: n for n in s.scalars(select(ComputeNode))}
            for host in self.driver.hosts():
                res = self.driver.get_available_resource(host)
                node = nodes.get(host)
                if node is None:
                    node = ComputeNode(uuid=new_uuid(), host=host, created_at=now)
                    s.add(node)
                node.hypervisor_hostname = host
                node.hypervisor_type = res["hypervisor_type"]
                node.hypervisor_version = res["hypervisor_version"]
                node.host_ip = self.cloud.host
                node.vcpus, node.memory_mb = res["vcpus"], res["memory_mb"]
                node.local_gb, node.cpu_info = res["local_gb"], res["cpu_info"]
                node.updated_at = now

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="compute-heartbeat",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        interval = self.conf.get("DEFAULT", "report_interval")
        first = True  # beat at once: a long start-up must not leave the hosts "down"
        while first or not self._stop.wait(interval):
            first = False
            try:  # plain UPDATEs: 1,000 simulated hosts cost a few ms under the write lock
                hosts = [self.control_host, *self.driver.hosts()]
                with self.db.write() as s:
                    now = utcnow()
                    for i in range(0, len(hosts), 5000):
                        s.execute(update(ComputeService)
                                  .where(ComputeService.host.in_(hosts[i:i + 5000]))
                                  .values(last_seen_up=now)
                                  .execution_options(synchronize_session=False))
            except Exception:  # a missed heartbeat is not fatal
                LOG.exception("compute heartbeat failed")

    # -- queries --------------------------------------------------------------
    def is_up(self, svc: ComputeService) -> bool:
        if svc.forced_down:
            return False
        last = svc.last_seen_up or svc.updated_at or svc.created_at
        return utcnow() - last <= dt.timedelta(seconds=self.conf.get("DEFAULT",
                                                                      "service_down_time"))

    def services(self, binary: str | None = None, host: str | None = None
                 ) -> list[ComputeService]:
        with self.db.read() as s:
            q = select(ComputeService).order_by(ComputeService.id)
            if binary:
                q = q.where(ComputeService.binary == binary)
            if host:
                q = q.where(ComputeService.host == host)
            return list(s.scalars(q))

    def compute_services(self) -> dict[str, ComputeService]:
        return {svc.host: svc for svc in self.services("nova-compute")}

    def get_service(self, service_id: str, use_uuid: bool) -> ComputeService:
        with self.db.read() as s:
            if use_uuid:
                row = s.scalar(select(ComputeService).where(ComputeService.uuid == service_id))
            else:
                row = s.get(ComputeService, int(service_id)) if service_id.isdigit() else None
        if row is None:
            raise errors.NotFound(f"Service {service_id} could not be found.")
        return row

    def update_service(self, svc_uuid: str, changes: dict[str, Any]) -> ComputeService:
        with self.db.write() as s:
            row = s.scalar(select(ComputeService).where(ComputeService.uuid == svc_uuid))
            if row is None:
                raise errors.NotFound(f"Service {svc_uuid} could not be found.")
            for k, v in changes.items():
                setattr(row, k, v)
            row.updated_at = utcnow()
        if "disabled" in changes and row.binary == "nova-compute":
            for hook in self.enabled_hooks:  # its provider's COMPUTE_STATUS_DISABLED
                try:
                    hook(row.host)
                except Exception:  # Placement is told again at the next start
                    LOG.exception("reporting the status of %s to placement failed", row.host)
        return row

    def delete_service(self, svc: ComputeService) -> None:
        with self.db.write() as s:
            if svc.binary == "nova-compute":
                busy = s.scalar(select(Instance.uuid).where(Instance.host == svc.host,
                                                            Instance.deleted.is_(False)))
                if busy:
                    raise errors.Conflict("Unable to delete compute service that is hosting "
                                          "instances. Migrate or delete the instances first.")
                node = s.scalar(select(ComputeNode).where(ComputeNode.host == svc.host))
                if node is not None:
                    s.delete(node)
            row = s.get(ComputeService, svc.id)
            if row is not None:
                s.delete(row)

    def nodes(self) -> list[ComputeNode]:
        with self.db.read() as s:
            return list(s.scalars(select(ComputeNode).order_by(ComputeNode.id)))

    def usage(self) -> dict[str, dict[str, int]]:
        """Per host: vcpus, memory_mb, local_gb used and running_vms, from instance rows."""
        out: dict[str, dict[str, int]] = {}
        with self.db.read() as s:
            rows = s.execute(select(Instance.host, Instance.vcpus, Instance.memory_mb,
                                    Instance.root_gb, Instance.ephemeral_gb)
                             .where(Instance.deleted.is_(False), Instance.host.is_not(None)))
            for host, vcpus, ram, root, eph in rows:
                u = out.setdefault(host, {"vcpus": 0, "memory_mb": 0, "local_gb": 0,
                                          "running_vms": 0})
                u["vcpus"] += vcpus
                u["memory_mb"] += ram
                u["local_gb"] += root + eph
                u["running_vms"] += 1
        return out
