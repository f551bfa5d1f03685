"""Live migration (``os-migrateLive``), its abort and force-complete, and evacuation.

Live migration: the server stays ACTIVE (or PAUSED) with task_state ``migrating``; its
migration record goes queued -> preparing -> running -> completed. While it runs, the
source claim belongs to the migration record and the destination claim to the server;
on completion the source claim is dropped, on failure or abort (status ``error`` /
``cancelled``) the destination is freed and the source claim handed back.

Evacuation: only when the server's compute service is down (or forced down); the server
is rebuilt on another host (task_state ``rebuilding``), record accepted -> pre-migrating
-> done.
"""

from __future__ import annotations

import logging
import secrets
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import states
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.compute.resize import spec_for
from pocketstack.compute.scheduler.manager import NoValidHost
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)
MIGRATING = "migrating"
REBUILDING = "rebuilding"


class MigrationAborted(Exception):
    """Raised by a driver whose live migration was aborted through the API."""


class LiveMigrations:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.db = svc.cloud.db
        # migration uuid -> {"abort": Event, "force_complete": Event}, handed to the driver
        # in the instance view as ``migration_control`` while the migration is in progress
        self.control: dict[str, dict[str, threading.Event]] = {}

    def _begin(self, ctx: RequestContext, inst: Instance, action: str, allowed: tuple[str, ...],
               task: str, kind: str, status: str, host: str | None) -> Any:
        svc = self.svc
        with self.db.write() as s:
            row = s.scalar(select(Instance).where(Instance.uuid == inst.uuid))
            if row is None or row.deleted:
                raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
            if row.vm_state not in allowed:
                raise svc.servers.invalid_state(row, action, "vm_state")
            if row.task_state is not None:
                raise svc.servers.invalid_state(row, action, "task_state")
            row.task_state, row.updated_at = task, utcnow()
            s.add(InstanceAction(instance_uuid=row.uuid, action=action,
                                 request_id=ctx.request_id, user_id=ctx.user_id,
                                 project_id=ctx.project_id, start_time=utcnow(), events=[]))
            mig = svc.migrations.create(s, row, kind, status, dest=host)
            return mig.uuid, row.vm_state

    def _check_host(self, inst: Instance, host: str | None) -> None:
        if host is None:
            return
        if host not in self.svc.driver.hosts():
            raise errors.BadRequest(f"Compute host {host} could not be found.")
        if host == inst.host:
            raise errors.BadRequest(f"Unable to migrate instance ({inst.uuid}) to current "
                                    f"host ({host}).")

    def _schedule(self, inst: Instance, mig: str, host: str | None, force: bool,
                  status: str) -> Any:
        """Hand the source claim to the migration record and claim a destination for the
        server (``force`` with a host skips the filters); NoValidHost hands it back."""
        sched = self.svc.scheduler
        self.svc.migrations.update(mig, status=status)
        sched.transfer(inst.host, inst.uuid, mig)
        spec = spec_for(inst, dict(inst.flavor or {}), {inst.host or ""}, host,
                        self.svc.cloud.conf, self.svc.cloud)
        spec.skip_filters = bool(force and host)
        try:
            return sched.select_destination(spec)
        except NoValidHost:
            sched.transfer(inst.host, mig, inst.uuid, migration=False)
            raise

    # -- live migration -----------------------------------------------------------------
    def live_migrate(self, ctx: RequestContext, inst: Instance, host: str | None,
                     force: bool) -> None:
        self.svc.servers.check_lock(ctx, inst)
        self._check_host(inst, host)
        mig, _ = self._begin(ctx, inst, "live-migration", (states.ACTIVE, states.PAUSED),
                             MIGRATING, "live-migration", "queued", host)
        self.svc.in_main_process("live").watch(mig)  # before the task: abort may come first
        self.svc.tasks.submit(self._live, inst.uuid, mig, host, force, ctx.request_id)

    def watch(self, mig: str) -> None:
        """Make the abort and force-complete signals of a live migration about to be cast
        (in the process that runs the compute tasks)."""
        self.control[mig] = {"abort": threading.Event(), "force_complete": threading.Event()}

    def _rollback(self, uuid: str, source: str | None, dest: str | None, mig: str,
                  status: str, request_id: str, started: Any, event: str,
                  tb: str | None = None) -> None:
        sched = self.svc.scheduler
        if dest:
            sched.release(dest, uuid)
        sched.transfer(source, mig, uuid, migration=False)
        self.svc.migrations.update(mig, status=status)
        self.svc.tasks._update(uuid, task_state=None)
        self.svc.tasks._event(uuid, request_id, event, source, "Error", started, tb=tb)
        self.control.pop(mig, None)

    def _live(self, uuid: str, mig: str, host: str | None, force: bool,
              request_id: str) -> None:
        from pocketstack.compute.tasks import driver_view

        svc, started, event = self.svc, utcnow(), "compute_live_migration"
        with self.db.read() as s:
            inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
        control = self.control.get(mig) or {}
        if inst is None or inst.deleted or control.get("abort", threading.Event()).is_set():
            svc.migrations.update(mig, status="cancelled")
            svc.tasks._update(uuid, task_state=None)
            self.control.pop(mig, None)
            return
        source = inst.host
        try:
            target = self._schedule(inst, mig, host, force, "preparing")
        except NoValidHost as exc:
            self._rollback(uuid, source, None, mig, "error", request_id, started,
                           "conductor_live_migrate_instance", str(exc))
            return
        mem = inst.memory_mb * 1024 * 1024
        svc.migrations.update(mig, status="running", dest_compute=target.host,
                              dest_node=target.nodename, dest_host=target.host,
                              memory_total=mem, memory_processed=0, memory_remaining=mem,
                              disk_total=0, disk_processed=0, disk_remaining=0)
        view = {**driver_view(inst), "migration_control": control}
        try:
            svc.driver.migrate(source or "", target.host, view, True)
        except MigrationAborted:
            self._rollback(uuid, source, target.host, mig, "cancelled", request_id, started,
                           event, "aborted")
            return
        except Exception as exc:
            LOG.warning("live migration of %s to %s failed: %s", uuid, target.host, exc)
            self._rollback(uuid, source, target.host, mig, "error", request_id, started,
                           event, str(exc))
            return
        moved = svc.tasks._update(uuid, host=target.host, node=target.nodename,
                                  task_state=None)
        svc.scheduler.release(source, mig)
        if moved is None:  # deleted meanwhile: the delete freed the source only
            svc.scheduler.release(target.host, uuid)
        elif svc.tasks.networks is not None:
            svc.tasks.networks.rebind(uuid, target.host)
        svc.migrations.update(mig, status="completed", memory_processed=mem,
                              memory_remaining=0)
        svc.tasks._event(uuid, request_id, event, target.host, "Success", started)
        self.control.pop(mig, None)

    def _in_progress(self, inst: Instance, migration_id: int, action: str,
                     statuses: tuple[str, ...]) -> Any:
        mig = self.svc.migrations.by_id(inst.uuid, migration_id)
        if inst.task_state != MIGRATING:
            raise self.svc.servers.invalid_state(inst, action, "task_state")
        if mig.migration_type != "live-migration" or mig.status not in statuses:
            raise errors.BadRequest(f"Migration {migration_id} state of instance {inst.uuid} "
                                    f"is {mig.status}. Cannot {action} while the migration "
                                    "is in this state.")
        return mig

    def abort(self, ctx: RequestContext, inst: Instance, migration_id: int,
              queued_ok: bool) -> None:
        statuses = ("queued", "preparing", "running") if queued_ok else ("preparing",
                                                                          "running")
        mig = self._in_progress(inst, migration_id, "abort live migration", statuses)
        if not self.svc.in_main_process("live").signal(mig.uuid, "abort"):
            raise errors.BadRequest(f"Migration {migration_id} is not in progress here.")
        self.svc.servers.record_action(ctx, inst.uuid, "live_migration_abort")

    def force_complete(self, ctx: RequestContext, inst: Instance, migration_id: int) -> None:
        mig = self._in_progress(inst, migration_id, "force_complete", ("running",))
        self.svc.in_main_process("live").signal(mig.uuid, "force_complete")
        self.svc.servers.record_action(ctx, inst.uuid, "live_migration_force_complete")

    def signal(self, mig_uuid: str, which: str) -> bool:
        """Tell the task moving a server to ``abort`` or ``force_complete`` (False: no
        such task runs in this process, the one running the compute tasks)."""
        ctl = self.control.get(mig_uuid)
        if ctl is None:
            return False
        ctl[which].set()
        return True

    # -- evacuate -----------------------------------------------------------------------
    def evacuate(self, ctx: RequestContext, inst: Instance, host: str | None,
                 admin_pass: str | None, force: bool, stop: bool = False) -> str:
        """``stop`` (2.95): the server ends STOPPED on the destination, whatever it was."""
        svc = self.svc
        self._check_host(inst, host)
        service = svc.hosts.compute_services().get(inst.host or "")
        if service is not None and svc.hosts.is_up(service):
            raise errors.BadRequest(f"Compute service of {inst.host} is still in use.")
        if host is not None:
            dest = svc.hosts.compute_services().get(host)
            if dest is None or not svc.hosts.is_up(dest):
                raise errors.BadRequest(f"Compute service of {host} is unavailable at this "
                                        "time.")
        password = admin_pass or secrets.token_urlsafe(9)
        mig, previous = self._begin(ctx, inst, "evacuate",
                                    (states.ACTIVE, states.STOPPED, states.ERROR),
                                    REBUILDING, "evacuation", "accepted", host)
        svc.tasks.submit(self._evacuate, inst.uuid, mig, host, force,
                         states.STOPPED if stop else previous, ctx.request_id)
        return password

    def _evacuate(self, uuid: str, mig: str, host: str | None, force: bool, previous: str,
                  request_id: str) -> None:
        from pocketstack.compute.tasks import driver_view

        svc, started, event = self.svc, utcnow(), "compute_rebuild_instance"
        with self.db.read() as s:
            inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
        if inst is None or inst.deleted:
            svc.migrations.update(mig, status="failed")
            return
        source = inst.host
        try:
            target = self._schedule(inst, mig, host, force, "pre-migrating")
        except NoValidHost as exc:
            svc.migrations.update(mig, status="error")
            svc.tasks._update(uuid, task_state=None, vm_state=states.ERROR,
                              fault={"code": 500, "message": str(exc), "details": "",
                                     "created": utcnow().isoformat()})
            svc.tasks._event(uuid, request_id, "conductor_rebuild_server", None, "Error",
                             started, tb=str(exc))
            return
        svc.migrations.update(mig, dest_compute=target.host, dest_node=target.nodename,
                              dest_host=target.host)
        view = driver_view(inst)
        try:
            if svc.tasks.networks is not None:
                svc.tasks.networks.rebind(uuid, target.host)
            svc.driver.spawn(target.host, view)
            if previous == states.STOPPED:
                svc.driver.power_off(target.host, view)
        except Exception as exc:
            LOG.warning("evacuation of %s to %s failed: %s", uuid, target.host, exc)
            svc.scheduler.release(target.host, uuid)
            svc.scheduler.transfer(source, mig, uuid, migration=False)
            svc.migrations.update(mig, status="failed")
            svc.tasks._update(uuid, task_state=None, vm_state=states.ERROR)
            svc.tasks._event(uuid, request_id, event, target.host, "Error", started,
                             tb=str(exc))
            return
        stopped = previous == states.STOPPED
        moved = svc.tasks._update(uuid, host=target.host, node=target.nodename, task_state=None,
                          vm_state=states.STOPPED if stopped else states.ACTIVE,
                          power_state=states.SHUTDOWN if stopped else states.RUNNING,
                          fault=None)
        # the source host is down: its copy is gone with it; its claim is dropped here
        # (Nova drops it when the source compute service comes back)
        svc.scheduler.release(source, mig)
        if moved is None:  # deleted meanwhile
            svc.scheduler.release(target.host, uuid)
        svc.migrations.update(mig, status="done")
        svc.tasks._event(uuid, request_id, event, target.host, "Success", started)
