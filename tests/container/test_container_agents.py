"""The dataplane's agents with the container driver: DHCP, L3, metadata and Linux bridge
agents registered by heartbeats, hosting the networks and routers it serves (root only:
the ``ccloud`` fixture skips elsewhere with the reason)."""

from __future__ import annotations

import time
from typing import Any


def _wait(fn: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_agents_of_the_dataplane(ccloud: Any) -> None:
    server = ccloud.boot("ct-agents")
    types = {"DHCP agent": "neutron-dhcp-agent", "L3 agent": "neutron-l3-agent",
             "Metadata agent": "neutron-metadata-agent",
             "Linux bridge agent": "neutron-linuxbridge-agent"}
    agents = _wait(lambda: [a for a in ccloud.cli("network", "agent", "list", "-f", "json")
                            if a["Agent Type"] in types] or None)
    assert sorted(a["Agent Type"] for a in agents) == sorted(types)
    for a in agents:
        assert a["Binary"] == types[a["Agent Type"]] and a["Alive"] is True, a
        assert a["State"] is True
    dhcp = ccloud.cli("network", "agent", "list", "--agent-type", "dhcp", "-f", "json")
    assert [a["Agent Type"] for a in dhcp] == ["DHCP agent"]
    hosting = _wait(lambda: ccloud.cli("network", "agent", "list", "--network", "private",
                                       "-f", "json"))
    assert [a["ID"] for a in hosting] == [dhcp[0]["ID"]]
    l3 = _wait(lambda: ccloud.cli("network", "agent", "list", "--router", "router1",
                                  "-f", "json"))
    assert [a["Agent Type"] for a in l3] == ["L3 agent"]

    shown = ccloud.cli("network", "agent", "show", dhcp[0]["ID"], "-f", "json")
    assert shown["configuration"]["dhcp_driver"] == "dnsmasq"
    ccloud.cli("network", "agent", "set", "--disable", "--description", "drain",
               dhcp[0]["ID"])
    shown = ccloud.cli("network", "agent", "show", dhcp[0]["ID"], "-f", "json")
    assert shown["admin_state_up"] is False and shown["description"] == "drain"
    ccloud.cli("network", "agent", "set", "--enable", dhcp[0]["ID"])

    meta = [a for a in agents if a["Agent Type"] == "Metadata agent"][0]
    ccloud.cli("network", "agent", "delete", meta["ID"])
    ids = [a["ID"] for a in ccloud.cli("network", "agent", "list", "-f", "json")]
    assert meta["ID"] not in ids
    ccloud.cli("server", "delete", "--wait", server["id"])
