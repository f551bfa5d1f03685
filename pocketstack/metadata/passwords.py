"""Instance passwords: posted once by the instance (encrypted with its key), read by the owner.

As Nova: the instance POSTs at most 256 bytes to ``/openstack/<version>/password``; a
second POST is a 409 until an admin or the owner clears it with
``DELETE /v2.1/servers/{id}/os-server-password``; GET returns it (or "").
"""

from __future__ import annotations

from sqlalchemy import delete, select

from pocketstack.db import Database
from pocketstack.metadata.models import InstancePassword

MAX_SIZE = 256


class PasswordExists(Exception):
    pass


class Passwords:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, instance_uuid: str) -> str:
        with self.db.read() as s:
            row = s.scalar(select(InstancePassword.password)
                           .where(InstancePassword.instance_uuid == instance_uuid))
        return row or ""

    def set(self, instance_uuid: str, password: str) -> None:
        with self.db.write() as s:
            row = s.get(InstancePassword, instance_uuid)
            if row is not None and row.password:
                raise PasswordExists(instance_uuid)
            if row is None:
                s.add(InstancePassword(instance_uuid=instance_uuid, password=password))
            else:
                row.password = password

    def clear(self, instance_uuid: str) -> None:
        with self.db.write() as s:
            s.execute(delete(InstancePassword)
                      .where(InstancePassword.instance_uuid == instance_uuid))
