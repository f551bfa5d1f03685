"""The dataplane's workers reported to the Network service as Neutron agents.

One dataplane per host does the work of four Neutron agents: DHCP (a dnsmasq per
network namespace), L3 (router namespaces with NAT and floating IPs), metadata (the
proxy in each network namespace) and port plumbing on Linux bridges (veth pairs on
each network's ``br0``). :class:`Heartbeat` reports them when the dataplane starts,
every ``[agent] report_interval`` seconds, and soon after what they host changes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from pocketstack.dataplane import ip

LOG = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, dataplane: Any) -> None:
        self.dp = dataplane
        self.host = socket.gethostname().split(".")[0] or "localhost"
        self.last = 0.0
        self.started = False
        self.dirty = True
        from pocketstack.compute.drivers.container.driver import requirements

        self.missing = requirements()  # agents that cannot work are not reported

    def changed(self) -> None:
        """What the agents host changed: report on the next tick."""
        self.dirty = True

    def tick(self) -> None:
        """Called every second by the dataplane's sync loop."""
        net = self.dp.net
        if net is None or self.missing:
            return
        interval = float(self.dp.cloud.conf.get("agent", "report_interval"))
        if not self.dirty and time.monotonic() - self.last < interval:
            return
        self.dirty = False
        self.last = time.monotonic()
        try:
            self.report(net)
        except Exception as exc:  # the next tick retries
            self.dirty = True
            LOG.warning("agent heartbeat failed: %s", exc)

    def report(self, net: Any) -> None:
        from pocketstack.dataplane.manager import NET_PREFIX

        # what this dataplane made (the host may hold other clouds' namespaces too)
        networks = [n for n in sorted(os.listdir(self.dp.root))
                    if not n.startswith(("router-", "ext-")) and ip.netns_exists(NET_PREFIX + n)]
        routers = sorted(self.dp._routers)  # applied here (re-applied if they vanish)
        restarted = not self.started
        self.started = True
        common = {"restarted": restarted}
        net.agents.report("DHCP agent", "neutron-dhcp-agent", self.host, topic="dhcp_agent",
                          availability_zone="nova", hosting=networks,
                          configurations={"dhcp_driver": "dnsmasq", "networks": len(networks),
                                          "dhcp_lease_duration": self.dp.lease_time},
                          **common)
        net.agents.report("L3 agent", "neutron-l3-agent", self.host, topic="l3_agent",
                          availability_zone="nova", hosting=routers,
                          configurations={"agent_mode": "legacy", "routers": len(routers),
                                          "external_network_bridge": ""}, **common)
        net.agents.report("Metadata agent", "neutron-metadata-agent", self.host,
                          configurations={"nova_metadata_host": self.dp.upstream,
                                          "metadata_proxies": len(networks)}, **common)
        net.agents.report("Linux bridge agent", "neutron-linuxbridge-agent", self.host,
                          configurations={"devices": self._devices(networks),
                                          "interface_mappings": {}, "bridge_mappings": {}},
                          **common)

    @staticmethod
    def _devices(networks: list[str]) -> int:
        from pocketstack.dataplane.manager import network_netns

        count = 0
        for network_id in networks:
            out = ip.ip("-o", "link", "show", "master", "br0", netns=network_netns(network_id),
                        check=False).stdout
            count += sum(1 for line in out.splitlines() if ": tap" in line)
        return count
