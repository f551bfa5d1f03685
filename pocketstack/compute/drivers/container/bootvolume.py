"""Container instances booted from a volume (``block_device_mapping_v2``, boot_index 0).

As Nova with libvirt runs a volume-backed guest on the volume itself, the instance's root
filesystem *is* its root volume: the volume's file (Block Storage's file back end) is
attached as a loop device, appears in the instance as ``/dev/vda``, and the shim mounts
it (ext4) as the instance's ``/`` in the instance's own mount namespace. What the guest
writes lands in the volume: a volume snapshot, a clone, or another server booted from
the volume later sees it; deleting the server leaves the volume (unless
delete_on_termination).

Block Storage makes a volume from an image by copying the image's bytes into it; a
container image is a rootfs tarball, so a fresh volume holds a tarball (a raw disk holds
a disk image, which a guest's first boot uses as it is). At the first boot from such a
volume the driver turns it into the filesystem form of the same content, in place: the
tarball unpacked into an ext4 file system of the volume's size (``mkfs.ext4 -d``, made
beside the volume's file and renamed over it, so that a failure leaves it as it was). A
volume that holds an ext4 file system already (booted before, or a snapshot/clone of
one) is mounted as it is; rebuilding with re-imaging (2.93), where Block Storage writes
the new image's tarball into the volume, formats it again at the next start.
A volume with neither (blank, a disk image of another kind) is still the instance's
``/dev/vda`` but boots nothing: the instance runs, as a virtual machine does whose
firmware finds no bootable disk, its console says so, and a rescue can write a file
system into it. Other volumes attached at create appear as their block devices
(``/dev/vdb`` ...).

A volume made from a docker image (container_format ``docker``) holds its ``docker
save`` archive (or OCI layout): the first boot applies its layers into the ext4
(:mod:`.dockerimage`) and records the image's Entrypoint/Cmd, Env and WorkingDir as an
extended attribute of the file system's root (``trusted.pocketstack.runtime``, copied
with the volume by snapshots and clones, not a file the guest sees); each boot runs
them as for an image boot, with addresses set from outside (no DHCP client in it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from pocketstack.compute.drivers.base import BuildFailed
from pocketstack.compute.drivers.container import disks, dockerimage

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
ROOT_DEVICE = "/dev/vda"
# what a volume root runs: the shim finds /init or /sbin/init in the mounted volume
RUNTIME: dict[str, Any] = {"init": None, "env": {}, "workdir": "/", "network": None}
_EXT_MAGIC_AT, _EXT_MAGIC = 1080, b"\x53\xef"  # the ext2/3/4 superblock's s_magic
_FORMATTING = threading.Lock()
# a docker image's command, Env and WorkingDir: an extended attribute of the volume's /
RUNTIME_XATTR = "trusted.pocketstack.runtime"


def is_docker_archive(path: str) -> bool:
    """A ``docker save`` archive or an OCI image layout (manifest.json / index.json at its
    top), not a rootfs tarball."""
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.name.lstrip("./") in ("manifest.json", "index.json", "oci-layout"):
                    return True
    except (tarfile.TarError, OSError):
        return False
    return False


def runtime(path: str) -> dict[str, Any]:
    """What a volume's file system runs as PID 1: the docker image's command recorded at
    its formatting (read with debugfs), else the file system's /init or /sbin/init."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "runtime")
        subprocess.run(["debugfs", "-R", f"ea_get -f {out} / {RUNTIME_XATTR}", path],
                       capture_output=True, timeout=60, check=False)
        try:
            with open(out) as f:
                run = json.load(f)
        except (OSError, ValueError):
            return dict(RUNTIME)
    if not isinstance(run, dict) or not isinstance(run.get("init"), list):
        return dict(RUNTIME)
    return {"init": [str(a) for a in run["init"]], "env": dict(run.get("env") or {}),
            "workdir": str(run.get("workdir") or "/"), "network": run.get("network")}


def block_devices(cloud: "Cloud | None", uuid: str) -> list[dict[str, Any]]:
    """The server's volumes as compute recorded them (its block device mappings), with
    the file of each (Block Storage's connection info), the boot volume first."""
    service = getattr(cloud, "service", None)  # (None: the driver alone, in tests)
    compute, volume = (service("compute"), service("volume")) if service else (None, None)
    if compute is None or volume is None:
        return []
    from pocketstack.api.context import RequestContext

    ctx, out = RequestContext.admin(), []
    for row in compute.volumes.attachments(uuid):
        if not row.volume_id:
            continue
        boot = row.boot_index == 0
        try:
            data = volume.connection_info(ctx, row.volume_id).get("data") or {}
        except Exception as exc:  # noqa: BLE001  (a build failure, with the reason)
            if boot:
                raise BuildFailed(f"boot volume {row.volume_id}: {exc}") from None
            LOG.warning("volume %s of %s: %s", row.volume_id, uuid, exc)
            continue
        if not data.get("device_path"):
            if boot:
                raise BuildFailed(f"boot volume {row.volume_id} is not a file volume: the "
                                  "container driver boots from file volumes only")
            continue
        out.append({"volume_id": row.volume_id, "boot": boot, "path": data["device_path"],
                    "device": ROOT_DEVICE if boot else (row.device_name or ""),
                    "ro": data.get("access_mode") == "ro"})
    out.sort(key=lambda d: not d["boot"])
    return out


class NotBootable(BuildFailed):
    """The boot volume holds nothing to boot (blank...): as a virtual machine whose
    firmware finds no bootable disk, the instance runs but boots nothing (the shim)."""


def no_boot_reason(path: str) -> str | None:
    """At each start: why the root volume cannot be the instance's root (None: it can).
    A rescue may have written a file system into it meanwhile."""
    try:
        return None if holds_filesystem(path) else \
            "No bootable device: the boot volume holds no file system."
    except OSError as exc:
        return f"No bootable device: {exc}"


def holds_filesystem(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(_EXT_MAGIC_AT)
        return f.read(2) == _EXT_MAGIC


def prepare_root(path: str, staging: str, volume_id: str) -> bool:
    """Make the boot volume's content a file system the instance runs from (see the
    module's docstring); True when it was formatted now."""
    with _FORMATTING:  # two servers booting from one (multiattach) volume: one formats
        return _prepare_root(path, staging, volume_id)


def _prepare_root(path: str, staging: str, volume_id: str) -> bool:
    if holds_filesystem(path):
        return False
    with open(path, "rb") as f:
        head = f.read(512)
    if not head.strip(b"\0") or not tarfile.is_tarfile(path):  # (zeros: an empty archive)
        raise NotBootable(f"boot volume {volume_id} holds neither an ext4 file system nor a "
                          "rootfs tarball (make it from a container image)")
    from pocketstack.compute.drivers.container.rootfs import RootfsCache

    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging, mode=0o755)
    # made beside the volume's file, then renamed over it: a failure leaves it as it was
    formatted = path + ".formatting"
    try:
        if is_docker_archive(path):  # container_format docker: its layers, its command
            try:
                run = dockerimage.unpack(path, staging, staging + ".archive")
            except dockerimage.DockerImageError as exc:
                raise BuildFailed(f"boot volume {volume_id}: {exc}") from None
            try:  # kept with the file system (copied by snapshots and clones), not in it
                os.setxattr(staging, RUNTIME_XATTR, json.dumps(run).encode())
            except OSError as exc:
                raise BuildFailed(f"boot volume {volume_id}: the image's command cannot be "
                                  f"recorded ({RUNTIME_XATTR}: {exc})") from None
        else:
            RootfsCache.untar(f"in volume {volume_id}", path, staging)  # has an init?
        with open(formatted, "wb") as f:
            f.truncate(os.path.getsize(path))
        os.chmod(formatted, os.stat(path).st_mode & 0o7777)
        try:
            disks.run("mkfs.ext4", "-q", "-F", "-m", "0", "-d", staging, "-E",
                      "lazy_itable_init=1,lazy_journal_init=1", formatted)
        except disks.DiskError as exc:
            raise BuildFailed(f"boot volume {volume_id}: {exc}") from None
        os.replace(formatted, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if os.path.exists(formatted):
            os.unlink(formatted)
    LOG.info("boot volume %s: its rootfs tarball is now an ext4 file system", volume_id)
    return True


def grow(root: dict[str, Any]) -> None:
    """At a start: the root volume grew (Block Storage extended it) while the instance
    could not grow its file system online: grow it now, offline, unless another instance
    has the volume attached too (a multiattach volume: it may be mounted there)."""
    import subprocess

    loops = subprocess.run(["losetup", "-j", root["file"]], capture_output=True, text=True,
                           timeout=30, check=False).stdout.splitlines()
    if len(loops) > 1:
        LOG.warning("root volume %s is attached elsewhere too: its file system is not "
                    "grown", root.get("volume_id"))
        return
    proc = subprocess.run(["e2fsck", "-f", "-p", root["loop"]], capture_output=True,
                          text=True, timeout=600, check=False)
    if proc.returncode > 2:  # 1 and 2: errors corrected
        raise BuildFailed(f"root volume {root.get('volume_id')}: e2fsck: "
                          f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    try:
        disks.run("resize2fs", root["loop"])
    except disks.DiskError as exc:
        raise BuildFailed(f"root volume {root.get('volume_id')}: {exc}") from None
    LOG.info("root volume %s: its file system grown to the volume's size",
             root.get("volume_id"))


def root_of(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The attachment (``devices`` entry) of the instance's root volume, if it has one."""
    name = cfg.get("root_volume")
    return (cfg.get("devices") or {}).get(name) if name else None
