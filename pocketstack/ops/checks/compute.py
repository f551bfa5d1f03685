"""Doctor checks of compute: heartbeats, stuck servers, vanished hosts, console logs,
soft-deleted rows and quota usage."""

from __future__ import annotations

import datetime as dt
import glob
import os
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import select

from pocketstack.ops.common import conf_int, iso, running_state, utcnow
from pocketstack.ops.doctor import FAIL, OK, WARN, Finding, check

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


@check("compute services")
def compute_services(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.compute.models import ComputeService
    from pocketstack.ops.services import is_up

    name = "compute services"
    with cloud.db.read() as s:
        rows = list(s.scalars(select(ComputeService).order_by(ComputeService.id)))
    running = running_state(cloud.data_dir) is not None
    up = 0
    for r in rows:
        what = f"{r.binary} on {r.host}"
        if r.forced_down:
            yield Finding(name, WARN, f"{what} is forced down",
                          f"pocketstack manage service force-down {r.binary} {r.host} --unset")
        elif running and not is_up(cloud, r):
            yield Finding(name, FAIL, f"{what} is down: last heartbeat "
                          f"{iso(r.last_seen_up)} (service_down_time "
                          f"{conf_int(cloud, 'DEFAULT', 'service_down_time')}s); restart "
                          "its agent if the host still exists, else remove it",
                          f"pocketstack manage service remove {r.binary} {r.host}")
        else:
            up += 1
        if r.disabled:
            yield Finding(name, WARN, f"{what} is disabled ({r.disabled_reason or 'no reason'})",
                          f"pocketstack manage service enable {r.binary} {r.host}")
    if up == len(rows):
        yield Finding(name, OK, f"{len(rows)} services heartbeating" if running else
                      f"{len(rows)} services; the cloud is not running, so no heartbeats "
                      "are expected")


@check("stuck servers")
def stuck_servers(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.compute.models import Instance

    limit = conf_int(cloud, "doctor", "stuck_task_seconds")
    since = utcnow() - dt.timedelta(seconds=limit)
    with cloud.db.read() as s:
        rows = list(s.scalars(select(Instance).where(Instance.deleted.is_(False),
                                                     Instance.task_state.is_not(None))))
    stuck = [i for i in rows if (i.updated_at or i.created_at) < since]
    for i in stuck:
        active = i.vm_state in ("active", "stopped")
        yield Finding("stuck servers", FAIL,
                      f"server {i.uuid} ({i.display_name}) in task_state {i.task_state} "
                      f"(vm_state {i.vm_state}) since {iso(i.updated_at or i.created_at)}",
                      f"pocketstack manage server reset-state {i.uuid}"
                      + (" --active" if active else ""))
    if not stuck:
        yield Finding("stuck servers", OK, f"no server in a task state for more than {limit}s "
                      f"({len(rows)} busy now)")


@check("server hosts")
def server_hosts(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.compute.models import ComputeNode, ComputeService, Instance

    with cloud.db.read() as s:
        hosts = set(s.scalars(select(ComputeService.host)
                              .where(ComputeService.binary == "nova-compute")))
        nodes = set(s.scalars(select(ComputeNode.host)))
        orphans: dict[str, list[str]] = {}
        for uuid, host in s.execute(select(Instance.uuid, Instance.host).where(
                Instance.deleted.is_(False), Instance.host.is_not(None))):
            if host not in hosts:
                orphans.setdefault(host, []).append(uuid)
    # a renamed host shows as a service without a hypervisor record of its name
    candidates = sorted(hosts - nodes)
    for host, uuids in sorted(orphans.items()):
        new = candidates[0] if len(candidates) == 1 else "NEW_HOST_NAME"
        yield Finding("server hosts", FAIL,
                      f"{len(uuids)} server(s) on host {host}, which has no nova-compute "
                      f"service (renamed or removed?): {', '.join(uuids[:5])}",
                      f"pocketstack manage host rename {host} {new}")
    if not orphans:
        yield Finding("server hosts", OK, f"every server is on one of {len(hosts)} "
                      "compute hosts")


@check("console logs")
def console_logs(cloud: "Cloud") -> Iterable[Finding]:
    limit = conf_int(cloud, "doctor", "console_log_max_bytes")
    paths = glob.glob(os.path.join(cloud.data_dir, "instances", "*", "console.log"))
    big = [(p, os.path.getsize(p)) for p in paths if os.path.getsize(p) > limit]
    for path, size in big:
        yield Finding("console logs", WARN, f"{path} is {size} bytes (limit {limit})",
                      f"truncate -s 0 {path}")
    if not big:
        yield Finding("console logs", OK, f"{len(paths)} console logs under {limit} bytes")


@check("deleted rows")
def deleted_rows(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.ops.archive import count_deleted

    limit = conf_int(cloud, "doctor", "deleted_rows_max")
    counts = count_deleted(cloud)
    total = sum(counts.values())
    detail = ", ".join(f"{t}: {n}" for t, n in counts.items())
    if total > limit:
        yield Finding("deleted rows", WARN, f"{total} soft-deleted rows ({detail}), more "
                      f"than {limit}", "pocketstack manage db archive-deleted-rows --purge")
    else:
        yield Finding("deleted rows", OK, f"{total} soft-deleted rows ({detail})")


@check("quota usage")
def quota_usage(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.ops.quota import recount

    rows = recount(cloud)
    bad = [u for u in rows if not u.clean]
    for u in bad:
        yield Finding("quota usage", FAIL,
                      f"{u.service} {u.resource} of project {u.project_id}: quota code says "
                      f"{u.reported}, the rows count {u.counted}",
                      f"pocketstack manage quota usage-refresh --project {u.project_id} "
                      f"--resource {u.resource}")
    if not bad:
        yield Finding("quota usage", OK, f"quotas are counted (no usage cache); the recount of "
                      f"{len(rows)} figures is clean")
