"""The interface a volume back end implements.

Every method is synchronous and idempotent where it can be (deleting what is
already gone succeeds), so that the API layer can retry after a crash.
"""

from __future__ import annotations

import abc
from typing import Any

GiB = 1024 ** 3


class Driver(abc.ABC):
    #: shown as the pool part of ``HOST@backend#pool``
    backend_name = "file"
    #: the connection type given to the consumer by os-initialize_connection
    driver_volume_type = "file"

    @abc.abstractmethod
    def create_volume(self, volume_id: str, size_gb: int) -> None: ...

    @abc.abstractmethod
    def delete_volume(self, volume_id: str) -> None: ...

    @abc.abstractmethod
    def extend_volume(self, volume_id: str, size_gb: int) -> None: ...

    @abc.abstractmethod
    def clone_volume(self, volume_id: str, source_volume_id: str, size_gb: int) -> None: ...

    @abc.abstractmethod
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None: ...

    @abc.abstractmethod
    def delete_snapshot(self, snapshot_id: str) -> None: ...

    @abc.abstractmethod
    def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None: ...

    @abc.abstractmethod
    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None: ...

    @abc.abstractmethod
    def backup_volume(self, backup_id: str, volume_id: str | None = None,
                      snapshot_id: str | None = None) -> int:
        """Store a backup; returns how many data chunks it holds (``object_count``)."""

    @abc.abstractmethod
    def restore_backup(self, backup_id: str, volume_id: str) -> None: ...

    @abc.abstractmethod
    def delete_backup(self, backup_id: str) -> None: ...

    @abc.abstractmethod
    def connection_info(self, volume_id: str, connector: dict[str, Any] | None
                        ) -> dict[str, Any]:
        """What a consumer (compute) needs to use the volume: ``driver_volume_type``, data."""

    @abc.abstractmethod
    def volume_path(self, volume_id: str) -> str: ...
