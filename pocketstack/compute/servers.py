"""Servers: create (quota, then an asynchronous build), list, show, update, delete, actions."""

from __future__ import annotations

import re
import secrets
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import disk_config, instance_rows as rows, numa, states
from pocketstack.compute.flavors import snapshot
from pocketstack.compute.images import boot_image
from pocketstack.compute.models import Instance, InstanceAction, KeyPair
from pocketstack.compute.networks import resolve_networks
from pocketstack.compute.server_queries import VIEW_COLUMNS, list_servers
from pocketstack.compute.scheduler.filters.image_properties import image_props
from pocketstack.compute.scheduler.host_state import RequestSpec
from pocketstack.compute.scheduler.pci import requests_for
from pocketstack.compute.scheduler.manager import disk_gb
from pocketstack.db import new_uuid, utcnow
from pocketstack.db.raw import Tx, detached

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

# action -> (allowed vm_states, task_state while running)
TRANSITIONS: dict[str, tuple[list[str], str]] = {
    "stop": ([states.ACTIVE, states.ERROR], states.POWERING_OFF),
    "start": ([states.STOPPED], states.POWERING_ON),
    "pause": ([states.ACTIVE], states.PAUSING),
    "unpause": ([states.PAUSED], states.UNPAUSING),
    "suspend": ([states.ACTIVE], states.SUSPENDING),
    "resume": ([states.SUSPENDED], states.RESUMING),
}
ACTION_NAMES = {"stop": "stop", "start": "start", "pause": "pause", "unpause": "unpause",
                "suspend": "suspend", "resume": "resume", "reboot": "reboot",
                "lock": "lock", "unlock": "unlock", "delete": "delete"}


def _hostname(name: str, uuid: str) -> str:
    """A server name as a hostname, as Nova sanitises it: Latin-1 only, at most 63
    characters, spaces, underscores and periods as dashes, other invalid characters
    dropped, lower case, no leading or trailing dash or period; "server-<uuid>" when
    nothing is left."""
    host = name.encode("latin-1", "ignore").decode("latin-1")[:63]
    host = re.sub(r"[^\w-]+", "", re.sub(r"[ _.]", "-", host))
    return host.lower().strip(".-") or f"server-{uuid}"


class Servers:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.cloud = svc.cloud
        self.db = svc.cloud.db

    # -- reads ----------------------------------------------------------------
    def get(self, ctx: RequestContext, uuid: str, all_projects: bool = False) -> Instance:
        inst = rows.load(self.db, uuid)
        if inst is None or (not all_projects and
                                            inst.project_id != ctx.project_id):
            raise errors.NotFound(f"Instance {uuid} could not be found.")
        return inst

    def list(self, project_id: str | None, filters: dict[str, Any], limit: int | None,
             marker: str | None, sort_key: str = "created_at", sort_dir: str = "desc",
             columns: tuple[str, ...] = VIEW_COLUMNS) -> list[Any]:
        """Rows with ``columns`` (what the views read) of the matching servers, in order."""
        return list_servers(self.db, self.cloud, project_id, filters, limit, marker, sort_key,
                            sort_dir, columns)

    # -- create ---------------------------------------------------------------
    def create(self, ctx: RequestContext, body: dict[str, Any], hints: dict[str, Any],
               request_id: str) -> tuple[list[Instance], str]:
        svc = self.svc
        flavor_ref = str(body["flavorRef"]).rstrip("/").rsplit("/", 1)[-1]
        try:
            flavor = svc.flavors.get_cached(flavor_ref, ctx.project_id, ctx.is_admin)
        except errors.NotFound:
            raise errors.BadRequest(f"Flavor {flavor_ref} could not be found.") from None
        if flavor.disabled:
            raise errors.BadRequest(f"Flavor {flavor_ref} is disabled.")
        plan = svc.volumes.plan(ctx, body, int(body.get("max_count", 1) or 1))
        image_ref = body.get("imageRef") or ""
        if not image_ref and not plan.boot_volume:
            raise errors.BadRequest("Missing imageRef attribute")
        image = boot_image(self.cloud, ctx, image_ref) if image_ref else {"id": ""}
        if image.get("block_device_mapping"):  # a volume-backed server's snapshot
            plan = svc.volumes.plan_image(ctx, plan, image, int(body.get("max_count", 1) or 1))
        if flavor.memory_mb < int(image.get("min_ram") or 0):
            raise errors.BadRequest("Flavor's memory is too small for requested image.")
        if flavor.root_gb and flavor.root_gb < int(image.get("min_disk") or 0) \
                and not plan.boot_volume:
            raise errors.BadRequest("Flavor's disk is too small for requested image.")
        networks = resolve_networks(self.cloud, ctx, body.get("networks"),
                                    body.get("security_groups"), body.get("max_count", 1))
        metadata = body.get("metadata") or {}
        known = svc.quotas.read_limits(ctx.project_id, ctx.user_id)  # not under the lock
        svc.quotas.check_metadata(ctx.project_id, metadata, known[0])
        key_data = None
        if body.get("key_name"):
            with self.db.read() as s:
                kp = s.scalar(select(KeyPair).where(KeyPair.user_id == ctx.user_id,
                                                    KeyPair.name == body["key_name"]))
            if kp is None:
                raise errors.BadRequest("Invalid key_name provided.")
            key_data = kp.public_key
        az, force_host = body.get("availability_zone"), None
        if az and ":" in az:
            az, _, force_host = az.partition(":")
            force_host = force_host.split(":")[0] or None
            if force_host and not ctx.is_admin:
                raise errors.Forbidden("Policy doesn't allow os_compute_api:servers:create:"
                                       "forced_host to be performed.")
        if az and az not in {sv.zone for sv in svc.hosts.services("nova-compute")}:
            raise errors.BadRequest("The requested availability zone is not available")
        min_count = int(body.get("min_count", 1))
        max_count = int(body.get("max_count", min_count))
        if min_count > max_count:
            raise errors.BadRequest("min_count must be <= max_count")
        group_id = hints.get("group")
        requested = body.get("host") or body.get("hypervisor_hostname")
        if requested:
            if requested not in svc.driver.hosts():
                raise errors.BadRequest(f"Compute host {requested} could not be found.")
            force_host = requested
        admin_pass = body.get("adminPass") or secrets.token_urlsafe(9)
        reservation = "r-" + secrets.token_hex(4)
        fl = snapshot(flavor)
        pci_requests = requests_for(self.cloud.conf, fl["extra_specs"])  # 400: unknown alias
        dcf = disk_config.with_image(image, body.get("OS-DCF:diskConfig"))
        numa_req = numa.request(flavor.extra_specs, image, flavor.vcpus, flavor.memory_mb)
        session = bool(group_id) or min_count != max_count
        # the common case: the usage counted by the first INSERT itself (one statement less
        # under the write lock); a user's own instance/core/ram limits need the full check
        within = None if session or any(r in known[1] for r in ("instances", "cores", "ram")) \
            else {r: known[0][r] for r in ("instances", "cores", "ram")}
        with self._create_tx(session) as (s, tx):
            count = max_count
            try:
                if within is None:
                    svc.quotas.check_instances(tx, ctx.project_id, max_count, flavor.vcpus,
                                               flavor.memory_mb, ctx.user_id, known)
            except errors.OverQuota:
                if min_count == max_count:
                    raise
                fits = svc.quotas.headroom(s, ctx.project_id, flavor.vcpus, flavor.memory_mb)
                svc.quotas.check_instances(s, ctx.project_id, max(min_count, fits),
                                           flavor.vcpus, flavor.memory_mb, ctx.user_id, known)
                count = max(min_count, fits)
            now = utcnow()
            created: list[dict[str, Any]] = []
            for i in range(count):
                name = body["name"] if count == 1 else f"{body['name']}-{i + 1}"
                uuid = new_uuid()
                values = dict(
                    uuid=uuid, project_id=ctx.project_id, user_id=ctx.user_id,
                    display_name=name, description=body.get("description"),
                    hostname=body.get("hostname") or _hostname(name, uuid),
                    availability_zone=az, flavorid=flavor.flavorid,
                    flavor=fl, vcpus=flavor.vcpus, memory_mb=flavor.memory_mb,
                    root_gb=flavor.root_gb, ephemeral_gb=flavor.ephemeral_gb,
                    image_ref=image["id"], key_name=body.get("key_name"), key_data=key_data,
                    vm_state=states.BUILDING, task_state=states.SCHEDULING,
                    power_state=states.NOSTATE, server_metadata=metadata,
                    tags=list(body.get("tags") or []), scheduler_hints=hints,
                    networks=networks, reservation_id=reservation, launch_index=i,
                    user_data=body.get("user_data"),
                    config_drive="True" if wants_config_drive(body) else "",
                    access_ip_v4=body.get("accessIPv4"), access_ip_v6=body.get("accessIPv6"),
                    created_at=now, updated_at=now, system_metadata={
                        **(disk_config.sysmeta(image, dcf) or {}),
                        **({"pinned_availability_zone": az} if az else {})} or None)
                if within is not None and i == 0:
                    if not rows.insert_within(tx, self.db, values, count, flavor.vcpus,
                                              flavor.memory_mb, within):
                        svc.quotas.check_instances(tx, ctx.project_id, count, flavor.vcpus,
                                                   flavor.memory_mb, ctx.user_id, known)
                        raise errors.OverQuota("Quota exceeded")  # (raised just above)
                else:
                    rows.insert(tx, self.db, Instance, values)  # SQL text: no unit of work
                rows.add_action(tx, self.db, values["uuid"], "create", request_id,
                                ctx.user_id, ctx.project_id, now)
                created.append(values)
            group = None
            if group_id:
                group = svc.groups.add_members(s, group_id, ctx.project_id,
                                               [v["uuid"] for v in created])
        codec = self.db.codec(Instance)  # the copies returned: made after the write lock
        instances = [detached(Instance, codec.full(v)) for v in created]
        svc.volumes.setup(ctx, instances, plan)
        for inst in instances:
            spec = RequestSpec(
                instance_uuid=inst.uuid, project_id=ctx.project_id, vcpus=flavor.vcpus,
                memory_mb=flavor.memory_mb,
                disk_gb=disk_gb(flavor.root_gb, flavor.ephemeral_gb, flavor.swap),
                availability_zone=az, group=group, hints=hints, force_host=force_host,
                numa=numa_req, user_id=ctx.user_id,
                extra_specs=fl["extra_specs"], image_props=image_props(image),
                pci_requests=pci_requests)
            svc.tasks.submit(svc.tasks.build, spec, request_id)
        return instances, admin_pass

    @contextmanager
    def _create_tx(self, session: bool) -> Iterator[tuple[Any, Tx]]:
        """(ORM session or None, SQL text transaction): a session only when the create
        needs one (server group members, min_count's quota headroom)."""
        if session:
            with self.db.write() as s:
                yield s, self.db.tx_of(s)
        else:
            with self.db.raw_write() as tx:
                yield None, tx

    # -- updates --------------------------------------------------------------
    def update(self, ctx: RequestContext, uuid: str, changes: dict[str, Any]) -> Instance:
        with self.db.write() as s:
            inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
            if inst is None or inst.deleted:
                raise errors.NotFound(f"Instance {uuid} could not be found.")
            for k, v in changes.items():
                setattr(inst, k, v)
            inst.updated_at = utcnow()
            return inst

    def record_action(self, ctx: RequestContext, uuid: str, action: str) -> None:
        now = utcnow()
        with self.db.write() as s:
            s.add(InstanceAction(instance_uuid=uuid, action=action, request_id=ctx.request_id,
                                 user_id=ctx.user_id, project_id=ctx.project_id,
                                 start_time=now, events=[]))

    def check_lock(self, ctx: RequestContext, inst: Instance) -> None:
        if inst.locked and not ctx.is_admin:
            raise errors.Conflict(f"Instance {inst.uuid} is locked")

    @staticmethod
    def invalid_state(inst: Instance, action: str, attr: str) -> errors.Conflict:
        value = inst.vm_state if attr == "vm_state" else inst.task_state
        return errors.Conflict(f"Cannot '{action}' instance {inst.uuid} while it is in "
                               f"{attr} {value}")

    def action(self, ctx: RequestContext, inst: Instance, action: str, **kwargs: Any) -> None:
        """Check the state, set the task_state, run the work asynchronously."""
        self.check_lock(ctx, inst)
        busy_ok: tuple[str | None, ...] = (None,)
        if action == "reboot":
            hard = kwargs.get("reboot_type") == "HARD"
            allowed = states.ALLOW_HARD_REBOOT if hard else states.ALLOW_SOFT_REBOOT
            task = states.REBOOTING_HARD if hard else states.REBOOTING
            busy_ok = (None, states.REBOOTING, states.REBOOTING_HARD) if hard else (None,)
        else:
            allowed, task = TRANSITIONS[action]
        with self.db.write() as s:
            row = s.scalar(select(Instance).where(Instance.uuid == inst.uuid))
            if row is None or row.deleted:
                raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
            if row.vm_state not in allowed:
                raise self.invalid_state(row, action, "vm_state")
            if row.task_state not in busy_ok:
                raise self.invalid_state(row, action, "task_state")
            row.task_state, row.updated_at = task, utcnow()
            s.add(InstanceAction(instance_uuid=row.uuid, action=action,
                                 request_id=ctx.request_id, user_id=ctx.user_id,
                                 project_id=ctx.project_id, start_time=utcnow(), events=[]))
        self.svc.tasks.submit(self.svc.tasks.action, inst.uuid, action, ctx.request_id,
                              **kwargs)

    def delete(self, ctx: RequestContext, inst: Instance) -> None:
        self.check_lock(ctx, inst)
        now = utcnow()
        with self.db.raw_write() as tx:
            if not rows.start_task(tx, self.db, inst.uuid, states.DELETING, now):
                row = tx.one("SELECT deleted FROM compute_instance WHERE uuid = :uuid",
                             {"uuid": inst.uuid})
                if row is None or row[0]:
                    raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
                return  # already being deleted
            rows.add_action(tx, self.db, inst.uuid, "delete", ctx.request_id, ctx.user_id,
                            ctx.project_id, now)
        self.svc.tasks.submit(self.svc.tasks.delete, inst.uuid, ctx.request_id)

    def set_metadata(self, ctx: RequestContext, uuid: str, metadata: dict[str, str],
                     replace: bool) -> dict[str, str]:
        inst = self.get(ctx, uuid, ctx.is_admin)
        self.check_lock(ctx, inst)
        new = dict(metadata) if replace else {**(inst.server_metadata or {}), **metadata}
        self.svc.quotas.check_metadata(inst.project_id, new)
        return dict(self.update(ctx, uuid, {"server_metadata": new}).server_metadata)

    def delete_metadata(self, ctx: RequestContext, uuid: str, key: str) -> None:
        inst = self.get(ctx, uuid, ctx.is_admin)
        self.check_lock(ctx, inst)
        md = dict(inst.server_metadata or {})
        if key not in md:
            raise errors.NotFound("Metadata item was not found")
        del md[key]
        self.update(ctx, uuid, {"server_metadata": md})

    def actions(self, uuid: str) -> list[InstanceAction]:
        with self.db.read() as s:
            return list(s.scalars(select(InstanceAction)
                                  .where(InstanceAction.instance_uuid == uuid)
                                  .order_by(InstanceAction.start_time.desc(),
                                            InstanceAction.id.desc())))


def wants_config_drive(body: dict[str, Any]) -> bool:
    """``config_drive`` as Nova reads it: a boolean or a boolean-like string."""
    value = body.get("config_drive")
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "on", "y", "yes")
    return bool(value)
