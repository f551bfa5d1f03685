"""Metadef tables: namespaces and what they hold (objects, properties, tags), resource
types and their associations with namespaces. Children go with their namespace."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.db import Base, JSONText, utcnow

_CASCADE = {"ondelete": "CASCADE"}


class _Stamped:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class MetadefNamespace(_Stamped, Base):
    __tablename__ = "image_metadef_namespace"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32), default="private")
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)


class _Child(_Stamped):
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))


class MetadefObject(_Child, Base):
    __tablename__ = "image_metadef_object"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    namespace_id: Mapped[str] = mapped_column(
        ForeignKey("image_metadef_namespace.id", **_CASCADE), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[Any] = mapped_column(JSONText, default=list)
    properties: Mapped[Any] = mapped_column(JSONText, default=dict)


class MetadefProperty(_Child, Base):
    __tablename__ = "image_metadef_property"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    namespace_id: Mapped[str] = mapped_column(
        ForeignKey("image_metadef_namespace.id", **_CASCADE), index=True)
    schema: Mapped[Any] = mapped_column(JSONText, default=dict)  # title, type, enum...


class MetadefTag(_Child, Base):
    __tablename__ = "image_metadef_tag"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    namespace_id: Mapped[str] = mapped_column(
        ForeignKey("image_metadef_namespace.id", **_CASCADE), index=True)


class MetadefResourceType(_Stamped, Base):
    __tablename__ = "image_metadef_resource_type"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)


class MetadefAssociation(_Stamped, Base):
    __tablename__ = "image_metadef_association"
    namespace_id: Mapped[str] = mapped_column(
        ForeignKey("image_metadef_namespace.id", **_CASCADE), primary_key=True)
    resource_type: Mapped[str] = mapped_column(
        ForeignKey("image_metadef_resource_type.name", **_CASCADE), primary_key=True)
    prefix: Mapped[str | None] = mapped_column(String(80))
    properties_target: Mapped[str | None] = mapped_column(String(80))
