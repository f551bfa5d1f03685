"""Block devices and disk images of container instances.

Volumes and the config drive are files (Block Storage's file driver, the compute
manager's config drive image): each is attached as a loop device (``losetup``) and
appears inside the instance as a block device node named by its mountpoint
(``/dev/vdb``). The attachments are recorded in the instance's ``config.json``
(``devices``) so that the shim recreates the nodes at every start; the loop devices
live as long as the attachment (stop/start keeps them, detach and delete free them).

Snapshots read the instance's filesystem as the instance sees it (its overlay: the
instance's layer over the image's rootfs) from a read-only overlay mounted in a
private mount namespace of a short-lived ``unshare`` process, so nothing stays mounted
on the host even if pocketstack dies mid-way, and stream it as a rootfs tarball.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from typing import Any, Callable

LOG = logging.getLogger(__name__)
CONFIG_DRIVE_DEVICE = "/dev/sr0"
_DEVICE = re.compile(r"^/dev/[a-z][a-z0-9]{1,15}$")


class DiskError(RuntimeError):
    pass


def device_name(mountpoint: str | None, used: set[str]) -> str:
    """The node name for an attachment: the mountpoint compute chose, else the next vdX."""
    if mountpoint and _DEVICE.match(mountpoint) and mountpoint not in used:
        return mountpoint
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"/dev/vd{letter}" not in used:
            return f"/dev/vd{letter}"
    raise DiskError("no free device name")


def loop_attach(path: str, read_only: bool = False) -> str:
    if not os.path.isfile(path):
        raise DiskError(f"{path} is not a file")
    cmd = ["losetup", "--find", "--show"] + (["--read-only"] if read_only else []) + [path]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise DiskError(f"losetup {path}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def loop_backing(loop: str) -> str | None:
    """The file behind a loop device (None when it is not attached)."""
    name = os.path.basename(loop)
    try:
        with open(f"/sys/block/{name}/loop/backing_file") as f:
            return f.read().strip()
    except OSError:
        return None


def loop_detach(loop: str, path: str | None = None) -> None:
    """Free the loop device, if it still backs ``path`` (never someone else's)."""
    backing = loop_backing(loop)
    if backing is None or (path and os.path.realpath(path) != backing.removesuffix(
            " (deleted)")):
        return
    proc = subprocess.run(["losetup", "--detach", loop], capture_output=True, text=True,
                          timeout=30, check=False)
    if proc.returncode != 0:
        LOG.warning("losetup --detach %s: %s", loop, proc.stderr.strip())


def reattach(dev: dict[str, Any]) -> bool:
    """Attach an attachment's file again when its loop device no longer backs it (the
    host rebooted, or Block Storage re-wrote the volume as a new file); True if it did."""
    path = dev.get("file") or ""
    backing = loop_backing(dev["loop"])
    if backing == os.path.realpath(path) or not os.path.isfile(path):
        return False
    loop_detach(dev["loop"], path)  # (only if it backs the file's old, deleted, inode)
    dev["loop"] = loop_attach(path, bool(dev.get("ro")))
    return True


def node_in_instance(init_pid: int | None, name: str, loop: str | None) -> None:
    """Create (loop given) or remove the node ``name`` inside the running instance,
    through /proc/PID/root (its mount namespace's view of its root)."""
    if init_pid is None:
        return
    path = f"/proc/{init_pid}/root/{name.lstrip('/')}"
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    if loop is not None:
        os.mknod(path, 0o660 | 0o060000, os.stat(loop).st_rdev)


def stream_filesystem(layers: list[str], mnt: str, write: Callable[[bytes], Any],
                      disk: tuple[str, str] | None = None) -> None:
    """Tar the union of ``layers`` (top first) through ``write``; ``disk``: (loop
    device, mountpoint) of a root disk holding the top layer, mounted first (no layers:
    the disk's own file system, mounted at ``mnt``: the instance may have it mounted)."""
    os.makedirs(mnt, exist_ok=True)
    script = ('{ [ -z "$3" ] || mount -t ext4 "$3" "$4"; } && '
              '{ [ -z "$2" ] || mount -t overlay overlay -o "lowerdir=$2" "$1"; } && '
              'exec tar --numeric-owner --xattrs -cf - -C "$1" .')
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             script, "sh", mnt, ":".join(layers), *(disk or ("", ""))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            write(chunk)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait(timeout=600) != 0:
            raise DiskError(f"snapshot failed: {err.strip()[-400:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            os.rmdir(mnt)
        except OSError:
            pass


def config_drive_path(instance: dict[str, Any]) -> str | None:
    """The config drive image the compute manager built for this instance, if any."""
    for key in ("config_drive_path", "config_drive"):
        value = instance.get(key)
        if isinstance(value, str) and value.startswith("/") and os.path.isfile(value):
            return value
    return None


# -- the root disk: the instance's layer on a filesystem of the flavor's size ----------
# ``disk.img`` (sparse ext4 of root_gb GiB, made with ``upper/`` and ``work/`` in it) is
# attached as a loop device while the instance exists; the shim mounts it at ``disk/``
# inside the instance's own mount namespace only, and ``upper``/``work`` (the overlay's
# writable layer) are links into it, so writing more than the flavor's disk inside the
# instance gets ENOSPC. Nothing is mounted on the host: a host mount would be copied,
# and pinned, by every mount namespace made later (``ip netns exec`` daemons...).
# root_gb 0: no limit (the layer lives in the instance directory, as before).
ROOT_IMAGE, ROOT_MOUNT = "disk.img", "disk"
GIB = 1 << 30


def run(*cmd: str) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=600,
                          check=False)
    if proc.returncode != 0:
        raise DiskError(f"{' '.join(cmd[:2])}: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return proc.stdout


def root_loop(inst: str) -> str | None:
    """The loop device attached to the instance's root disk image, if any."""
    image = os.path.realpath(os.path.join(inst, ROOT_IMAGE))
    out = subprocess.run(["losetup", "-j", image], capture_output=True, text=True,
                         timeout=30, check=False).stdout
    for line in out.splitlines():
        loop = line.split(":", 1)[0].strip()
        if loop_backing(loop) == image:
            return loop
    return None


def ensure_root_disk(inst: str, size_gb: int | None) -> str | None:
    """At each start (the instance stopped): create the root disk (first time), grow it
    to a bigger flavor's size (a disk never shrinks), attach it; returns its loop device
    (None: no limit)."""
    image = os.path.join(inst, ROOT_IMAGE)
    size = max(0, int(size_gb or 0)) * GIB
    if not os.path.exists(image):
        if not size:
            return None
        staging = os.path.join(inst, "disk-staging")
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(os.path.join(staging, "work"))
        if os.path.isdir(os.path.join(inst, "upper")):  # a layer from a flavor with disk 0
            os.rename(os.path.join(inst, "upper"), os.path.join(staging, "upper"))
        os.makedirs(os.path.join(staging, "upper"), exist_ok=True)
        with open(image, "wb") as f:
            f.truncate(size)
        run("mkfs.ext4", "-q", "-F", "-m", "0", "-d", staging, "-E",
             "lazy_itable_init=1,lazy_journal_init=1", image)
        shutil.rmtree(staging, ignore_errors=True)
        _write_size(inst, size)
    loop = root_loop(inst)
    if size > _read_size(inst, image):  # resized to a bigger flavor: grow, offline
        with open(image, "r+b") as f:
            f.truncate(size)
        target = loop or image
        if loop:
            run("losetup", "--set-capacity", loop)
        proc = subprocess.run(["e2fsck", "-f", "-p", target], capture_output=True,
                              text=True, timeout=600, check=False)
        if proc.returncode > 2:  # 1 and 2: errors corrected
            raise DiskError(f"e2fsck {image}: {(proc.stderr or proc.stdout).strip()[-300:]}")
        run("resize2fs", target)
        _write_size(inst, size)
    if loop is None:
        loop = loop_attach(image)
    os.makedirs(os.path.join(inst, ROOT_MOUNT), exist_ok=True)
    for layer in ("upper", "work"):
        link = os.path.join(inst, layer)
        if os.path.isdir(link) and not os.path.islink(link):
            shutil.rmtree(link)
        if not os.path.islink(link):
            os.symlink(os.path.join(ROOT_MOUNT, layer), link)
    return loop


def _read_size(inst: str, image: str) -> int:
    try:
        with open(os.path.join(inst, ROOT_IMAGE + ".size")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return os.path.getsize(image)


def _write_size(inst: str, size: int) -> None:
    with open(os.path.join(inst, ROOT_IMAGE + ".size"), "w") as f:
        f.write(str(size))


def release_root_disk(inst: str) -> None:
    """Free the root disk's loop device (the instance is stopped)."""
    loop = root_loop(inst)
    if loop:
        loop_detach(loop, os.path.join(inst, ROOT_IMAGE))


def wipe_root_disk(inst: str) -> None:
    """Rebuild: the instance's layer is dropped (a new root filesystem), volumes stay."""
    release_root_disk(inst)
    for name in ("upper", "work", "rescue-upper", "rescue-work", ROOT_MOUNT, ROOT_IMAGE,
                 ROOT_IMAGE + ".size"):
        path = os.path.join(inst, name)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
