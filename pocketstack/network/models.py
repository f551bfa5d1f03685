"""Networking tables (Neutron's logical model, in pocketstack's own schema).

Every resource row carries Neutron's standard attributes as columns (project,
name, description, revision number, timestamps, tags) and keeps its
resource-specific attributes in ``attrs`` (JSON); what other rows point at or
what must stay unique (network of a subnet or port, allocated addresses, MAC
addresses) are real columns with constraints.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.db import Base, JSONText, utcnow


class Standard:
    """Neutron's standard attributes."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    tags: Mapped[list[str]] = mapped_column(JSONText, default=list)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)


class Network(Standard, Base):
    __tablename__ = "network_network"


class SubnetPool(Standard, Base):
    __tablename__ = "network_subnetpool"


class Subnet(Standard, Base):
    __tablename__ = "network_subnet"
    network_id: Mapped[str] = mapped_column(ForeignKey("network_network.id"), index=True)
    cidr: Mapped[str] = mapped_column(String(64))
    ip_version: Mapped[int] = mapped_column(Integer)
    subnetpool_id: Mapped[str | None] = mapped_column(String(36), index=True)


class Port(Standard, Base):
    __tablename__ = "network_port"
    __table_args__ = (UniqueConstraint("network_id", "mac_address"),)
    network_id: Mapped[str] = mapped_column(ForeignKey("network_network.id"), index=True)
    mac_address: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")


class IPAllocation(Base):
    """One fixed IP of a port; the primary key makes an address impossible to share."""

    __tablename__ = "network_ipallocation"
    subnet_id: Mapped[str] = mapped_column(ForeignKey("network_subnet.id"), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("network_port.id", ondelete="CASCADE"),
                                         index=True)
    network_id: Mapped[str] = mapped_column(String(36), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Router(Standard, Base):
    __tablename__ = "network_router"


class FloatingIP(Standard, Base):
    __tablename__ = "network_floatingip"
    floating_network_id: Mapped[str] = mapped_column(String(36), index=True)
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    port_id: Mapped[str | None] = mapped_column(String(36), index=True)


class SecurityGroup(Standard, Base):
    __tablename__ = "network_securitygroup"


class SecurityGroupRule(Standard, Base):
    __tablename__ = "network_securitygrouprule"
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_securitygroup.id", ondelete="CASCADE"), index=True)


class RBACPolicy(Standard, Base):
    __tablename__ = "network_rbacpolicy"
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_tenant: Mapped[str] = mapped_column(String(255))


class Quota(Base):
    __tablename__ = "network_quota"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)


class DefaultSecurityGroup(Base):
    """The project's ``default`` group (one per project, created on first use)."""

    __tablename__ = "network_default_securitygroup"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_securitygroup.id", ondelete="CASCADE"))


class Agent(Base):
    """A dataplane agent (DHCP, L3, metadata, port plumbing) as its heartbeats report it."""

    __tablename__ = "network_agent"
    __table_args__ = (UniqueConstraint("agent_type", "host"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    configurations: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_timestamp: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AgentBinding(Base):
    """A network a DHCP agent serves or a router an L3 agent hosts."""

    __tablename__ = "network_agent_binding"
    agent_id: Mapped[str] = mapped_column(ForeignKey("network_agent.id", ondelete="CASCADE"),
                                          primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
