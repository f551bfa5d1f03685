"""Agents: the dataplane's workers as Neutron lists them (``/v2.0/agents``).

Nothing here invents agents: the container driver's dataplane
(:mod:`pocketstack.dataplane`) reports its DHCP, L3, metadata and port-plumbing
workers with :meth:`Agents.report` when it starts and every
``[agent] report_interval`` seconds after; an agent is ``alive`` while its last
heartbeat is younger than ``[DEFAULT] agent_down_time``. With the fake driver
no dataplane runs, so the list is empty. A heartbeat also records which
networks a DHCP agent serves and which routers an L3 agent hosts
(``/networks/{id}/dhcp-agents``, ``/routers/{id}/l3-agents``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.config import Opt, register
from pocketstack.db import Database, new_uuid, utcnow
from pocketstack.network.common import Query, as_bool, bad_request, check_string
from pocketstack.network.models import Agent, AgentBinding

register(Opt("DEFAULT", "agent_down_time", int, 75,
             "Seconds without a heartbeat after which an agent is reported down."),
         Opt("agent", "report_interval", float, 30.0,
             "Seconds between two heartbeats of the dataplane's agents."))

DHCP, L3, METADATA, L2 = "DHCP agent", "L3 agent", "Metadata agent", "Linux bridge agent"
_FIELDS = ("id", "agent_type", "binary", "topic", "host", "admin_state_up", "alive",
           "availability_zone", "description", "configurations", "created_at", "started_at",
           "heartbeat_timestamp", "resources_synced", "ha_state")


def _time(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def not_found(agent_id: str) -> errors.NotFound:
    return errors.NotFound(f"Agent {agent_id} could not be found.", error_type="AgentNotFound")


class Agents:
    def __init__(self, conf: Any, db: Database) -> None:
        self.conf = conf
        self.db = db

    # -- heartbeats (the dataplane) ----------------------------------------------------
    def report(self, agent_type: str, binary: str, host: str, *, topic: str = "N/A",
               configurations: dict[str, Any] | None = None,
               availability_zone: str | None = None, hosting: list[str] | None = None,
               restarted: bool = False) -> str:
        """Record a heartbeat (registering the agent on its first one); returns its id.

        ``hosting``: the networks (DHCP) or routers (L3) the agent serves now.
        """
        now = utcnow()
        with self.db.write() as s:
            row = s.scalar(select(Agent).where(Agent.agent_type == agent_type,
                                               Agent.host == host))
            if row is None:
                row = Agent(id=new_uuid(), agent_type=agent_type, binary=binary, host=host,
                            topic=topic, admin_state_up=True, created_at=now, started_at=now,
                            availability_zone=availability_zone, description=None)
                s.add(row)
            elif restarted:
                row.started_at = now
            row.binary, row.topic = binary, topic
            row.heartbeat_timestamp = now
            row.configurations = dict(configurations or {})
            row.availability_zone = availability_zone
            s.flush()
            if hosting is not None:
                s.execute(delete(AgentBinding).where(AgentBinding.agent_id == row.id))
                for resource_id in dict.fromkeys(hosting):
                    s.add(AgentBinding(agent_id=row.id, resource_id=resource_id))
            return row.id

    def is_up(self, agent_type: str, host: str) -> bool:
        """Whether the operator left this agent enabled (``admin_state_up``)."""
        with self.db.read() as s:
            row = s.scalar(select(Agent).where(Agent.agent_type == agent_type,
                                               Agent.host == host))
            return row is None or bool(row.admin_state_up)

    # -- API ---------------------------------------------------------------------------
    def view(self, row: Agent) -> dict[str, Any]:
        down = self.conf.get("DEFAULT", "agent_down_time")
        alive = (utcnow() - row.heartbeat_timestamp).total_seconds() <= down
        out = {"id": row.id, "agent_type": row.agent_type, "binary": row.binary,
               "topic": row.topic, "host": row.host,
               "admin_state_up": bool(row.admin_state_up), "alive": alive,
               "description": row.description, "configurations": row.configurations or {},
               "created_at": _time(row.created_at), "started_at": _time(row.started_at),
               "heartbeat_timestamp": _time(row.heartbeat_timestamp),
               "resources_synced": None}
        if row.agent_type in (DHCP, L3):
            out["availability_zone"] = row.availability_zone
        return out

    def list(self, query: Query, hosting: str | None = None) -> list[dict[str, Any]]:
        for key in query.filters:
            if key not in _FIELDS:
                raise bad_request(f"{key} is not a valid filter for agents", "HTTPBadRequest")
        with self.db.read() as s:
            stmt = select(Agent)
            if hosting is not None:
                stmt = stmt.join(AgentBinding, AgentBinding.agent_id == Agent.id).where(
                    AgentBinding.resource_id == hosting)
            items = [self.view(r) for r in s.scalars(stmt)]
        items, _ = query.page([i for i in items if query.keep(i)])
        return [query.select(i) for i in items]

    def _load(self, s: Session, agent_id: str) -> Agent:
        row = s.get(Agent, agent_id)
        if row is None:
            raise not_found(agent_id)
        return row

    def get(self, agent_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return self.view(self._load(s, agent_id))

    def update(self, agent_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("Resource body required: {'agent': {...}}", "HTTPBadRequest")
        for key in body:
            if key not in ("admin_state_up", "description"):
                raise bad_request(f"Cannot update read-only attribute {key}"
                                  if key in _FIELDS else f"Unrecognized attribute(s) '{key}'",
                                  "HTTPBadRequest")
        check_string(body, "description", 1024)
        with self.db.write() as s:
            row = self._load(s, agent_id)
            if "admin_state_up" in body:
                row.admin_state_up = as_bool(body["admin_state_up"], "admin_state_up")
            if "description" in body:
                row.description = body["description"]
            s.flush()
            return self.view(row)

    def delete(self, agent_id: str) -> None:
        """Forget an agent (one still running registers again on its next heartbeat)."""
        with self.db.write() as s:
            row = self._load(s, agent_id)
            s.execute(delete(AgentBinding).where(AgentBinding.agent_id == row.id))
            s.delete(row)

    def hosted(self, agent_id: str) -> tuple[str, list[str]]:
        """The agent's type and the ids of the networks or routers it hosts."""
        with self.db.read() as s:
            row = self._load(s, agent_id)
            return row.agent_type, list(s.scalars(select(AgentBinding.resource_id).where(
                AgentBinding.agent_id == agent_id)))
