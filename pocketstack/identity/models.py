"""Identity tables (Keystone's data model, in pocketstack's own schema)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.db import Base, JSONText, utcnow


class Domain(Base):
    __tablename__ = "identity_domain"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Project(Base):
    __tablename__ = "identity_project"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("identity_project.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ProjectTag(Base):
    __tablename__ = "identity_project_tag"
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


class User(Base):
    __tablename__ = "identity_user"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_created_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    password_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    options: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    failed_auth_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_auth_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_active_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Group(Base):
    __tablename__ = "identity_group"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"))
    description: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)


class GroupMembership(Base):
    __tablename__ = "identity_group_membership"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_group.id", ondelete="CASCADE"), primary_key=True, index=True)


class Role(Base):
    __tablename__ = "identity_role"
    # domain_id is "" for global roles so that the unique constraint holds on every backend
    __table_args__ = (UniqueConstraint("name", "domain_id"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)


class ImpliedRole(Base):
    __tablename__ = "identity_implied_role"
    prior_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True)
    implied_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True)


class Assignment(Base):
    """A role granted to a user or group on a project, a domain or the system.

    ``type`` is one of UserProject, GroupProject, UserDomain, GroupDomain,
    UserSystem, GroupSystem (Keystone's names); ``target_id`` is "system" for
    system assignments.
    """

    __tablename__ = "identity_assignment"
    __table_args__ = (Index("ix_identity_assignment_target", "target_id"),)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True)
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class Region(Base):
    __tablename__ = "identity_region"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    parent_region_id: Mapped[str | None] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)


class CatalogService(Base):
    __tablename__ = "identity_service"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)


class Endpoint(Base):
    __tablename__ = "identity_endpoint"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("identity_service.id"), index=True)
    interface: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    region_id: Mapped[str | None] = mapped_column(ForeignKey("identity_region.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)


class ApplicationCredential(Base):
    __tablename__ = "identity_application_credential"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(16))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    unrestricted: Mapped[bool] = mapped_column(Boolean, default=False)
    access_rules: Mapped[list[Any] | None] = mapped_column(JSONText)


class ApplicationCredentialRole(Base):
    __tablename__ = "identity_application_credential_role"
    application_credential_id: Mapped[str] = mapped_column(
        ForeignKey("identity_application_credential.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True)


class Credential(Base):
    __tablename__ = "identity_credential"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(255))
    # The blob is encrypted with the credential key (Fernet), as Keystone stores it.
    encrypted_blob: Mapped[bytes] = mapped_column(LargeBinary)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)


class RevocationEvent(Base):
    """Tokens matching every non-null field and issued before ``issued_before`` are revoked."""

    __tablename__ = "identity_revocation_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    domain_id: Mapped[str | None] = mapped_column(String(64))
    audit_id: Mapped[str | None] = mapped_column(String(32))
    audit_chain_id: Mapped[str | None] = mapped_column(String(32))
    application_credential_id: Mapped[str | None] = mapped_column(String(64))
    issued_before: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
