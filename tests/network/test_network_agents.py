"""Agents: the registry the dataplane's heartbeats fill (in-process), and the API with
the fake driver (no dataplane, so no agent). The container driver's real agents are
tested in tests/container/test_container_agents.py (root only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from starlette.datastructures import QueryParams

from pocketstack.api import errors
from pocketstack.db import Base, Database
from pocketstack.network.agents import Agents
from pocketstack.network.common import Query
from pocketstack.network.models import Agent, AgentBinding


class Conf:
    def get(self, section: str, name: str) -> Any:
        return {"agent_down_time": 75, "report_interval": 30.0}[name]


@pytest.fixture()
def agents(tmp_path: Any) -> Agents:
    db = Database(f"sqlite:///{tmp_path}/agents.db")
    Base.metadata.create_all(db.writer, tables=[Agent.__table__, AgentBinding.__table__])
    return Agents(Conf(), db)


def q(text: str = "") -> Query:
    return Query(QueryParams(text))


def test_heartbeat_registers_once_and_tracks_hosting(agents: Agents) -> None:
    a = agents.report("DHCP agent", "neutron-dhcp-agent", "h1", topic="dhcp_agent",
                      availability_zone="nova", hosting=["net-1", "net-2"], restarted=True)
    assert agents.report("DHCP agent", "neutron-dhcp-agent", "h1", topic="dhcp_agent",
                         availability_zone="nova", hosting=["net-2"]) == a
    agents.report("L3 agent", "neutron-l3-agent", "h1", hosting=["r1"])
    listed = agents.list(q())
    assert sorted(x["agent_type"] for x in listed) == ["DHCP agent", "L3 agent"]
    dhcp = agents.get(a)
    assert dhcp["alive"] is True and dhcp["admin_state_up"] is True
    assert dhcp["binary"] == "neutron-dhcp-agent" and dhcp["host"] == "h1"
    assert dhcp["availability_zone"] == "nova"
    assert [x["id"] for x in agents.list(q(), hosting="net-2")] == [a]
    assert agents.list(q(), hosting="net-1") == []
    assert [x["agent_type"] for x in agents.list(q("agent_type=L3+agent"))] == ["L3 agent"]
    assert agents.hosted(a) == ("DHCP agent", ["net-2"])


def test_down_after_agent_down_time(agents: Agents) -> None:
    a = agents.report("Metadata agent", "neutron-metadata-agent", "h1")
    with agents.db.write() as s:
        s.get(Agent, a).heartbeat_timestamp -= dt.timedelta(seconds=76)
    assert agents.get(a)["alive"] is False
    assert agents.list(q("alive=false"))[0]["id"] == a
    agents.report("Metadata agent", "neutron-metadata-agent", "h1")
    assert agents.get(a)["alive"] is True


def test_update_and_delete(agents: Agents) -> None:
    a = agents.report("Linux bridge agent", "neutron-linuxbridge-agent", "h1")
    out = agents.update(a, {"admin_state_up": False, "description": "maintenance"})
    assert out["admin_state_up"] is False and out["description"] == "maintenance"
    assert agents.is_up("Linux bridge agent", "h1") is False
    with pytest.raises(errors.BadRequest):
        agents.update(a, {"host": "elsewhere"})
    with pytest.raises(errors.BadRequest):
        agents.list(q("color=blue"))
    agents.delete(a)
    with pytest.raises(errors.NotFound):
        agents.get(a)
    # a running agent comes back with its next heartbeat
    assert agents.report("Linux bridge agent", "neutron-linuxbridge-agent", "h1") != a


def test_fake_driver_has_no_agents(cloud: Any) -> None:
    assert cloud.cli("network", "agent", "list", "-f", "json") == []
    assert cloud.cli("network", "agent", "list", "--agent-type", "dhcp", "-f", "json") == []
    assert cloud.cli("network", "agent", "list", "--network", "private", "-f", "json") == []
    assert cloud.cli("network", "agent", "list", "--router", "router1", "-f", "json") == []
    proc = cloud.cli("network", "agent", "show", "0" * 32, check=False)
    assert proc.returncode != 0 and "could not be found" in proc.stderr
    token = cloud.token("pocketstack-admin")
    r = requests.get(cloud.url(9696, "/v2.0/agents/nope"), headers={"X-Auth-Token": token})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "AgentNotFound"
    r = requests.get(cloud.url(9696, "/v2.0/agents"),
                     headers={"X-Auth-Token": cloud.token("pocketstack")})
    assert r.status_code == 403
    exts = {e["Alias"] for e in cloud.cli("extension", "list", "--network", "-f", "json")}
    assert {"agent", "dhcp_agent_scheduler", "l3_agent_scheduler"} <= exts
