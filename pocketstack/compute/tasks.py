"""Asynchronous compute work: builds and server actions, in a small thread pool.

The API answers 202 at once with the task_state set; the work runs here, calls the
driver, and moves the server to its next vm_state / power_state.
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select

from pocketstack.compute import instance_rows as rows, states
from pocketstack.compute.drivers.base import BuildFailed, ComputeDriver
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.compute.scheduler.host_state import RequestSpec
from pocketstack.compute.scheduler.manager import NoValidHost, Scheduler
from pocketstack.db import Database, utcnow
from pocketstack.ops import notifications

if TYPE_CHECKING:
    from pocketstack.config import Config

LOG = logging.getLogger(__name__)
_RETRIES = ("Exceeded maximum number of retries. Exhausted all hosts available for retrying "
            "build failures for instance {uuid}.")

# action -> (driver method, vm_state after, power_state after)
ACTIONS: dict[str, tuple[str, str, int]] = {
    "stop": ("power_off", states.STOPPED, states.SHUTDOWN),
    "start": ("power_on", states.ACTIVE, states.RUNNING),
    "reboot": ("reboot", states.ACTIVE, states.RUNNING),
    "pause": ("pause", states.PAUSED, states.PAUSED_POWER),
    "unpause": ("unpause", states.ACTIVE, states.RUNNING),
    "suspend": ("suspend", states.SUSPENDED, states.SUSPENDED_POWER),
    "resume": ("resume", states.ACTIVE, states.RUNNING),
}


def driver_view(inst: Instance) -> dict[str, Any]:
    return {"uuid": inst.uuid, "name": inst.display_name, "metadata": dict(inst.server_metadata
                                                                          or {}),
            "vcpus": inst.vcpus, "memory_mb": inst.memory_mb, "image_ref": inst.image_ref,
            "root_gb": inst.root_gb, "ephemeral_gb": inst.ephemeral_gb}


class _Gone(Exception):
    """The server was deleted while it was being scheduled."""


class Tasks:
    def __init__(self, db: Database, conf: "Config", driver: ComputeDriver,
                 scheduler: Scheduler, cast: Callable[..., None] | None = None) -> None:
        self.db = db
        self.conf = conf
        self.driver = driver
        self.scheduler = scheduler
        # oslo.messaging's option: the threads that run what is cast to the service
        self.pool = ThreadPoolExecutor(max_workers=conf.get("DEFAULT",
                                                            "executor_thread_pool_size"),
                                       thread_name_prefix="compute-task")
        # a compute API worker's: the work is sent to the main process's pool
        self._cast = cast
        self.delete_hooks: list[Callable[[str], None]] = []  # run with the uuid on delete
        self.networks: Any = None  # compute.networks.ServerNetworks, set by the service
        self.cloud: Any = None  # for notifications of SQL-text writes, set by the service
        # the metadata service's config_drive(uuid) -> ISO path (None: no metadata service)
        self.config_drive_builder: Callable[[str], str | None] | None = None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any] | None:
        if self._cast is not None:
            self._cast(fn, *args, **kwargs)
            return None

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                LOG.exception("compute task %s failed", getattr(fn, "__name__", fn))
                raise
        # the caller's request context goes along: the task's log lines carry its req-id
        return self.pool.submit(contextvars.copy_context().run, run)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    # -- helpers ----------------------------------------------------------------
    def _update(self, uuid: str, event: tuple[Any, ...] | None = None, **fields: Any
                ) -> Instance | None:
        """Set fields of a live instance; with ``event`` (the arguments of :meth:`_event`
        after the uuid) also record that event, in the same transaction."""
        with self.db.write() as s:
            return self._update_in(s, uuid, event, **fields)

    def _update_in(self, s: Any, uuid: str, event: tuple[Any, ...] | None = None,
                   **fields: Any) -> Instance | None:
        """:meth:`_update` inside the caller's transaction."""
        inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
        if inst is None or inst.deleted:
            return None
        if event is not None:
            self._event_in(s, uuid, *event)
        if inst.task_state == states.DELETING and fields.get("task_state", 1) is None:
            fields.pop("task_state")  # a delete overtook this task: leave it to the delete
            fields.pop("vm_state", None)
        for k, v in fields.items():
            setattr(inst, k, v)
        inst.updated_at = utcnow()
        return inst

    def _event(self, uuid: str, request_id: str, event: str, host: str | None,
               result: str, started: Any, tb: str | None = None) -> None:
        with self.db.write() as s:
            self._event_in(s, uuid, request_id, event, host, result, started, tb)

    @staticmethod
    def _event_in(s: Any, uuid: str, request_id: str, event: str, host: str | None,
                  result: str, started: Any, tb: str | None = None) -> None:
        """:meth:`_event` inside the caller's transaction."""
        act = s.scalar(select(InstanceAction).where(InstanceAction.instance_uuid == uuid,
                                                    InstanceAction.request_id == request_id))
        if act is None:
            return
        now = utcnow()
        act.events = [*act.events, {"event": event, "start_time": started.isoformat(),
                                    "finish_time": now.isoformat(), "result": result,
                                    "traceback": tb, "host": host}]
        act.finish_time = act.updated_at = now
        if result != "Success":
            act.message = "Error"

    # -- build ------------------------------------------------------------------
    def build(self, spec: RequestSpec, request_id: str) -> None:
        uuid = spec.instance_uuid
        max_attempts = max(1, self.conf.get("scheduler", "max_attempts"))
        started = utcnow()
        attempts = 0
        while True:
            attempts += 1
            placed: list[Instance] = []
            loaded = rows.load(self.db, uuid)  # read before the claim: not under the lock
            if loaded is None:
                return

            def spawning(tx: Any, host: Any) -> None:
                """The host and SPAWNING, in the claim's transaction (one UPDATE)."""
                fields = {"host": host.host, "node": host.nodename,
                          "availability_zone": host.availability_zone,
                          "task_state": states.SPAWNING, "updated_at": utcnow()}
                if not rows.set_live(tx, self.db, uuid, fields):
                    raise _Gone()  # deleted meanwhile: undo the claim
                for k, v in fields.items():
                    setattr(loaded, k, v)
                placed.append(loaded)

            try:
                host = self.scheduler.select_destination(spec, within=spawning)
            except NoValidHost as exc:
                message = str(exc)
                if spec.ignore_hosts:  # builds failed and no host is left to retry on
                    message = _RETRIES.format(uuid=uuid)
                self._fail(uuid, request_id, message, started, None)
                return
            except _Gone:
                return
            inst = placed[-1]
            self.scheduler.io_ops(host.host, +1)
            try:
                t0 = time.monotonic()
                if self.networks is not None:
                    self.networks.allocate(inst, host.host)
                t1 = time.monotonic()
                self.driver.spawn(host.host, self.spawn_view(inst))
                LOG.debug("build of %s: ports %.3fs, spawn %.3fs", uuid, t1 - t0,
                         time.monotonic() - t1)
            except BuildFailed as exc:
                LOG.info("build of %s failed on %s: %s", uuid, host.host, exc)
                self.scheduler.build_result(host.host, ok=False)
                self.scheduler.release(host.host, uuid)
                spec.ignore_hosts.add(host.host)
                if attempts >= max_attempts:
                    self._fail(uuid, request_id, _RETRIES.format(uuid=uuid), started,
                               host.host, detail=str(exc))
                    return
                self._update(uuid, host=None, node=None, task_state=states.SCHEDULING)
                continue
            finally:
                self.scheduler.io_ops(host.host, -1)
            self.scheduler.build_result(host.host, ok=True)
            if self._activate(inst, (request_id, "compute__do_build_and_run_instance",
                                     host.host, "Success", started)):
                LOG.info("Took %.2f seconds to build instance on %s.",
                         (utcnow() - started).total_seconds(), host.host,
                         extra={"instance_uuid": uuid})
            else:
                # deleted while spawning: undo the spawn and the claim
                self.driver.destroy(host.host, driver_view(inst))
                self.scheduler.release(host.host, uuid)
                if self.networks is not None:
                    self.networks.deallocate(uuid)
            return

    def _activate(self, inst: Instance, event: tuple[Any, ...]) -> bool:
        """ACTIVE/RUNNING after a build, and its event, in one transaction of two
        statements (a delete that overtook the build keeps its task_state and vm_state,
        as :meth:`_update_in`). False when the server is gone. ``inst``: the build's
        copy."""
        uuid, now = inst.uuid, utcnow()
        with self.db.raw_write() as tx:
            live, overtaken = rows.activate(tx, self.db, uuid, now)
            if not live:
                return False
            rows.add_event(tx, self.db, uuid, *event)
            if not overtaken:  # the UPDATE bypassed the ORM's flush hook: tell of it
                self._notify_after(tx, "instance.create.end", {
                    **notifications.instance_payload(inst), "state": states.ACTIVE,
                    "task_state": None, "power_state": states.RUNNING, "launched_at": now})
        return True

    def _notify_after(self, tx: Any, event_type: str, payload: dict[str, Any]) -> None:
        """Send a notification once ``tx`` commits (notifications.queue for SQL text)."""
        cloud = self.cloud
        if cloud is not None:
            tx.after_commit(lambda: notifications.emit(cloud, event_type, payload))

    def spawn_view(self, inst: Instance) -> dict[str, Any]:
        """The driver's view of an instance about to be spawned: with
        ``config_drive_path`` (the ISO to attach) when the server asked for a config drive
        (``config_drive: true``) or ``[DEFAULT] force_config_drive`` is set. Built here,
        after the ports exist (their addresses go in network_data.json)."""
        view = driver_view(inst)
        if self.config_drive_builder is not None and (
                inst.config_drive or self.conf.get("DEFAULT", "force_config_drive")):
            path = self.config_drive_builder(inst.uuid)
            if path:
                view["config_drive_path"] = path
        return view

    def _fail(self, uuid: str, request_id: str, message: str, started: Any,
              host: str | None, detail: str | None = None) -> None:
        fault = {"code": 500, "message": message, "created": utcnow().isoformat(),
                 "details": detail or ""}
        self._update(uuid, vm_state=states.ERROR, task_state=None, host=None, node=None,
                     fault=fault)
        if self.networks is not None:
            self.networks.deallocate(uuid)
        self._event(uuid, request_id, "conductor_schedule_and_build_instances", host, "Error",
                    started, tb=message)

    # -- actions ----------------------------------------------------------------
    def action(self, uuid: str, name: str, request_id: str, **kwargs: Any) -> None:
        started = utcnow()
        with self.db.read() as s:
            inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
        if inst is None or inst.deleted:
            return
        method, vm_state, power = ACTIONS[name]
        try:
            getattr(self.driver, method)(inst.host, driver_view(inst), **kwargs)
        except Exception as exc:
            self._update(uuid, task_state=None)
            self._event(uuid, request_id, f"compute_{name}_instance", inst.host, "Error",
                        started, tb=traceback.format_exc())
            LOG.warning("%s of %s failed: %s", name, uuid, exc)
            return
        self._update(uuid, vm_state=vm_state, task_state=None, power_state=power)
        self._event(uuid, request_id, f"compute_{name}_instance", inst.host, "Success",
                    started)

    def delete(self, uuid: str, request_id: str) -> None:
        started = utcnow()
        inst = rows.load(self.db, uuid)
        if inst is None:
            return
        if inst.host:
            try:
                self.driver.destroy(inst.host, driver_view(inst))
            except Exception:
                LOG.exception("destroying %s on %s failed (deleted anyway)", uuid, inst.host)
        for hook in self.delete_hooks:
            hook(uuid)
        codec = self.db.codec(Instance)
        with self.db.raw_write() as tx:  # with the Placement release: one transaction
            now = utcnow()
            tx.execute(_DELETED, {**codec.bind({"deleted": True, "terminated_at": now}),
                                  "vm_state": states.DELETED, "nostate": states.NOSTATE,
                                  "uuid": uuid})
            self._notify_after(tx, "instance.delete.end", {  # the UPDATE bypassed the ORM's
                **notifications.instance_payload(inst),  # flush hook: the row as written
                "state": states.DELETED, "task_state": None, "power_state": states.NOSTATE,
                "terminated_at": now})
            rows.add_event(tx, self.db, uuid, request_id, "compute_terminate_instance",
                           inst.host, "Success", started)
            self.scheduler.release(inst.host, uuid, tx=tx)
        if self.networks is not None:
            self.networks.deallocate(uuid)
        if inst.resize_from and inst.resize_from.get("host"):  # deleted while resized
            self.scheduler.release(inst.resize_from["host"],
                                   inst.resize_from.get("migration_uuid") or uuid)


_DELETED = ("UPDATE compute_instance SET deleted = :deleted, vm_state = :vm_state, "
            "task_state = NULL, power_state = :nostate, terminated_at = :terminated_at, "
            "updated_at = :terminated_at WHERE uuid = :uuid")
