"""Object storage tables: accounts, containers and the object index.

Object bytes live in files under ``DATA_DIR/objects``; these tables are the
index that listings, counts and metadata come from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.db import Base, JSONText, utcnow


class Account(Base):
    __tablename__ = "object_account"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    sysmeta: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Container(Base):
    __tablename__ = "object_container"
    __table_args__ = (UniqueConstraint("account", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(256))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    # ACLs, quotas, versioning, temp-url keys: headers that are not user metadata
    sysmeta: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    object_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_used: Mapped[int] = mapped_column(BigInteger, default=0)
    timestamp: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Object(Base):
    __tablename__ = "object_object"
    __table_args__ = (UniqueConstraint("container_id", "name"),
                      Index("ix_object_object_delete_at", "delete_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    container_id: Mapped[int] = mapped_column(
        ForeignKey("object_container.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(256))
    last_modified: Mapped[dt.datetime] = mapped_column(default=utcnow)
    timestamp: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(1024))  # data file, relative to the objects dir
    # user metadata (X-Object-Meta-*) and the other stored headers
    # (Content-Disposition, Content-Encoding, X-Object-Manifest, ...)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    slo: Mapped[bool] = mapped_column(default=False)
    delete_at: Mapped[float | None] = mapped_column(Float, nullable=True)
