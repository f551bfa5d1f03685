"""Doctor checks of block storage: stuck volumes, volumes held by snapshots, stale
attachments."""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import select

from pocketstack.ops.common import conf_int, iso, utcnow
from pocketstack.ops.doctor import FAIL, OK, WARN, Finding, check

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

TRANSITIONAL = ("creating", "deleting", "attaching", "detaching", "extending", "downloading",
                "uploading", "retyping", "backing-up", "restoring-backup", "reserved")


def _fix(v: object, attached: bool) -> str:
    vid, status = getattr(v, "id"), getattr(v, "status")
    if status in ("deleting", "error_deleting"):
        return f"pocketstack manage volume force-delete {vid}"
    if status == "creating":
        return f"pocketstack manage volume reset-state {vid} --state error"
    if attached:
        return f"pocketstack manage volume reset-state {vid} --state in-use --attach-status " \
            "attached"
    return f"pocketstack manage volume reset-state {vid} --state available --attach-status " \
        "detached"


@check("stuck volumes")
def stuck_volumes(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.volume.models import Attachment, Snapshot, Volume

    limit = conf_int(cloud, "doctor", "stuck_task_seconds")
    since = utcnow() - dt.timedelta(seconds=limit)
    found = 0
    with cloud.db.read() as s:
        busy = list(s.scalars(select(Volume).where(Volume.status.in_(
            TRANSITIONAL + ("error_deleting",)))))
        for v in busy:
            snaps = list(s.scalars(select(Snapshot.id).where(Snapshot.volume_id == v.id)))
            if v.status in ("deleting", "error_deleting") and snaps:
                found += 1
                yield Finding("stuck volumes", FAIL,
                              f"volume {v.id} is {v.status} but busy with {len(snaps)} "
                              f"snapshot(s): {', '.join(snaps)}",
                              "openstack volume snapshot delete " + " ".join(snaps) +
                              f" && pocketstack manage volume force-delete {v.id}")
                continue
            if v.status != "error_deleting" and (v.updated_at or v.created_at) >= since:
                continue
            attached = s.scalar(select(Attachment.id).where(
                Attachment.volume_id == v.id, Attachment.attach_status == "attached"))
            found += 1
            yield Finding("stuck volumes", FAIL if v.status != "error_deleting" else WARN,
                          f"volume {v.id} ({v.name or 'no name'}) has been {v.status} since "
                          f"{iso(v.updated_at or v.created_at)}", _fix(v, bool(attached)))
    if not found:
        yield Finding("stuck volumes", OK, f"no volume in a transitional status for more than "
                      f"{limit}s ({len(busy)} busy now)")


@check("volume attachments")
def stale_attachments(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.compute.models import Instance
    from pocketstack.volume.models import Attachment

    found = 0
    with cloud.db.read() as s:
        live = set(s.scalars(select(Instance.uuid).where(Instance.deleted.is_(False))))
        rows = list(s.scalars(select(Attachment).where(Attachment.attach_status != "detached")))
    for a in rows:
        if a.instance_uuid and a.instance_uuid not in live:
            found += 1
            yield Finding("volume attachments", FAIL,
                          f"volume {a.volume_id} is attached ({a.id}) to server "
                          f"{a.instance_uuid}, which is deleted or does not exist",
                          f"pocketstack manage volume reset-state {a.volume_id} --state "
                          "available --attach-status detached")
    if not found:
        yield Finding("volume attachments", OK, f"{len(rows)} attachments, all to live servers")


@check("volume back end")
def volume_backend(cloud: "Cloud") -> Iterable[Finding]:
    """Whether clones and snapshots are constant-time reflinks, and why not."""
    from pocketstack.volume.drivers import FileDriver, pool

    name = "volume back end"
    d = FileDriver.from_conf(cloud.conf, cloud.data_dir)
    mode = d.reflink_pool
    if pool.mounted(d.volumes_dir, d.pool_image):
        yield Finding(name, OK, f"reflink pool {d.pool_image} mounted on {d.volumes_dir}: "
                      "clones and snapshots are reflinks (constant time)")
        return
    if d.copy_on_write():
        yield Finding(name, OK, f"{d.volumes_dir} can reflink: clones and snapshots are "
                      "constant time")
        return
    if mode == "off":
        yield Finding(name, OK, f"{d.volumes_dir} cannot reflink: clones and snapshots are "
                      "full copies (set [file] reflink_pool = xfs for constant time)")
        return
    reason = pool.unusable_reason(d.volumes_dir)
    held = [n for n in os.listdir(d.volumes_dir) if not n.startswith(".probe-")]
    if not reason and held:
        reason = f"{d.volumes_dir} already holds {len(held)} file(s) the pool would hide"
    if reason:
        yield Finding(name, FAIL if mode == "xfs" else OK,
                      f"[file] reflink_pool = {mode} but the pool cannot be mounted: {reason}; "
                      "clones and snapshots are full copies",
                      "apt-get install xfsprogs" if "mkfs.xfs" in reason else "")
    else:
        yield Finding(name, OK, f"the reflink pool is mounted on {d.volumes_dir} when the "
                      "cloud starts")
