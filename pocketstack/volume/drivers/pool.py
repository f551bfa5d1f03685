"""A copy-on-write pool for the ``file`` back end on file systems that cannot reflink.

ext4 (the usual root file system) has no reflink, so a clone or a snapshot of a full
volume is a real copy. With ``[file] reflink_pool = xfs`` (or ``auto``) the service, at
start, makes a sparse image file ``DATA_DIR/volume-pool.img`` (``reflink_pool_size``
GiB, no space used until written), formats it XFS with ``reflink=1`` once, and
loop-mounts it (``discard``: deleted volumes give their space back to the host) as the
volumes directory. Volumes stay plain raw files, so attaching, backups and uploads are
unchanged; clones and snapshots become ``FICLONE`` reflinks: constant time.

Needs root, ``mount`` and ``mkfs.xfs`` (Debian: xfsprogs). Idempotent: a pool already
mounted there (after a crash) is reused; a clean stop unmounts it unless something
(an attached volume's loop device) still holds it, in which case it stays mounted for
the next start. It never mounts over a directory that already holds volume files.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

LOG = logging.getLogger(__name__)

IMAGE_NAME = "volume-pool.img"
MODES = ("off", "xfs", "auto")


def _mount_source(directory: str) -> str | None:
    """The device mounted on *directory* (from /proc/self/mountinfo), or None."""
    target = os.path.realpath(directory)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and fields[4].replace("\\040", " ") == target:
            sep = fields.index("-")
            found = fields[sep + 2]  # the last mount on a path is the visible one
    return found


def _backing_file(device: str) -> str | None:
    name = os.path.basename(device)
    try:
        with open(f"/sys/block/{name}/loop/backing_file", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def unusable_reason(volumes_dir: str) -> str | None:
    """Why a pool cannot be made here (None when it can)."""
    if os.geteuid() != 0:
        return "it needs root (mount, loop devices)"
    if not shutil.which("mkfs.xfs"):
        return "mkfs.xfs is not installed (Debian/Ubuntu: apt-get install xfsprogs)"
    if not shutil.which("mount"):
        return "mount is not installed (util-linux)"
    try:
        with open("/proc/filesystems", encoding="utf-8") as f:
            if "xfs" not in f.read().split():
                return "the kernel has no XFS support (modprobe xfs)"
    except OSError:
        pass
    return None


def mounted(volumes_dir: str, image: str) -> bool:
    source = _mount_source(volumes_dir)
    return bool(source) and _backing_file(source or "") == os.path.realpath(image)


def ensure(volumes_dir: str, image: str, size_gb: int) -> None:
    """Mount the pool on *volumes_dir*, making it first if needed; raises RuntimeError
    with the reason when it cannot."""
    if mounted(volumes_dir, image):
        return
    reason = unusable_reason(volumes_dir)
    if reason:
        raise RuntimeError(reason)
    if os.path.ismount(volumes_dir):
        raise RuntimeError(f"{volumes_dir} is already a mount point of something else")
    held = [n for n in os.listdir(volumes_dir) if not n.startswith(".probe-")]
    if held:
        raise RuntimeError(f"{volumes_dir} already holds {len(held)} file(s) on the host "
                           "file system; the pool would hide them (move them away first)")
    if not os.path.exists(image):
        with open(image + ".part", "wb") as f:
            f.truncate(size_gb * 1024 ** 3)
        _run(["mkfs.xfs", "-q", "-m", "reflink=1", image + ".part"])
        os.replace(image + ".part", image)
    _run(["mount", "-t", "xfs", "-o", "loop,discard", image, volumes_dir])
    os.chmod(volumes_dir, 0o700)
    LOG.info("volume pool %s (XFS, reflink) mounted on %s", image, volumes_dir)


def release(volumes_dir: str, image: str) -> None:
    """Unmount the pool; left mounted (reused at the next start) while still busy."""
    if not mounted(volumes_dir, image):
        return
    if shutil.which("fstrim"):  # give the space of deleted volumes back to the host now
        subprocess.run(["fstrim", volumes_dir], capture_output=True)
    proc = subprocess.run(["umount", volumes_dir], capture_output=True, text=True)
    if proc.returncode:
        LOG.warning("volume pool left mounted on %s (%s); the next start reuses it",
                    volumes_dir, proc.stderr.strip())


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip() or proc.returncode}")


FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
FIEMAP_EXTENT_LAST = 0x1
FIEMAP_EXTENT_SHARED = 0x2000


def extents(path: str, batch: int = 64) -> list[tuple[int, int, int]]:
    """(logical offset, length, flags) of the file's extents (FIEMAP ioctl); flags has
    ``FIEMAP_EXTENT_SHARED`` where an extent is shared with another file (a reflink)."""
    import fcntl
    import struct

    out: list[tuple[int, int, int]] = []
    start = 0
    with open(path, "rb") as f:
        while True:
            buf = bytearray(struct.pack("=QQIIII", start, 2 ** 64 - 1 - start,
                                        FIEMAP_FLAG_SYNC, 0, batch, 0) + bytes(56 * batch))
            fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf)
            (mapped,) = struct.unpack_from("=I", buf, 20)
            if not mapped:
                return out
            for i in range(mapped):
                logical, _phys, length, _r1, _r2, flags = struct.unpack_from(
                    "=QQQQQI", buf, 32 + 56 * i)
                out.append((logical, length, flags))
            if flags & FIEMAP_EXTENT_LAST:
                return out
            start = logical + length
