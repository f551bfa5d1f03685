"""Block Storage through openstacksdk (proxy and cloud layers)."""

from __future__ import annotations

import uuid

import pytest
from openstack import exceptions


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_sdk_volume_lifecycle(cloud):
    conn = cloud.conn("pocketstack")
    bs = conn.block_storage
    vol = bs.create_volume(size=1, name=_name("sdk"), metadata={"k": "v"})
    vol = bs.wait_for_status(vol, status="available", wait=60)
    assert vol.size == 1 and vol.metadata == {"k": "v"} and vol.is_bootable is False
    bs.extend_volume(vol, 2)
    assert bs.wait_for_status(bs.get_volume(vol.id), status="available", wait=60).size == 2
    bs.set_volume_bootable_status(vol, True)
    assert bs.get_volume(vol.id).is_bootable is True
    found = bs.find_volume(vol.name)
    assert found.id == vol.id
    assert vol.id in [v.id for v in bs.volumes()]
    snap = bs.create_snapshot(volume_id=vol.id, name=_name("snap"))
    snap = bs.wait_for_status(snap, status="available", wait=60)
    assert snap.volume_id == vol.id and snap.size == 2
    with pytest.raises(exceptions.BadRequestException):
        bs.delete_volume(vol)
    bs.delete_snapshot(snap)
    bs.wait_for_delete(snap, wait=60)
    bs.delete_volume(vol)
    bs.wait_for_delete(vol, wait=60)
    with pytest.raises(exceptions.NotFoundException):
        bs.get_volume(vol.id)


def test_sdk_backups_types_and_limits(cloud):
    admin = cloud.conn("pocketstack-admin").block_storage
    vol = admin.create_volume(size=1, name=_name("bk"), metadata={"app": "db"})
    backup = admin.create_backup(volume_id=vol.id, name=_name("backup"))
    backup = admin.wait_for_status(backup, status="available", wait=60)
    assert backup.volume_id == vol.id and backup.size == 1
    assert backup.id in [b.id for b in admin.backups()]
    restored = admin.restore_backup(backup, name=_name("restored"))
    new_vol = admin.get_volume(restored["volume_id"])
    assert new_vol.status in ("restoring-backup", "available")
    new_vol = admin.wait_for_status(new_vol, status="available", wait=60)
    assert new_vol.size == 1 and new_vol.metadata == {"app": "db"}  # restored, as Cinder
    admin.wait_for_status(backup, status="available", wait=60)
    admin.delete_backup(backup)
    admin.wait_for_delete(backup, wait=60)
    for v in (vol, new_vol):
        admin.delete_volume(v)
    t = admin.create_type(name=_name("type"), extra_specs={"a": "b"})
    assert admin.get_type(t.id).extra_specs == {"a": "b"}
    admin.delete_type(t)
    limits = admin.get_limits()
    assert limits.absolute.max_total_volumes == 10
    assert "nova" in [z.name for z in admin.availability_zones()]
    assert {s.binary for s in admin.services()} >= {"cinder-volume", "cinder-scheduler"}


def test_cloud_layer(cloud):
    conn = cloud.conn("pocketstack")
    vol = conn.create_volume(size=1, name=_name("cloud"), wait=True)
    assert vol.status == "available"
    assert conn.get_volume(vol.id).name == vol.name
    assert conn.delete_volume(vol.id, wait=True)


def test_sdk_follows_volumes_links(cloud):
    bs = cloud.conn("pocketstack-alt").block_storage
    made = [bs.create_volume(size=1, name=_name("page")).id for _ in range(3)]
    seen = [v.id for v in bs.volumes(limit=1)]
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    filtered = [v.id for v in bs.volumes(name=bs.get_volume(made[0]).name)]
    assert filtered == [made[0]]
    for vid in made:
        bs.delete_volume(vid)
