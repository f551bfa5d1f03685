"""``manage service list|disable|enable|force-down|remove``: every service of the cloud.

Compute's services (nova-compute per host, nova-scheduler, nova-conductor) are
rows with heartbeats (``compute_service``); up means a heartbeat within
``[DEFAULT] service_down_time``. The API processes and Cinder's services have no
rows of their own: they are up when their API answers its healthcheck, and
follow the cloud's process (they cannot be disabled or removed here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.ops.common import OpsError, iso, running_state, utcnow

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

#: the binaries real OpenStack runs for each API
API_BINARIES = {"identity": "keystone", "compute": "nova-api", "placement": "placement-api",
                "image": "glance-api", "network": "neutron-server", "volume": "cinder-api",
                "object-store": "swift-proxy-server", "metadata": "nova-metadata-api"}


@dataclass
class ServiceRow:
    binary: str
    host: str
    zone: str
    status: str  # enabled / disabled
    up: bool
    updated_at: str
    disabled_reason: str | None = None
    forced_down: bool = False
    persistent: bool = False  # a database row (can be disabled, forced down, removed)

    @property
    def state(self) -> str:
        return ":-)" if self.up else "XXX"


def is_up(cloud: "Cloud", row: object) -> bool:
    if getattr(row, "forced_down", False):
        return False
    last = getattr(row, "last_seen_up", None) or getattr(row, "updated_at", None) or \
        getattr(row, "created_at")
    down_after = dt.timedelta(seconds=int(cloud.conf.get("DEFAULT", "service_down_time")))
    return utcnow() - last <= down_after


def _api_health(state: dict | None) -> dict[str, bool]:
    if state is None:
        return {}
    from pocketstack.server import probe

    return {svc["name"]: probe(f"http://{state['bind']}:{svc['port']}/healthcheck")[0]
            for svc in state["services"]}


def list_services(cloud: "Cloud") -> list[ServiceRow]:
    from pocketstack.compute.models import ComputeService
    from pocketstack.services import service_classes

    rows: list[ServiceRow] = []
    with cloud.db.read() as s:
        for r in s.scalars(select(ComputeService).order_by(ComputeService.id)):
            rows.append(ServiceRow(r.binary, r.host, r.zone,
                                   "disabled" if r.disabled else "enabled", is_up(cloud, r),
                                   iso(r.last_seen_up or r.updated_at), r.disabled_reason,
                                   r.forced_down, persistent=True))
    state = running_state(cloud.data_dir)
    health = _api_health(state)
    host = state["bind"] if state else cloud.host
    names = [svc["name"] for svc in state["services"]] if state else \
        [cls.name for cls in service_classes()]
    now = iso(utcnow()) if state else "-"
    for name in names:
        rows.append(ServiceRow(API_BINARIES.get(name, f"{name}-api"), host, "internal",
                               "enabled", health.get(name, False), now))
    volume_up = health.get("volume", False)
    for binary, h in (("cinder-scheduler", host), ("cinder-volume", f"{host}@file"),
                      ("cinder-backup", host)):
        if "volume" in names:
            rows.append(ServiceRow(binary, h, "nova", "enabled", volume_up, now))
    return rows


def _find(s: Any, binary: str, host: str) -> Any:
    from pocketstack.compute.models import ComputeService

    row = s.scalar(select(ComputeService).where(ComputeService.binary == binary,
                                                ComputeService.host == host))
    if row is None:
        raise OpsError(f"no service {binary} on host {host} with a record of its own "
                       "(API and Cinder services follow the cloud's process: see "
                       "`pocketstack manage service list`)")
    return row


def set_disabled(cloud: "Cloud", binary: str, host: str, disabled: bool,
                 reason: str | None) -> None:
    with cloud.db.write() as s:
        row = _find(s, binary, host)
        row.disabled = disabled
        row.disabled_reason = reason if disabled else None
        row.updated_at = utcnow()


def force_down(cloud: "Cloud", binary: str, host: str, down: bool) -> None:
    with cloud.db.write() as s:
        row = _find(s, binary, host)
        row.forced_down = down
        row.updated_at = utcnow()


def remove(cloud: "Cloud", binary: str, host: str, force: bool) -> str:
    from pocketstack.compute.models import ComputeNode, Instance

    with cloud.db.write() as s:
        row = _find(s, binary, host)
        if is_up(cloud, row) and not force:
            raise OpsError(f"{binary} on {host} is up (heartbeat {iso(row.last_seen_up)}): "
                           "stop it first, or use --force")
        note = ""
        if binary == "nova-compute":
            hosted = list(s.scalars(select(Instance.uuid).where(
                Instance.host == host, Instance.deleted.is_(False))))
            if hosted:
                raise OpsError(f"{len(hosted)} server(s) are on {host} ({', '.join(hosted[:5])})"
                               ": delete them, or move them with `pocketstack manage host "
                               f"rename {host} NEW`, first")
            node = s.scalar(select(ComputeNode).where(ComputeNode.host == host))
            if node is not None:
                s.delete(node)
                note = f" and its hypervisor record {node.uuid}"
        s.delete(row)
    return f"removed {binary} on {host}{note}"
