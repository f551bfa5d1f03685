"""Placement tables: providers, inventories, consumers, allocations, classes, traits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.db import Base, utcnow


class ResourceClass(Base):
    __tablename__ = "placement_resource_class"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    standard: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Trait(Base):
    __tablename__ = "placement_trait"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    standard: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ResourceProvider(Base):
    __tablename__ = "placement_resource_provider"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    parent_provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("placement_resource_provider.id"), index=True)
    root_provider_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Inventory(Base):
    __tablename__ = "placement_inventory"
    resource_provider_id: Mapped[int] = mapped_column(
        ForeignKey("placement_resource_provider.id", ondelete="CASCADE"), primary_key=True)
    resource_class: Mapped[str] = mapped_column(
        ForeignKey("placement_resource_class.name"), primary_key=True)
    total: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    min_unit: Mapped[int] = mapped_column(Integer, default=1)
    max_unit: Mapped[int] = mapped_column(Integer)
    step_size: Mapped[int] = mapped_column(Integer, default=1)
    allocation_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Consumer(Base):
    __tablename__ = "placement_consumer"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    consumer_type: Mapped[str | None] = mapped_column(String(255))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Allocation(Base):
    __tablename__ = "placement_allocation"
    __table_args__ = (
        UniqueConstraint("consumer_id", "resource_provider_id", "resource_class"),
        Index("ix_placement_allocation_rp_rc", "resource_provider_id", "resource_class"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer_id: Mapped[str] = mapped_column(
        ForeignKey("placement_consumer.uuid"), index=True)
    resource_provider_id: Mapped[int] = mapped_column(
        ForeignKey("placement_resource_provider.id"))
    resource_class: Mapped[str] = mapped_column(ForeignKey("placement_resource_class.name"))
    used: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ProviderTrait(Base):
    __tablename__ = "placement_provider_trait"
    resource_provider_id: Mapped[int] = mapped_column(
        ForeignKey("placement_resource_provider.id", ondelete="CASCADE"), primary_key=True)
    trait: Mapped[str] = mapped_column(ForeignKey("placement_trait.name"), primary_key=True,
                                       index=True)


class ProviderAggregate(Base):
    __tablename__ = "placement_provider_aggregate"
    resource_provider_id: Mapped[int] = mapped_column(
        ForeignKey("placement_resource_provider.id", ondelete="CASCADE"), primary_key=True)
    aggregate: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
