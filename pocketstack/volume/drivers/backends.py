"""Several back ends, as Cinder's ``[DEFAULT] enabled_backends``.

Without ``enabled_backends`` there is one back end, ``HOST@file#file``, configured by the
``[file]`` section (as before). With ``enabled_backends = lvm1,lvm2`` each name is a
section of its own::

    [lvm1]
    volume_backend_name = fast        # default: the section name
    volumes_dir = /srv/fast           # default: DATA_DIR/volumes-lvm1
    reflink_pool = off                # and reflink_pool_size, as in [file]

Each back end has its own :class:`FileDriver`, its ``cinder-volume`` service
``HOST@lvm1`` and its pool ``HOST@lvm1#fast`` (the pool is named after
``volume_backend_name``, as Cinder's drivers without pools do). Backups stay in the one
``DATA_DIR/backups`` (cinder-backup is one service).

:class:`Backends` has the driver interface and routes every call to the driver of the
back end that holds the volume (by the volume row's ``host``), so that the managers call
``driver.extend_volume(...)`` etc. as they did with one driver. :meth:`Backends.place`
is the scheduler: a volume type's ``volume_backend_name`` extra spec picks the back ends;
a clone or a volume from a snapshot stays on its source's back end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pocketstack.api import errors
from pocketstack.config import Opt, register
from pocketstack.volume.drivers import pool
from pocketstack.volume.drivers.file import FileDriver

register(
    Opt("DEFAULT", "enabled_backends", list, [],
        "Names of the back-end sections (Cinder's option). Each section has "
        "volume_backend_name (default: its name), volumes_dir (default: "
        "DATA_DIR/volumes-NAME), reflink_pool and reflink_pool_size. Empty: one back end "
        "HOST@file#file configured by [file]."),
)


class NoValidBackend(Exception):
    """No enabled back end fits the request (Cinder's NoValidBackend)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"No valid backend was found. {reason}")


@dataclass
class Backend:
    name: str  # the section name: HOST@name
    backend_name: str  # volume_backend_name, also the pool name
    host: str  # HOST@name (the cinder-volume service)
    driver: FileDriver

    @property
    def location(self) -> str:  # HOST@name#pool, a volume's os-vol-host-attr:host
        return f"{self.host}#{self.backend_name}"


def _raw(conf: Any, section: str, name: str, default: Any) -> Any:
    """An option of a back-end section (sections named by the operator are not
    registered: their values are kept as the file's strings)."""
    return conf.values.get((section, name), default)


def _name_of(host: str | None) -> str:
    """The back end's name in ``HOST@name#pool``."""
    return (host or "").partition("@")[2].partition("#")[0]


class Backends:
    """The enabled back ends, behind the one-driver interface."""

    def __init__(self, backends: list[Backend], db: Any, legacy: bool) -> None:
        self.backends = backends
        self.by_name = {b.name: b for b in backends}
        self.default = backends[0]
        self.db = db
        #: no enabled_backends: one back end; types' volume_backend_name is not checked
        self.legacy = legacy

    @classmethod
    def from_conf(cls, conf: Any, data_dir: str, host: str, db: Any) -> "Backends":
        names = list(conf.get("DEFAULT", "enabled_backends") or [])
        if not names:
            return cls([Backend("file", "file", f"{host}@file",
                                FileDriver.from_conf(conf, data_dir))], db, legacy=True)
        out = []
        for name in names:
            if name in {b.name for b in out} or "@" in name or "#" in name:
                raise ValueError(f"[DEFAULT] enabled_backends: bad or repeated name {name!r}")
            mode = str(_raw(conf, name, "reflink_pool", "off")).strip().lower()
            try:
                size = int(_raw(conf, name, "reflink_pool_size", 100))
            except ValueError:
                raise ValueError(f"[{name}] reflink_pool_size: not an integer") from None
            driver = FileDriver(
                data_dir,
                str(_raw(conf, name, "volumes_dir", "")) or
                os.path.join(data_dir, f"volumes-{name}"),
                mode, size, pool_image=os.path.join(
                    data_dir, pool.IMAGE_NAME.replace(".img", f"-{name}.img")))
            label = str(_raw(conf, name, "volume_backend_name", "")).strip() or name
            out.append(Backend(name, label, f"{host}@{name}", driver))
        return cls(out, db, legacy=False)

    # -- scheduling ---------------------------------------------------------------------
    def place(self, extra_specs: dict[str, Any] | None, source_host: str | None = None
              ) -> str:
        """The ``HOST@name#pool`` of a new volume; raises NoValidBackend."""
        if self.legacy:
            return self.default.location
        want = (extra_specs or {}).get("volume_backend_name")
        fits = [b for b in self.backends if want is None or b.backend_name == str(want)]
        if source_host is not None:  # clones and volumes from snapshots stay there
            fits = [b for b in fits if b.name == _name_of(source_host)]
        if not fits:
            raise NoValidBackend("No weighed backends available")
        return fits[0].location

    def for_host(self, host: str | None) -> Backend:
        if len(self.backends) == 1:
            return self.default
        b = self.by_name.get(_name_of(host))
        if b is None:
            raise RuntimeError(f"back end of {host!r} is not enabled")
        return b

    def find(self, host: Any) -> Backend | None:
        """The back end named by ``HOST@name`` or ``HOST@name#pool`` (manage requests)."""
        for b in self.backends:
            if host in (b.host, b.location):
                return b
        return None

    # -- routing ---------------------------------------------------------------------------
    def _vol(self, volume_id: str) -> FileDriver:
        if len(self.backends) == 1:
            return self.default.driver
        from pocketstack.volume.models import Volume
        with self.db.read() as s:
            v = s.get(Volume, volume_id)
            host = v.host if v is not None else None
        if host is None:  # never placed (scheduling failed): nothing on any back end
            raise errors.BadRequest(f"Invalid volume: Volume {volume_id} is on no back end.")
        return self.for_host(host).driver

    def _snap(self, snapshot_id: str) -> FileDriver | None:
        if len(self.backends) == 1:
            return self.default.driver
        from pocketstack.volume.models import Snapshot, Volume
        with self.db.read() as s:
            snap = s.get(Snapshot, snapshot_id)
            v = s.get(Volume, snap.volume_id) if snap is not None else None
            host = v.host if v is not None else None
        return self.for_host(host).driver if host else None

    def create_volume(self, volume_id: str, size_gb: int) -> None:
        self._vol(volume_id).create_volume(volume_id, size_gb)

    def delete_volume(self, volume_id: str) -> None:
        try:
            drivers = [self._vol(volume_id)]
        except (RuntimeError, errors.ApiError):  # not placed, or gone: delete everywhere
            drivers = [b.driver for b in self.backends]
        for d in drivers:
            d.delete_volume(volume_id)

    def extend_volume(self, volume_id: str, size_gb: int) -> None:
        self._vol(volume_id).extend_volume(volume_id, size_gb)

    def clone_volume(self, volume_id: str, source_volume_id: str, size_gb: int) -> None:
        self._vol(volume_id).clone_volume(volume_id, source_volume_id, size_gb)

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self._vol(volume_id).create_snapshot(snapshot_id, volume_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        d = self._snap(snapshot_id)
        for each in [d] if d else [b.driver for b in self.backends]:
            each.delete_snapshot(snapshot_id)

    def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        self._vol(volume_id).create_from_snapshot(volume_id, snapshot_id, size_gb)

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._vol(volume_id).revert_to_snapshot(volume_id, snapshot_id)

    def backup_volume(self, backup_id: str, volume_id: str | None = None,
                      snapshot_id: str | None = None) -> int:
        d = self._snap(snapshot_id) if snapshot_id else self._vol(volume_id or "")
        if d is None:
            raise RuntimeError(f"snapshot {snapshot_id} has no back end")
        return d.backup_volume(backup_id, volume_id=volume_id, snapshot_id=snapshot_id)

    def restore_backup(self, backup_id: str, volume_id: str) -> None:
        self._vol(volume_id).restore_backup(backup_id, volume_id)

    def delete_backup(self, backup_id: str) -> None:
        self.default.driver.delete_backup(backup_id)  # one backups directory

    def backup_path(self, backup_id: str) -> str:
        return self.default.driver.backup_path(backup_id)

    def connection_info(self, volume_id: str, connector: dict[str, Any] | None
                        ) -> dict[str, Any]:
        return self._vol(volume_id).connection_info(volume_id, connector)

    def volume_path(self, volume_id: str) -> str:
        return self._vol(volume_id).volume_path(volume_id)

    def copy_on_write(self, volume_id: str | None = None) -> bool:
        if volume_id is not None:
            return self._vol(volume_id).copy_on_write()
        return all(b.driver.copy_on_write() for b in self.backends)

    def start(self) -> None:
        for b in self.backends:
            b.driver.start()

    def stop(self) -> None:
        for b in self.backends:
            b.driver.stop()
