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


def stream_filesystem(layers: list[str], mnt: str, write: Callable[[bytes], Any]) -> None:
    """Tar the union of ``layers`` (top first) through ``write``."""
    os.makedirs(mnt, exist_ok=True)
    script = ('mount -t overlay overlay -o "lowerdir=$2" "$1" && '
              'exec tar --numeric-owner --xattrs -cf - -C "$1" .')
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             script, "sh", mnt, ":".join(layers)],
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
