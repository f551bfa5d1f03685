"""The container driver's volumes and config drive: each a file attached as a loop
device that appears in the instance as a block device (:mod:`.disks`); a volume-backed
instance's root volume is one too (:mod:`.bootvolume`). A mixin of
:class:`~pocketstack.compute.drivers.container.driver.ContainerDriver`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
from typing import Any

from pocketstack.compute.drivers.base import BuildFailed
from pocketstack.compute.drivers.container import bootvolume, disks

LOG = logging.getLogger(__name__)
_EXT4_IOC_RESIZE_FS = 0x40086610  # _IOW('f', 16, __u64): grow a mounted ext4 (resize2fs's)


class Attachments:
    """Needs the driver's ``_inst``, ``_config``, ``_write_config`` and ``_read_pid``."""

    _inst: Any
    _config: Any
    _write_config: Any
    _read_pid: Any

    def _attach_volumes(self, uuid: str, volumes: list[dict[str, Any]]) -> None:
        """At spawn: the server's volumes that are not attached to the instance yet (those
        of its create request; the boot volume made a file system first, .bootvolume)."""
        devices = self._config(uuid).get("devices") or {}
        have = {d.get("volume_id") for d in devices.values()}  # (a start re-attaches them)
        for vol in volumes:
            if vol["volume_id"] in have:
                continue
            if vol["boot"]:
                try:
                    bootvolume.prepare_root(vol["path"], os.path.join(self._inst(uuid),
                                                                      "volume-staging"),
                                            vol["volume_id"])
                except bootvolume.NotBootable as exc:  # attached all the same (.bootvolume)
                    LOG.info("instance %s: %s", uuid, exc)
                name = bootvolume.ROOT_DEVICE
            else:
                name = disks.device_name(vol["device"], set(devices))
            try:
                self._attach(uuid, vol["path"], name, vol["ro"], vol["volume_id"])
            except disks.DiskError as exc:
                if vol["boot"]:
                    raise BuildFailed(f"boot volume {vol['volume_id']}: {exc}") from None
                LOG.warning("volume %s of %s not attached: %s", vol["volume_id"], uuid, exc)
            devices = self._config(uuid).get("devices") or {}

    def _root_runtime(self, uuid: str, path: str, cfg: dict[str, Any]) -> None:
        """What the root volume's file system runs (:func:`.bootvolume.runtime`), into the
        instance's config (and ``cfg``, spawn's copy)."""
        run = bootvolume.runtime(path)
        cfg.update(run)
        self._write_config(uuid, {**self._config(uuid), **run})

    def _attach(self, uuid: str, path: str, name: str, read_only: bool = False,
                volume_id: str | None = None) -> str:
        loop = disks.loop_attach(path, read_only)
        cfg = self._config(uuid)
        cfg.setdefault("devices", {})[name] = {"loop": loop, "file": path,
                                               "volume_id": volume_id, "ro": read_only}
        self._write_config(uuid, cfg)
        disks.node_in_instance(self._read_pid(uuid, "init.pid"), name, loop)
        LOG.info("%s attached to %s as %s (%s)", path, uuid, name, loop)
        return loop

    def attach_volume(self, host: str, instance: dict[str, Any],
                      connection_info: dict[str, Any], mountpoint: str) -> None:
        uuid = instance["uuid"]
        data = connection_info.get("data") or {}
        path = data.get("device_path")
        if not path:
            raise NotImplementedError("the container driver attaches file volumes only "
                                      f"(got {connection_info.get('driver_volume_type')})")
        cfg = self._config(uuid)
        if not cfg:
            raise BuildFailed(f"instance {uuid} is not on this host")
        devices = cfg.get("devices") or {}
        name = disks.device_name(mountpoint, set(devices))
        self._attach(uuid, path, name, read_only=data.get("access_mode") == "ro",
                     volume_id=data.get("volume_id"))

    def detach_volume(self, host: str, instance: dict[str, Any],
                      connection_info: dict[str, Any], mountpoint: str) -> None:
        uuid = instance["uuid"]
        data = connection_info.get("data") or {}
        cfg = self._config(uuid)
        devices = cfg.get("devices") or {}
        name = next((n for n, d in devices.items()
                     if (data.get("volume_id") and d.get("volume_id") == data["volume_id"])
                     or n == mountpoint), None)
        if name is None:
            return
        dev = devices.pop(name)
        self._write_config(uuid, cfg)
        disks.node_in_instance(self._read_pid(uuid, "init.pid"), name, None)
        disks.loop_detach(dev["loop"], dev.get("file"))

    def extend_volume(self, host: str, instance: dict[str, Any],
                      connection_info: dict[str, Any], requested_size: int) -> None:
        """Block Storage grew an attached volume (its file): the loop device takes the new
        size (``losetup --set-capacity``), so the instance's block device shows it, as a
        virtual disk grows under a guest. The root volume's ext4 file system, which the
        driver made and mounts as the instance's /, grows with it: online while the
        instance runs (resize2fs's EXT4_IOC_RESIZE_FS on the mount, reached through the
        init's /proc/PID/root: the mount lives in the instance's namespace only), else
        offline at its next start (:func:`.bootvolume.grow`): the instance is stopped, or
        the host may not resize online (no CAP_SYS_RESOURCE, as in some containers). A
        data volume's file system is the guest's to grow."""
        uuid = instance["uuid"]
        volume_id = (connection_info.get("data") or {}).get("volume_id")
        cfg = self._config(uuid)
        name, dev = next(((n, d) for n, d in (cfg.get("devices") or {}).items()
                          if volume_id and d.get("volume_id") == volume_id), (None, None))
        if dev is None:
            raise NotImplementedError(f"volume {volume_id} is not attached to {uuid} here")
        disks.run("losetup", "--set-capacity", dev["loop"])
        if name != cfg.get("root_volume") or dev.get("ro") or \
                not bootvolume.holds_filesystem(dev["file"]):
            LOG.info("volume %s of %s: %s now %d bytes", volume_id, uuid, name,
                     os.path.getsize(dev["file"]))
            return
        pid = self._read_pid(uuid, "init.pid")
        try:
            if pid is None:
                raise PermissionError("the instance is stopped")
            rescue = cfg.get("rescue")
            at = rescue.get("disk_at", "/mnt/rescue") if rescue else "/"
            grow_online(os.path.join(f"/proc/{pid}/root", at.lstrip("/")),
                        os.path.getsize(dev["file"]))
            LOG.info("root volume %s of %s grown online to %d bytes", volume_id, uuid,
                     os.path.getsize(dev["file"]))
        except (PermissionError, disks.DiskError) as exc:
            # stopped, no CAP_SYS_RESOURCE, or the kernel refused the online resize: the
            # file system grows offline at the next start (nothing is lost meanwhile)
            cfg["devices"][name]["grow"] = True
            self._write_config(uuid, cfg)
            (LOG.info if isinstance(exc, PermissionError) else LOG.warning)(
                "root volume %s of %s: its file system grows at the next start (%s)",
                volume_id, uuid, exc)


def grow_online(mountpoint: str, size: int) -> None:
    """Grow the ext4 file system mounted at ``mountpoint`` to ``size`` bytes."""
    fd = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    try:
        blocks = size // os.fstatvfs(fd).f_frsize
        fcntl.ioctl(fd, _EXT4_IOC_RESIZE_FS, struct.pack("=Q", blocks))
    except PermissionError:
        raise
    except OSError as exc:
        raise disks.DiskError(f"growing the file system at {mountpoint}: {exc}") from None
    finally:
        os.close(fd)

