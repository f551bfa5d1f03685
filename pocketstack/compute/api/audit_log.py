"""/os-instance_usage_audit_log (admin): the instance usage audit of the last completed
audit period (``instance_usage_audit_period``, a month by default) before a time, as the
compute hosts recorded it in their task logs (compute/audit.py): hosts done, running and
not run, the instances audited and the errors met."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.compute.audit import TASK, last_completed_period
from pocketstack.compute.models import ComputeService, TaskLog
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService as Svc

P = "os_compute_api:os-instance-usage-audit-log:"
register_defaults([RuleDefault(f"{P}list", "rule:admin_required"),
                   RuleDefault(f"{P}show", "rule:admin_required")])


def _parse(text: str) -> dt.datetime:
    text = urllib.parse.unquote(text)
    try:  # Nova's two formats, with microseconds when there is a dot
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f" if "." in text
                                    else "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise errors.BadRequest(f"Invalid timestamp for date {text}") from None


class InstanceUsageAuditLog:
    def __init__(self, svc: "Svc") -> None:
        self.db = svc.cloud.db
        self.conf = svc.cloud.conf

    def _audit(self, before: dt.datetime | None) -> dict[str, Any]:
        unit = self.conf.get("DEFAULT", "instance_usage_audit_period")
        try:
            begin, end = last_completed_period(unit, before)
        except ValueError as exc:
            raise errors.BadRequest(str(exc)) from None
        with self.db.read() as s:
            # every nova-compute service, disabled ones included (they may hold servers)
            hosts = set(s.scalars(select(ComputeService.host).where(
                ComputeService.binary == "nova-compute")))
            logs = list(s.scalars(select(TaskLog).where(
                TaskLog.task_name == TASK, TaskLog.period_beginning == begin,
                TaskLog.period_ending == end).order_by(TaskLog.host)))
        done = {t.host for t in logs if t.state == "DONE"}
        running = {t.host for t in logs if t.state == "RUNNING"}
        missing = sorted(hosts - {t.host for t in logs})
        total_errors = sum(t.errors for t in logs)
        status = "ALL" if len(done) == len(hosts) else f"{len(done)} of {len(hosts)}"
        return {"period_beginning": str(begin), "period_ending": str(end),
                "num_hosts": len(hosts), "num_hosts_done": len(done),
                "num_hosts_running": len(running), "num_hosts_not_run": len(missing),
                "hosts_not_run": missing,
                "total_instances": sum(t.task_items for t in logs),
                "total_errors": total_errors,
                "overall_status": f"{status} hosts done. {total_errors} errors.",
                "log": {t.host: {"state": t.state, "instances": t.task_items,
                                 "errors": t.errors, "message": t.message} for t in logs}}

    @route("GET", "/v2.1/os-instance_usage_audit_log", policy=f"{P}list")
    def index(self, req: Request) -> dict[str, Any]:
        return {"instance_usage_audit_logs": self._audit(None)}

    @route("GET", "/v2.1/os-instance_usage_audit_log/{before}", policy=f"{P}show")
    def show(self, req: Request, before: str) -> dict[str, Any]:
        return {"instance_usage_audit_log": self._audit(_parse(before))}
