"""``pocketstack manage ...``: the operator commands, on a stopped or a running cloud.

Each ``AREA ACTION`` pair is a small function taking the parsed arguments; the
parser is built from the :data:`COMMANDS` table below so that adding a command
is one function and one entry.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from pocketstack.ops.common import OpsError, parse_when, table

Handler = Callable[[argparse.Namespace], int]


def _cloud(args: argparse.Namespace) -> Any:
    from pocketstack.cli import _cloud as make_cloud
    from pocketstack.ops import config  # noqa: F401  (the [doctor] options)
    from pocketstack.ops.common import load_models

    load_models()
    return make_cloud(args)


# -- db ---------------------------------------------------------------------------
def db_sync(args: argparse.Namespace) -> int:
    from pocketstack.db import migrate

    ran = migrate.upgrade(_cloud(args).db)
    print("database schema upgraded" if ran else "database schema is up to date")
    return 0


def db_version(args: argparse.Namespace) -> int:
    from pocketstack.db import migrate

    print(" ".join(sorted(migrate.current(_cloud(args).db))) or "empty")
    return 0


def db_revision(args: argparse.Namespace) -> int:
    from pocketstack.db import migrate

    cloud = _cloud(args)
    migrate.upgrade(cloud.db)
    print(migrate.revision(cloud.db, args.service, args.message))
    return 0


def _counts(title: str, counts: dict[str, int]) -> None:
    print(table(("table", title), sorted(counts.items())) if counts else f"nothing {title}")


def db_archive(args: argparse.Namespace) -> int:
    from pocketstack.ops import archive

    cloud = _cloud(args)
    before = parse_when(args.before) if args.before else None
    if args.max_rows is not None and args.max_rows < 1:
        raise OpsError("--max-rows must be at least 1")
    _counts("archived", archive.archive(cloud, before, args.max_rows))
    if args.purge:
        _counts("purged", archive.purge(cloud, before))
    return 0


def db_purge(args: argparse.Namespace) -> int:
    from pocketstack.ops import archive

    if not args.before and not args.all:
        raise OpsError("give --before DATE, or --all to purge every archived row")
    cloud = _cloud(args)
    _counts("purged", archive.purge(cloud, parse_when(args.before) if args.before else None))
    return 0


# -- services --------------------------------------------------------------------
def service_list(args: argparse.Namespace) -> int:
    from pocketstack.ops import services

    rows = services.list_services(_cloud(args))
    print(table(("binary", "host", "zone", "status", "state", "updated_at", "disabled_reason"),
                [(r.binary, r.host, r.zone, r.status, r.state, r.updated_at,
                  r.disabled_reason) for r in rows]))
    return 0


def service_disable(args: argparse.Namespace) -> int:
    from pocketstack.ops import services

    services.set_disabled(_cloud(args), args.binary, args.host, True, args.reason)
    print(f"{args.binary} on {args.host} disabled")
    return 0


def service_enable(args: argparse.Namespace) -> int:
    from pocketstack.ops import services

    services.set_disabled(_cloud(args), args.binary, args.host, False, None)
    print(f"{args.binary} on {args.host} enabled")
    return 0


def service_force_down(args: argparse.Namespace) -> int:
    from pocketstack.ops import services

    services.force_down(_cloud(args), args.binary, args.host, not args.unset)
    print(f"{args.binary} on {args.host} {'no longer ' if args.unset else ''}forced down")
    return 0


def service_remove(args: argparse.Namespace) -> int:
    from pocketstack.ops import services

    print(services.remove(_cloud(args), args.binary, args.host, args.force))
    return 0


# -- quotas ------------------------------------------------------------------------
def _usage_table(rows: list[Any]) -> str:
    return table(("service", "project", "resource", "in use (quota)", "counted", "ok"),
                 [(u.service, u.project_id, u.resource, u.reported, u.counted,
                   "yes" if u.clean else "NO") for u in rows])


def quota_refresh(args: argparse.Namespace) -> int:
    from pocketstack.ops import quota

    rows = quota.recount(_cloud(args), args.project, args.resource)
    print("quota usage is counted from the resources themselves on every request: there is "
          "no usage cache to refresh. Recount:")
    print(_usage_table(rows) if rows else "no resources in use")
    return 0 if all(u.clean for u in rows) else 1


def quota_check(args: argparse.Namespace) -> int:
    from pocketstack.ops import quota

    rows = quota.recount(_cloud(args), args.project, args.resource)
    bad = [u for u in rows if not u.clean]
    print(_usage_table(bad or rows) if rows else "no resources in use")
    print(f"{len(bad)} difference(s) in {len(rows)} usage figure(s)" if bad else
          f"quota usage is clean: {len(rows)} usage figure(s) match the recount")
    return 1 if bad else 0


# -- repairs -----------------------------------------------------------------------
def host_rename(args: argparse.Namespace) -> int:
    from pocketstack.ops import repairs

    done = repairs.host_rename(_cloud(args), args.old, args.new)
    print(f"host {args.old} renamed to {args.new}: " + ", ".join(done))
    return 0


def placement_audit(args: argparse.Namespace) -> int:
    from pocketstack.ops import allocations

    orphans, _ = allocations.audit(_cloud(args))
    if not orphans:
        print("no orphaned allocation on the compute hosts")
        return 0
    print(table(("consumer", "host", "resources"),
                [(o.consumer, o.provider, ", ".join(f"{rc}={n}" for rc, n in
                                                    sorted(o.resources.items())))
                 for o in orphans]))
    if not args.delete:
        print(f"{len(orphans)} orphaned allocation(s); remove them with --delete")
        return 1
    gone = allocations.delete_orphans(_cloud(args), orphans)
    print(f"deleted the allocations of {gone} consumer(s)")
    return 0


def placement_heal(args: argparse.Namespace) -> int:
    from pocketstack.ops import allocations

    cloud = _cloud(args)
    _, missing = allocations.audit(cloud)
    if args.instance:
        missing = [m for m in missing if m.uuid == args.instance]
    if not missing:
        print("every server on a host holds its allocation: nothing to heal")
        return 0
    if args.dry_run:
        for m in missing:
            print(f"server {m.uuid} on {m.host}: would allocate " +
                  ", ".join(f"{rc}={n}" for rc, n in sorted(m.resources.items())))
        return 1
    lines = allocations.heal(cloud, missing)
    print("\n".join(lines))
    return 1 if any("not healed" in line for line in lines) else 0


def volume_force_delete(args: argparse.Namespace) -> int:
    from pocketstack.ops import repairs

    print(repairs.volume_force_delete(_cloud(args), args.id))
    return 0


def volume_reset_state(args: argparse.Namespace) -> int:
    from pocketstack.ops import repairs

    print(repairs.volume_reset_state(_cloud(args), args.id, args.state, args.attach_status))
    return 0


def server_reset_state(args: argparse.Namespace) -> int:
    from pocketstack.ops import repairs

    print(repairs.server_reset_state(_cloud(args), args.id, args.active))
    return 0


def fip_disassociate(args: argparse.Namespace) -> int:
    from pocketstack.ops import repairs

    if not args.force:
        raise OpsError("this detaches the floating IP behind Networking's back: give --force "
                       "(or use openstack floating ip unset --port ID)")
    print(repairs.floating_ip_disassociate(_cloud(args), args.id))
    return 0


def compute_usage_audit(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from pocketstack.compute.audit import last_completed_period, run_audit
    from pocketstack.compute.models import ComputeService
    from pocketstack.ops.notifications import NotificationLog

    cloud = _cloud(args)
    before = parse_when(args.before) if args.before else None
    unit = args.period or cloud.conf.get("DEFAULT", "instance_usage_audit_period")
    try:
        begin, end = last_completed_period(unit, before)
    except ValueError as exc:
        raise OpsError(str(exc)) from None
    hosts = args.host
    if not hosts:
        with cloud.db.read() as s:
            hosts = list(s.scalars(select(ComputeService.host).where(
                ComputeService.binary == "nova-compute")))
    cloud.bus.listen(NotificationLog(cloud.data_dir))
    logs = run_audit(cloud, hosts, before, unit)
    print(f"instance usage audit of {begin} - {end}: {len(logs)} host(s) audited, "
          f"{len(hosts) - len(logs)} already done")
    for log in logs:
        print(f"{log.host}: {log.state}, {log.task_items} instance(s), {log.errors} error(s)")
    return 0


# -- identity, config, logs -------------------------------------------------------
def token_rotate(args: argparse.Namespace) -> int:
    index = _cloud(args).identity.token_keys.rotate()
    print(f"Fernet keys rotated: primary key is now {index}")
    return 0


def bootstrap(args: argparse.Namespace) -> int:
    from pocketstack.db import migrate
    from pocketstack.identity.bootstrap import bootstrap as do_bootstrap

    cloud = _cloud(args)
    migrate.upgrade(cloud.db)
    password = args.bootstrap_password or cloud.admin_password()
    do_bootstrap(cloud.identity, password, reset_password=True)
    print("admin user, projects and roles are in place; the admin password was reset")
    return 0


def config_list(args: argparse.Namespace) -> int:
    from pocketstack.cli import _load_conf
    from pocketstack.ops import config  # noqa: F401
    from pocketstack.ops.common import load_models

    load_models()  # every service's options
    for opt, value, source in _load_conf(args).effective():
        print(f"[{opt.section}] {opt.name} = {value}    ({source})")
    return 0


def logs_errors(args: argparse.Namespace) -> int:
    import os

    from pocketstack.ops import logscan

    since = parse_when(args.since, local=True) if args.since else None
    found = list(logscan.scan(os.path.join(args.data_dir, "logs"), since))
    for e in found:
        print(f"{e.when.isoformat(sep=' ')} {e.level} {e.logger} {e.request_id or '-'}: "
              f"{e.message}")
        for line in e.traceback:
            print(f"    {line}")
    print(f"{len(found)} error(s)" + (f" since {since.isoformat(sep=' ')}" if since else ""))
    return 0


# -- the parser ----------------------------------------------------------------------
def _binary_host(p: argparse.ArgumentParser) -> None:
    p.add_argument("binary", help="e.g. nova-compute")
    p.add_argument("host")


def build(manage: argparse.ArgumentParser) -> None:
    areas = manage.add_subparsers(dest="area", required=True)

    def area(name: str, help: str) -> Any:
        return areas.add_parser(name, help=help).add_subparsers(dest="action", required=True)

    def cmd(sub: Any, name: str, fn: Handler, help: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(manage=fn)
        return p

    db = area("db", "database schema and soft-deleted rows")
    cmd(db, "sync", db_sync, "upgrade the schema")
    cmd(db, "version", db_version, "show the schema revisions")
    p = cmd(db, "revision", db_revision, "(developers) autogenerate a service's migration "
            "from its models, against an up-to-date scratch database")
    p.add_argument("--service", required=True)
    p.add_argument("-m", "--message", required=True)
    p = cmd(db, "archive-deleted-rows", db_archive,
            "move soft-deleted rows (deleted servers...) to shadow tables")
    p.add_argument("--before", help="only rows deleted before DATE (or an age: 7d, 12h)")
    p.add_argument("--max-rows", type=int, default=None, help="archive at most N rows")
    p.add_argument("--purge", action="store_true", help="then purge the shadow tables")
    p = cmd(db, "purge", db_purge, "delete archived rows from the shadow tables")
    p.add_argument("--before", help="only rows deleted before DATE (or an age: 30d)")
    p.add_argument("--all", action="store_true", help="every archived row")

    svc = area("service", "services and their heartbeats")
    cmd(svc, "list", service_list, "every service with its state (:-) up, XXX down)")
    p = cmd(svc, "disable", service_disable)
    _binary_host(p)
    p.add_argument("--reason", default=None)
    _binary_host(cmd(svc, "enable", service_enable))
    p = cmd(svc, "force-down", service_force_down, "mark down now (e.g. before evacuating)")
    _binary_host(p)
    p.add_argument("--unset", action="store_true", help="clear the forced-down flag")
    p = cmd(svc, "remove", service_remove, "delete a service record (refuses a live one)")
    _binary_host(p)
    p.add_argument("--force", action="store_true", help="even if it is up")

    quota = area("quota", "quota usage")
    for name, fn, help in (("usage-refresh", quota_refresh, "recount usage"),
                           ("check", quota_check, "recount usage and report differences")):
        p = cmd(quota, name, fn, help)
        p.add_argument("--project", default=None)
        p.add_argument("--user", default=None, help="(usage is per project; accepted for "
                       "compatibility)")
        p.add_argument("--resource", default=None)

    host = area("host", "compute hosts")
    p = cmd(host, "rename", host_rename, "re-home servers, services, hypervisor, resource "
            "provider and allocations")
    p.add_argument("old")
    p.add_argument("new")

    plc = area("placement", "Placement allocations against Compute's servers")
    p = cmd(plc, "audit", placement_audit, "allocations of deleted servers (orphans)")
    p.add_argument("--delete", action="store_true", help="remove them")
    p = cmd(plc, "heal-allocations", placement_heal, "allocate for servers that hold none")
    p.add_argument("--instance", default=None, help="only this server")
    p.add_argument("--dry-run", action="store_true", help="only say what would be done")

    vol = area("volume", "volume repairs")
    cmd(vol, "force-delete", volume_force_delete, "delete a volume in any status").add_argument(
        "id")
    p = cmd(vol, "reset-state", volume_reset_state, "set a volume's status")
    p.add_argument("id")
    p.add_argument("--state", required=True)
    p.add_argument("--attach-status", default=None, choices=("attached", "detached"))

    server = area("server", "server repairs")
    p = cmd(server, "reset-state", server_reset_state, "clear the task state; vm_state error "
            "(or active with --active)")
    p.add_argument("id")
    p.add_argument("--active", action="store_true")

    comp = area("compute", "compute periodic tasks, run once now")
    p = cmd(comp, "usage-audit", compute_usage_audit, "the instance usage audit of the last "
            "completed period (task logs, compute.instance.exists notifications)")
    p.add_argument("--before", default=None, help="audit the last period completed before "
                   "DATE (default: now)")
    p.add_argument("--period", default=None, help="hour, day, month or year[@offset] "
                   "(default: [DEFAULT] instance_usage_audit_period)")
    p.add_argument("--host", action="append", default=None,
                   help="only this compute host (repeatable; default: every one)")

    fip = area("floating-ip", "floating IP repairs")
    p = cmd(fip, "disassociate", fip_disassociate, "detach a stuck floating IP")
    p.add_argument("id", help="floating IP id or address")
    p.add_argument("--force", action="store_true")

    token = area("token", "token keys")
    cmd(token, "rotate", token_rotate, "rotate the Fernet keys")
    p = areas.add_parser("bootstrap", help="re-create the admin user and roles")
    p.add_argument("--bootstrap-password", default=None)
    p.set_defaults(manage=bootstrap)
    conf = area("config", "configuration")
    cmd(conf, "list", config_list, "effective options with their sources, secrets masked")
    logs = area("logs", "the cloud's logs")
    p = cmd(logs, "errors", logs_errors, "errors and tracebacks with their request ids")
    p.add_argument("--since", default=None, help="DATE or an age (30m, 2h, 1d)")


def run(args: argparse.Namespace) -> int:
    try:
        return args.manage(args)
    except OpsError as exc:
        print(f"pocketstack manage: {exc}", file=sys.stderr)
        return 1



