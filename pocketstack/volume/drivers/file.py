"""The ``file`` back end: each volume a sparse raw file under DATA_DIR/volumes.

* volumes: ``volumes/volume-<id>`` truncated to the size (sparse, no space used);
* snapshots and clones: ``volumes/snapshot-<id>``, a reflink (``FICLONE``, constant
  time) when the file system can, else an in-kernel ``copy_file_range`` of the data
  extents only (holes stay holes);
* backups: ``backups/backup-<id>``: a small header then zlib-compressed chunks of
  the data extents only (holes are found with SEEK_DATA/SEEK_HOLE), so that an
  empty 1 GiB volume backs up to a few bytes.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import zlib
import logging
from typing import Any

from pocketstack.config import Opt, register
from pocketstack.volume.drivers import pool
from pocketstack.volume.drivers.base import GiB, Driver

LOG = logging.getLogger(__name__)

register(
    Opt("file", "volumes_dir", str, "",
        "Directory of the volume and snapshot files (empty: DATA_DIR/volumes)."),
    Opt("file", "reflink_pool", str, "off",
        "off | xfs | auto. xfs: at start, loop-mount an XFS file system (reflink=1) kept in "
        "the sparse file DATA_DIR/volume-pool.img on volumes_dir, so that clones and "
        "snapshots are reflinks (constant time) even when the data dir's file system "
        "(ext4) cannot reflink; needs root and mkfs.xfs (xfsprogs). auto: the same when "
        "volumes_dir cannot reflink and root and mkfs.xfs are there, else plain copies."),
    Opt("file", "reflink_pool_size", int, 100,
        "Size in GiB of the reflink pool's image file (sparse: only written data uses "
        "space on the host). Read when the pool is first made."),
)

CHUNK = 4 * 1024 * 1024
MAGIC = b"PSBK1\n"


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


FICLONE = 0x40049409  # ioctl: share all the extents of a file (btrfs, xfs, ...)


def _reflink(fin: Any, fout: Any) -> bool:
    try:
        fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
        return True
    except OSError:  # EOPNOTSUPP / EXDEV / EINVAL: this file system cannot
        return False


def _kernel_copy(fin: Any, fout: Any, size: int) -> None:
    """Copy the data extents only (holes stay holes) with copy_file_range: the bytes
    never come up to user space."""
    fout.truncate(size)
    for start, length in _extents(fin, size):
        off, end = start, start + length
        while off < end:
            n = os.copy_file_range(fin.fileno(), fout.fileno(), end - off, off, off)
            if n <= 0:
                raise OSError("copy_file_range made no progress")
            off += n


def _copy(src: str, dst: str) -> None:
    """Constant time where the file system can reflink; else a sparse in-kernel copy."""
    tmp = dst + ".part"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        if not _reflink(fin, fout):
            try:
                _kernel_copy(fin, fout, os.fstat(fin.fileno()).st_size)
            except (OSError, AttributeError):  # no copy_file_range: through user space
                fout.close()
                _sparse_copy(src, tmp)
    os.replace(tmp, dst)


def _extents(f: Any, size: int):
    """(offset, length) of the data regions of an open file (all of it if no SEEK_DATA)."""
    fd = f.fileno()
    pos = 0
    if not hasattr(os, "SEEK_DATA"):
        if size:
            yield 0, size
        return
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: no more data
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, min(end, size) - start
        pos = end


def _chunks(f: Any, size: int):
    for start, length in _extents(f, size):
        off = start
        while off < start + length:
            n = min(CHUNK, start + length - off)
            f.seek(off)
            data = f.read(n)
            if data.count(0) != len(data):  # skip all-zero chunks
                yield off, data
            off += n


def _sparse_copy(src: str, dst: str) -> None:
    size = os.path.getsize(src)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fout.truncate(size)
        for off, data in _chunks(fin, size):
            fout.seek(off)
            fout.write(data)


class FileDriver(Driver):
    backend_name = "file"
    driver_volume_type = "file"

    def __init__(self, data_dir: str, volumes_dir: str = "", reflink_pool: str = "off",
                 reflink_pool_size: int = 100, pool_image: str = "") -> None:
        self.volumes_dir = volumes_dir or os.path.join(data_dir, "volumes")
        self.backups_dir = os.path.join(data_dir, "backups")
        self.pool_image = pool_image or os.path.join(data_dir, pool.IMAGE_NAME)
        if reflink_pool not in pool.MODES:
            raise ValueError(f"[file] reflink_pool: {reflink_pool!r} is not one of "
                             f"{', '.join(pool.MODES)}")
        self.reflink_pool, self.reflink_pool_size = reflink_pool, reflink_pool_size
        os.makedirs(self.volumes_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.backups_dir, mode=0o700, exist_ok=True)

    @classmethod
    def from_conf(cls, conf: Any, data_dir: str) -> "FileDriver":
        return cls(data_dir, str(conf.get("file", "volumes_dir")),
                   str(conf.get("file", "reflink_pool")).strip().lower(),
                   int(conf.get("file", "reflink_pool_size")))

    _cow: bool | None = None
    #: why the configured reflink pool is not in use (None: in use or not wanted)
    pool_problem: str | None = None

    def start(self) -> None:
        """Mount the reflink pool when configured (see ``pool.py``); a pool that cannot
        be made is reported and volumes stay plain (copied) files."""
        mode = self.reflink_pool
        if mode == "off" or (mode == "auto" and (
                self.copy_on_write() or pool.unusable_reason(self.volumes_dir))):
            return
        try:
            pool.ensure(self.volumes_dir, self.pool_image, self.reflink_pool_size)
        except (OSError, RuntimeError) as exc:
            self.pool_problem = f"reflink pool not mounted on {self.volumes_dir}: {exc}"
            LOG.error("%s; clones and snapshots are full copies", self.pool_problem)
        self._cow = None  # probe again: the directory may now be the pool

    def stop(self) -> None:
        if self.reflink_pool != "off":
            pool.release(self.volumes_dir, self.pool_image)

    def copy_on_write(self) -> bool:
        """Whether clones are reflinks here (probed once on two scratch files)."""
        if self._cow is None:
            a = os.path.join(self.volumes_dir, ".probe-a")
            b = os.path.join(self.volumes_dir, ".probe-b")
            try:
                with open(a, "wb") as fa:
                    fa.write(b"x")
                with open(a, "rb") as fin, open(b, "wb") as fout:
                    self._cow = _reflink(fin, fout)
            except OSError:
                self._cow = False
            finally:
                _remove(a)
                _remove(b)
        return self._cow

    # -- paths ------------------------------------------------------------------
    def volume_path(self, volume_id: str) -> str:
        return os.path.join(self.volumes_dir, f"volume-{volume_id}")

    def snapshot_path(self, snapshot_id: str) -> str:
        return os.path.join(self.volumes_dir, f"snapshot-{snapshot_id}")

    def backup_path(self, backup_id: str) -> str:
        return os.path.join(self.backups_dir, f"backup-{backup_id}")

    # -- volumes ------------------------------------------------------------------
    def create_volume(self, volume_id: str, size_gb: int) -> None:
        path = self.volume_path(volume_id)
        with open(path, "wb") as f:
            f.truncate(size_gb * GiB)

    def delete_volume(self, volume_id: str) -> None:
        _remove(self.volume_path(volume_id))

    def extend_volume(self, volume_id: str, size_gb: int) -> None:
        os.truncate(self.volume_path(volume_id), size_gb * GiB)

    def clone_volume(self, volume_id: str, source_volume_id: str, size_gb: int) -> None:
        _copy(self.volume_path(source_volume_id), self.volume_path(volume_id))
        self.extend_volume(volume_id, size_gb)

    # -- snapshots ----------------------------------------------------------------
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        _copy(self.volume_path(volume_id), self.snapshot_path(snapshot_id))

    def delete_snapshot(self, snapshot_id: str) -> None:
        _remove(self.snapshot_path(snapshot_id))

    def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        _copy(self.snapshot_path(snapshot_id), self.volume_path(volume_id))
        self.extend_volume(volume_id, size_gb)

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        size = os.path.getsize(self.volume_path(volume_id))
        _copy(self.snapshot_path(snapshot_id), self.volume_path(volume_id))
        os.truncate(self.volume_path(volume_id), size)

    # -- backups ------------------------------------------------------------------
    def backup_volume(self, backup_id: str, volume_id: str | None = None,
                      snapshot_id: str | None = None) -> int:
        src = self.snapshot_path(snapshot_id) if snapshot_id else self.volume_path(volume_id or "")
        size = os.path.getsize(src)
        dst = self.backup_path(backup_id)
        count = 0
        with open(src, "rb") as fin, open(dst + ".part", "wb") as fout:
            header = json.dumps({"size": size}).encode()
            fout.write(MAGIC + struct.pack(">I", len(header)) + header)
            for off, data in _chunks(fin, size):
                packed = zlib.compress(data, 6)
                fout.write(struct.pack(">QI", off, len(packed)) + packed)
                count += 1
        os.replace(dst + ".part", dst)
        return count

    def restore_backup(self, backup_id: str, volume_id: str) -> None:
        src = self.backup_path(backup_id)
        dst = self.volume_path(volume_id)
        with open(src, "rb") as fin:
            if fin.read(len(MAGIC)) != MAGIC:
                raise ValueError(f"backup {backup_id} is damaged")
            (hlen,) = struct.unpack(">I", fin.read(4))
            header = json.loads(fin.read(hlen))
            target = max(os.path.getsize(dst) if os.path.exists(dst) else 0, header["size"])
            with open(dst + ".part", "wb") as fout:
                fout.truncate(target)
                while True:
                    head = fin.read(12)
                    if len(head) < 12:
                        break
                    off, n = struct.unpack(">QI", head)
                    fout.seek(off)
                    fout.write(zlib.decompress(fin.read(n)))
        os.replace(dst + ".part", dst)

    def delete_backup(self, backup_id: str) -> None:
        _remove(self.backup_path(backup_id))

    # -- consumers ------------------------------------------------------------------
    def connection_info(self, volume_id: str, connector: dict[str, Any] | None
                        ) -> dict[str, Any]:
        return {"driver_volume_type": self.driver_volume_type,
                "data": {"device_path": self.volume_path(volume_id), "format": "raw",
                         "volume_id": volume_id, "access_mode": "rw"}}

    def disk_usage(self) -> dict[str, int]:
        total, used, free = shutil.disk_usage(self.volumes_dir)
        return {"total": total, "free": free}
