"""The ``file`` back end's reflink pool: constant-time clones and snapshots on an XFS
(reflink=1) file system loop-mounted as the volumes directory (needs root and mkfs.xfs;
skipped elsewhere with the reason). In-process, no cloud: fast."""

from __future__ import annotations

import os

import pytest

from pocketstack.volume.drivers import FileDriver, pool

REASON = pool.unusable_reason("/")


def shared_bytes(path: str) -> int:
    return sum(n for _off, n, flags in pool.extents(path) if flags & pool.FIEMAP_EXTENT_SHARED)


@pytest.fixture
def pooled(tmp_path):
    if REASON:
        pytest.skip(f"reflink pool unusable here: {REASON}")
    d = FileDriver(str(tmp_path), reflink_pool="xfs", reflink_pool_size=1)
    d.start()
    yield d
    d.stop()
    assert not os.path.ismount(d.volumes_dir)


def test_clone_and_snapshot_share_extents(pooled):
    d = pooled
    assert d.pool_problem is None and os.path.ismount(d.volumes_dir)
    assert d.copy_on_write()
    d.create_volume("src", 1)
    data = os.urandom(4 << 20)
    with open(d.volume_path("src"), "r+b") as f:
        f.seek(1 << 20)
        f.write(data)
    d.clone_volume("clone", "src", 1)
    d.create_snapshot("snap", "src")
    d.create_from_snapshot("fromsnap", "snap", 2)
    for path in (d.volume_path("clone"), d.snapshot_path("snap"), d.volume_path("fromsnap")):
        with open(path, "rb") as f:
            f.seek(1 << 20)
            assert f.read(len(data)) == data
        assert shared_bytes(path) >= len(data), path  # a reflink, not a copy
    assert os.path.getsize(d.volume_path("fromsnap")) == 2 << 30
    # a write to the clone unshares its block only: the source keeps its data
    with open(d.volume_path("clone"), "r+b") as f:
        f.seek(1 << 20)
        f.write(b"x" * 4096)
    with open(d.volume_path("src"), "rb") as f:
        f.seek(1 << 20)
        assert f.read(4096) == data[:4096]


def test_pool_survives_restart_and_refuses_to_hide_files(pooled, tmp_path):
    d = pooled
    d.create_volume("kept", 1)
    d.stop()
    assert not os.path.ismount(d.volumes_dir) and os.listdir(d.volumes_dir) == []
    d.start()  # the same image mounted again: the volume is there
    assert d.pool_problem is None and os.listdir(d.volumes_dir) == ["volume-kept"]
    d.start()  # already mounted: nothing to do
    assert d.pool_problem is None

    other = FileDriver(str(tmp_path / "other"), reflink_pool="xfs")
    other.create_volume("on-ext4", 1)
    other.start()
    assert "already holds 1 file" in other.pool_problem
    assert not os.path.ismount(other.volumes_dir)
    other.create_volume("copy-src", 1)
    other.clone_volume("copy", "copy-src", 1)  # plain copies still work
    assert os.path.exists(other.volume_path("copy"))


def test_doctor_says_whether_clones_are_reflinks(tmp_path):
    from types import SimpleNamespace

    from pocketstack.config import Config
    from pocketstack.ops.checks.volume import volume_backend

    def findings(mode: str):
        conf = Config.load(overrides={("file", "reflink_pool"): mode})
        return list(volume_backend(SimpleNamespace(conf=conf, data_dir=str(tmp_path))))

    (off,) = findings("off")
    assert off.status == "OK"
    can_reflink = FileDriver(str(tmp_path)).copy_on_write()
    if not can_reflink:
        assert "reflink_pool = xfs" in off.detail
    (xfs,) = findings("xfs")
    if REASON and not can_reflink:
        assert xfs.status == "FAIL" and REASON in xfs.detail
    else:
        assert xfs.status == "OK", xfs
