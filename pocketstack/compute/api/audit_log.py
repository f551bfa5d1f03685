"""/os-instance_usage_audit_log (admin): the instance usage audit of the last completed
audit period (a month, Nova's default ``instance_usage_audit_period``) before a time.

Nova's compute hosts record a task log per period when ``instance_usage_audit`` runs;
pocketstack computes the same figures from the instance records: per nova-compute host,
the instances that existed on it during the period (state DONE, no errors)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.compute.models import ComputeService, Instance
from pocketstack.db import utcnow
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService as Svc

P = "os_compute_api:os-instance-usage-audit-log:"
register_defaults([RuleDefault(f"{P}list", "rule:admin_required"),
                   RuleDefault(f"{P}show", "rule:admin_required")])
_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f",
            "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def last_completed_period(before: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last whole month ending at or before ``before``: (beginning, ending)."""
    ending = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    beginning = (ending - dt.timedelta(days=1)).replace(day=1)
    return beginning, ending


def _parse(text: str) -> dt.datetime:
    text = urllib.parse.unquote(text)
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise errors.BadRequest(f"Invalid timestamp for date {text}")


class InstanceUsageAuditLog:
    def __init__(self, svc: "Svc") -> None:
        self.db = svc.cloud.db

    def _audit(self, before: dt.datetime) -> dict[str, Any]:
        begin, end = last_completed_period(before)
        with self.db.read() as s:
            hosts = sorted({r.host for r in s.scalars(select(ComputeService).where(
                ComputeService.binary == "nova-compute"))})
            rows = list(s.scalars(select(Instance).where(Instance.created_at < end)))
        counts = dict.fromkeys(hosts, 0)
        for inst in rows:
            if inst.host in counts and (inst.terminated_at is None or
                                        inst.terminated_at >= begin):
                counts[inst.host] += 1
        log = {h: {"state": "DONE", "instances": n, "errors": 0,
                   "message": f"Instance usage audit ran for host {h}, {n} instances in "
                              "0.0 seconds."} for h, n in counts.items()}
        return {"hosts_not_run": [], "log": log, "num_hosts": len(hosts),
                "num_hosts_done": len(hosts), "num_hosts_not_run": 0,
                "num_hosts_running": 0, "overall_status": "ALL hosts done. 0 errors.",
                "period_beginning": begin.strftime("%Y-%m-%d %H:%M:%S"),
                "period_ending": end.strftime("%Y-%m-%d %H:%M:%S"),
                "total_errors": 0, "total_instances": sum(counts.values())}

    @route("GET", "/v2.1/os-instance_usage_audit_log", policy=f"{P}list")
    def index(self, req: Request) -> dict[str, Any]:
        return {"instance_usage_audit_logs": self._audit(utcnow())}

    @route("GET", "/v2.1/os-instance_usage_audit_log/{before}", policy=f"{P}show")
    def show(self, req: Request, before: str) -> dict[str, Any]:
        return {"instance_usage_audit_log": self._audit(_parse(before))}
