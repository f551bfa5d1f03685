"""The operator's repairs that used to end with an SQL UPDATE.

``host rename``, ``volume force-delete``/``reset-state``, ``server reset-state`` and
``floating-ip disassociate --force``. Each is one write transaction over the
services' own models (the same rules the services use: ``cloud.db.write()``),
so it is safe on a running cloud too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.ops.common import OpsError, utcnow

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


# -- host rename ----------------------------------------------------------------
def host_rename(cloud: "Cloud", old: str, new: str) -> list[str]:
    """Re-home everything recorded on host ``old`` to ``new``; returns what changed.

    Also completes a half-done rename (e.g. the service row already renamed by
    hand): ``new`` may exist as long as ``old`` no longer has the same records.
    """
    from pocketstack.compute.models import Aggregate, ComputeNode, ComputeService, Instance
    from pocketstack.network.models import Port
    from pocketstack.placement.models import ResourceProvider
    from pocketstack.volume.models import Attachment

    if old == new or not new.strip():
        raise OpsError("the new host name must differ from the old one and not be empty")
    done: list[str] = []
    now = utcnow()
    with cloud.db.write() as s:
        for svc in list(s.scalars(select(ComputeService).where(ComputeService.host == old))):
            if s.scalar(select(ComputeService).where(ComputeService.host == new,
                                                     ComputeService.binary == svc.binary)):
                raise OpsError(f"both {old} and {new} have a {svc.binary} service: remove "
                               f"one first (pocketstack manage service remove {svc.binary} "
                               "HOST)")
            svc.host, svc.updated_at = new, now
            done.append(f"service {svc.binary}")
        node = s.scalar(select(ComputeNode).where(ComputeNode.host == old))
        if node is not None:
            if s.scalar(select(ComputeNode).where(ComputeNode.host == new)):
                raise OpsError(f"both {old} and {new} have a hypervisor record")
            node.host, node.updated_at = new, now
            if node.hypervisor_hostname == old:
                node.hypervisor_hostname = new
            done.append(f"hypervisor {node.uuid}")
        n = 0
        for inst in s.scalars(select(Instance).where(Instance.host == old)):
            inst.host = new
            if inst.node in (old, None):
                inst.node = new
            n += 1
        for inst in s.scalars(select(Instance).where(Instance.resize_from.is_not(None))):
            if (inst.resize_from or {}).get("host") == old:
                inst.resize_from = {**inst.resize_from, "host": new,
                                    "node": new if inst.resize_from.get("node") == old
                                    else inst.resize_from.get("node")}
                n += 1
        if n:
            done.append(f"{n} server(s)")
        for agg in s.scalars(select(Aggregate)):
            if old in (agg.hosts or []):
                agg.hosts = [new if h == old else h for h in agg.hosts]
                done.append(f"aggregate {agg.name}")
        rp = s.scalar(select(ResourceProvider).where(ResourceProvider.name == old))
        if rp is not None:
            if s.scalar(select(ResourceProvider).where(ResourceProvider.name == new)):
                raise OpsError(f"both {old} and {new} are resource providers in placement")
            rp.name = new
            rp.generation += 1
            done.append(f"resource provider {rp.uuid} (its allocations follow its id)")
        n = 0
        for a in s.scalars(select(Attachment).where(Attachment.attached_host == old)):
            a.attached_host = new
            n += 1
        if n:
            done.append(f"{n} volume attachment(s)")
        n = 0
        for port in s.scalars(select(Port)):
            if (port.attrs or {}).get("binding:host_id") == old:
                port.attrs = {**port.attrs, "binding:host_id": new}
                port.revision_number += 1
                n += 1
        if n:
            done.append(f"{n} port binding(s)")
    if not done:
        raise OpsError(f"nothing is recorded on host {old}")
    return done


# -- volumes ----------------------------------------------------------------------
def _volume(s: Any, volume_id: str) -> Any:
    from pocketstack.volume.models import Volume

    v = s.get(Volume, volume_id)
    if v is None:
        raise OpsError(f"no volume {volume_id}")
    return v


def volume_force_delete(cloud: "Cloud", volume_id: str) -> str:
    """Delete a volume whatever its status (Cinder's os-force_delete), attachments included."""
    from pocketstack.volume.drivers.file import FileDriver
    from pocketstack.volume.models import Attachment, Snapshot, Transfer

    with cloud.db.write() as s:
        v = _volume(s, volume_id)
        snaps = list(s.scalars(select(Snapshot.id).where(Snapshot.volume_id == volume_id)))
        if snaps:
            raise OpsError(f"volume {volume_id} has snapshots ({', '.join(snaps)}): delete "
                           "them first (openstack volume snapshot delete --force ID)")
        status = v.status
        for model in (Attachment, Transfer):
            for row in s.scalars(select(model).where(model.volume_id == volume_id)):
                s.delete(row)
        s.delete(v)
    FileDriver.from_conf(cloud.conf, cloud.data_dir).delete_volume(volume_id)
    return f"volume {volume_id} (was {status}) deleted"


def volume_reset_state(cloud: "Cloud", volume_id: str, state: str,
                       attach_status: str | None) -> str:
    from pocketstack.volume.actions import VOLUME_STATUSES
    from pocketstack.volume.models import Attachment

    if state not in VOLUME_STATUSES:
        raise OpsError(f"not a volume status: {state} (one of {', '.join(VOLUME_STATUSES)})")
    if attach_status not in (None, "attached", "detached"):
        raise OpsError("--attach-status must be attached or detached")
    with cloud.db.write() as s:
        v = _volume(s, volume_id)
        before = v.status
        v.previous_status, v.status, v.updated_at = before, state, utcnow()
        if attach_status is not None:
            v.attach_status = attach_status
            if attach_status == "detached":
                for a in s.scalars(select(Attachment).where(Attachment.volume_id == volume_id,
                                                            Attachment.attach_status !=
                                                            "detached")):
                    a.attach_status = "detached"
    return f"volume {volume_id}: {before} -> {state}"


# -- servers -----------------------------------------------------------------------
def server_reset_state(cloud: "Cloud", uuid: str, active: bool) -> str:
    from pocketstack.compute.models import Instance

    with cloud.db.write() as s:
        inst = s.scalar(select(Instance).where(Instance.uuid == uuid,
                                               Instance.deleted.is_(False)))
        if inst is None:
            raise OpsError(f"no server {uuid}")
        before = (inst.vm_state, inst.task_state)
        inst.vm_state = "active" if active else "error"
        inst.task_state = None
        inst.updated_at = utcnow()
    return (f"server {uuid}: vm_state {before[0]} -> {'active' if active else 'error'}, "
            f"task_state {before[1]} -> None")


# -- floating IPs ------------------------------------------------------------------
def floating_ip_disassociate(cloud: "Cloud", fip: str) -> str:
    """Detach a floating IP from its port even when the port or router is gone."""
    from pocketstack.network.models import FloatingIP

    with cloud.db.write() as s:
        row = s.get(FloatingIP, fip) or s.scalar(
            select(FloatingIP).where(FloatingIP.floating_ip_address == fip))
        if row is None:
            raise OpsError(f"no floating IP {fip}")
        port = row.port_id
        row.port_id = None
        row.attrs = {**(row.attrs or {}), "fixed_ip_address": None, "router_id": None}
        row.revision_number += 1
        row.updated_at = utcnow()
    return f"floating IP {row.floating_ip_address} disassociated (was on port {port})"
