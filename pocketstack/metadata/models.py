"""Metadata tables: the password an instance posts once (Nova keeps it in system metadata)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.db import Base, utcnow


class InstancePassword(Base):
    __tablename__ = "metadata_instance_password"
    instance_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    password: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
