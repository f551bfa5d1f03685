"""Operations: ``pocketstack doctor``, the operator commands of ``pocketstack manage``
and the running cloud's observability (notification log, gauges, status dump)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


def install(cloud: "Cloud") -> None:
    """Hook observability into a cloud that is about to serve (called by ``pocketstack up``)."""
    from pocketstack.ops import notifications

    cloud.bus.listen(notifications.NotificationLog(cloud.data_dir))
    notifications.watch_models(cloud)
    register_gauges(cloud)


def register_gauges(cloud: "Cloud") -> None:
    from sqlalchemy import func, select

    from pocketstack.compute.models import ComputeService, Instance
    from pocketstack.ops.services import is_up

    def instances() -> Iterable[tuple[list[str], float]]:
        with cloud.db.read() as s:
            rows = s.execute(select(Instance.vm_state, func.count()).where(
                Instance.deleted.is_(False)).group_by(Instance.vm_state)).all()
        return [([state], float(n)) for state, n in rows]

    def hosts() -> Iterable[tuple[list[str], float]]:
        with cloud.db.read() as s:
            rows = list(s.scalars(select(ComputeService).where(
                ComputeService.binary == "nova-compute")))
        up = sum(1 for r in rows if is_up(cloud, r))
        return [(["up"], float(up)), (["down"], float(len(rows) - up))]

    def queue() -> Iterable[tuple[list[str], float]]:
        return [(["local"], float(cloud.bus.pending()))]

    m = cloud.metrics
    m.gauge("pocketstack_instances", "Servers by vm_state", ["state"], instances)
    m.gauge("pocketstack_compute_hosts", "Compute hosts by heartbeat state", ["state"], hosts)
    m.gauge("pocketstack_bus_pending_tasks", "Tasks queued or running on the bus", ["bus"],
            queue)
