"""The instance usage audit (Nova's ``_instance_usage_audit`` periodic task).

When ``[DEFAULT] instance_usage_audit`` is on, each compute host audits the last
completed audit period (``instance_usage_audit_period``: hour, day, month or year, with
an optional ``@offset``) once: it writes a task log row (task ``instance_usage_audit``,
state RUNNING with the number of instances to audit), sends one
``compute.instance.exists`` notification (and the versioned ``instance.exists``) per
instance that existed on the host during the period, then marks the row DONE with the
errors met and a message. /os-instance_usage_audit_log reports from these rows.

:func:`run_audit` is the task itself; it takes the clock (``before``) and the hosts as
arguments, so ``pocketstack manage compute usage-audit`` and the tests run it once
without waiting for a period to end.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import or_, select, update

from pocketstack.compute.models import Instance, TaskLog
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
TASK = "instance_usage_audit"
UNITS = ("hour", "day", "month", "year")


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def parse_period(unit: str) -> tuple[str, int]:
    """``month@15`` -> ("month", 15); ValueError for anything else."""
    name, _, offset = (unit or "month").strip().lower().partition("@")
    if name not in UNITS:
        raise ValueError(f"audit period {unit!r}: not one of {', '.join(UNITS)}")
    return name, int(offset) if offset else 0


def last_completed_period(unit: str = "month", before: dt.datetime | None = None
                          ) -> tuple[dt.datetime, dt.datetime]:
    """The most recently completed audit period before ``before`` (default: now), as
    (beginning, ending); periods start at the unit's start (UTC) plus the offset."""
    name, offset = parse_period(unit)
    now = before or utcnow()
    if name == "month":
        day = offset or 1
        end = dt.datetime(now.year, now.month, day)
        if end >= now:
            end = dt.datetime(*_shift_month(now.year, now.month, -1), day)
        return dt.datetime(*_shift_month(end.year, end.month, -1), day), end
    if name == "year":
        month = offset or 1
        end = dt.datetime(now.year, month, 1)
        if end >= now:
            end = dt.datetime(now.year - 1, month, 1)
        return dt.datetime(end.year - 1, month, 1), end
    if name == "day":
        end = dt.datetime(now.year, now.month, now.day, offset)
        if end >= now:
            end -= dt.timedelta(days=1)
        return end - dt.timedelta(days=1), end
    end = now.replace(minute=offset, second=0, microsecond=0)
    if end >= now:
        end -= dt.timedelta(hours=1)
    return end - dt.timedelta(hours=1), end


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(sep=" ") if value is not None else None


def exists_payload(inst: Instance, begin: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The legacy ``compute.instance.exists`` payload of one instance."""
    flavor = inst.flavor or {}
    return {"tenant_id": inst.project_id, "user_id": inst.user_id,
            "instance_id": inst.uuid, "display_name": inst.display_name,
            "hostname": inst.hostname, "host": inst.host, "node": inst.node,
            "instance_type": flavor.get("name"), "instance_type_id": inst.flavorid,
            "instance_flavor_id": inst.flavorid, "memory_mb": inst.memory_mb,
            "disk_gb": (inst.root_gb or 0) + (inst.ephemeral_gb or 0),
            "root_gb": inst.root_gb, "ephemeral_gb": inst.ephemeral_gb,
            "vcpus": inst.vcpus, "image_ref_url": inst.image_ref,
            "state": inst.vm_state, "state_description": inst.task_state or "",
            "availability_zone": inst.availability_zone,
            "created_at": _iso(inst.created_at), "launched_at": _iso(inst.launched_at),
            "terminated_at": _iso(inst.terminated_at),
            "deleted_at": _iso(inst.terminated_at) if inst.deleted else "",
            "audit_period_beginning": _iso(begin), "audit_period_ending": _iso(end),
            "bandwidth": {}, "metadata": dict(inst.server_metadata or {})}


def _versioned(legacy: dict[str, Any]) -> dict[str, Any]:
    data = {"uuid": legacy["instance_id"], "tenant_id": legacy["tenant_id"],
            "user_id": legacy["user_id"], "host": legacy["host"],
            "node": legacy["node"], "display_name": legacy["display_name"],
            "state": legacy["state"], "availability_zone": legacy["availability_zone"],
            "created_at": legacy["created_at"], "launched_at": legacy["launched_at"],
            "terminated_at": legacy["terminated_at"], "deleted_at": legacy["deleted_at"],
            "image_uuid": legacy["image_ref_url"], "bandwidth": [],
            "audit_period": {"nova_object.name": "AuditPeriodPayload",
                             "nova_object.namespace": "nova",
                             "nova_object.version": "1.0",
                             "nova_object.data": {
                                 "audit_period_beginning": legacy["audit_period_beginning"],
                                 "audit_period_ending": legacy["audit_period_ending"]}}}
    return {"nova_object.name": "InstanceExistsPayload", "nova_object.namespace": "nova",
            "nova_object.version": "1.2", "nova_object.data": data}


def _notify(cloud: "Cloud", host: str, inst: Instance, begin: dt.datetime,
            end: dt.datetime) -> None:
    from pocketstack.ops.notifications import envelope

    legacy = exists_payload(inst, begin, end)
    cloud.bus.notify("compute.instance.exists", envelope(
        "compute.instance.exists", legacy, publisher_id=f"compute.{host}"))
    cloud.bus.notify("instance.exists", envelope(
        "instance.exists", _versioned(legacy), publisher_id=f"nova-compute:{host}"))


def active_in_window(s: Any, begin: dt.datetime, end: dt.datetime,
                     hosts: Iterable[str]) -> list[Instance]:
    """Instances on ``hosts`` that existed during [begin, end) (deleted ones included):
    launched before the end, not terminated before the beginning."""
    return list(s.scalars(select(Instance).where(
        Instance.host.in_(list(hosts)), Instance.launched_at.is_not(None),
        Instance.launched_at < end,
        or_(Instance.terminated_at.is_(None), Instance.terminated_at > begin))
        .order_by(Instance.id)))


def run_audit(cloud: "Cloud", hosts: Iterable[str], before: dt.datetime | None = None,
              unit: str | None = None) -> list[TaskLog]:
    """Audit the last completed period on each of ``hosts`` that has not audited it yet;
    returns the task logs written (DONE). Hosts that already have a row are skipped, so a
    second run in the same period does nothing (as Nova's)."""
    unit = unit or cloud.conf.get("DEFAULT", "instance_usage_audit_period")
    begin, end = last_completed_period(unit, before)
    hosts = sorted(set(hosts))
    if not hosts:
        return []
    started = time.monotonic()
    with cloud.db.write() as s:
        done = set(s.scalars(select(TaskLog.host).where(
            TaskLog.task_name == TASK, TaskLog.period_beginning == begin,
            TaskLog.period_ending == end, TaskLog.host.in_(hosts))))
        todo = [h for h in hosts if h not in done]
        if not todo:
            return []
        instances = active_in_window(s, begin, end, todo)
        by_host: dict[str, list[Instance]] = {h: [] for h in todo}
        for inst in instances:
            by_host[inst.host or ""].append(inst)
        now = utcnow()
        logs = {h: TaskLog(task_name=TASK, state="RUNNING", host=h, period_beginning=begin,
                           period_ending=end, message="Instance usage audit started...",
                           task_items=len(by_host[h]), errors=0, created_at=now,
                           updated_at=now) for h in todo}
        s.add_all(logs.values())
        s.flush()  # the rows' ids; detached below so that they outlive the session
        s.expunge_all()
    for host in todo:
        t0 = time.monotonic()
        errors = 0
        for inst in by_host[host]:
            try:
                _notify(cloud, host, inst, begin, end)
            except Exception:  # an instance that cannot be reported is an error, not a stop
                LOG.exception("usage audit: cannot report instance %s", inst.uuid)
                errors += 1
        log = logs[host]
        log.state, log.errors = "DONE", errors
        log.message = (f"Instance usage audit ran for host {host}, {log.task_items} "
                       f"instances in {time.monotonic() - t0:.6f} seconds.")
    with cloud.db.write() as s:
        now = utcnow()
        for log in logs.values():
            s.execute(update(TaskLog).where(TaskLog.id == log.id).values(
                state=log.state, errors=log.errors, message=log.message, updated_at=now))
    LOG.info("instance usage audit of %s - %s: %d host(s), %d instance(s) in %.3fs",
             begin, end, len(todo), len(instances), time.monotonic() - started)
    return list(logs.values())


class UsageAudit:
    """The periodic task of this process's compute hosts (the driver's)."""

    def __init__(self, cloud: "Cloud", driver: Any) -> None:
        self.cloud = cloud
        self.driver = driver

    def spacing(self) -> float:
        """Seconds between checks (Nova's default periodic spacing), 0 when off."""
        return 60.0 if self.cloud.conf.get("DEFAULT", "instance_usage_audit") else 0.0

    def periodic(self) -> None:
        run_audit(self.cloud, self.driver.hosts())
