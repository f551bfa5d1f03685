"""Volume back ends: where the bytes of volumes, snapshots and backups live."""

from pocketstack.volume.drivers.base import Driver
from pocketstack.volume.drivers.file import FileDriver
from pocketstack.volume.drivers.backends import Backends, NoValidBackend

__all__ = ["Backends", "Driver", "FileDriver", "NoValidBackend"]
