"""Addresses set from outside for instances whose image runs no DHCP client.

A docker image's command is the workload (no init asking DHCP for an address), so, as
Nova's docker driver did, the driver gives each plugged interface its port's fixed IPv4
addresses and the first subnet's gateway as the default route, from the host, in the
instance's network namespace. The namespace outlives stop/start, so this is done at
spawn (and rebuild) only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
from typing import Any, Callable

LOG = logging.getLogger(__name__)


def _ip(netns: str, *args: str) -> str:
    proc = subprocess.run(["ip", "-n", netns, *args], capture_output=True, text=True,
                          timeout=30, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def configure(netns: str, ports: list[dict[str, Any]],
              subnet_info: Callable[[str], dict[str, Any]]) -> list[str]:
    """Set the ports' IPv4 addresses on their interfaces (found by MAC) and a default
    route; returns the addresses set (``10.0.0.5/26 on eth0``)."""
    links = json.loads(_ip(netns, "-j", "link", "show") or "[]")
    by_mac = {str(link.get("address", "")).lower(): link["ifname"] for link in links}
    done, routed = [], False
    for port in ports:
        dev = by_mac.get(str(port.get("mac_address", "")).lower())
        if dev is None:
            continue
        for fixed in port.get("fixed_ips") or []:
            try:
                addr = ipaddress.ip_address(fixed["ip_address"])
                subnet = subnet_info(fixed["subnet_id"])
                net = ipaddress.ip_network(subnet["cidr"])
            except (KeyError, ValueError, TypeError):
                continue
            if addr.version != 4:
                continue
            _ip(netns, "addr", "replace", f"{addr}/{net.prefixlen}", "dev", dev)
            done.append(f"{addr}/{net.prefixlen} on {dev}")
            if not routed and subnet.get("gateway_ip"):
                _ip(netns, "route", "replace", "default", "via", subnet["gateway_ip"],
                    "dev", dev)
                routed = True
    _ip(netns, "link", "set", "lo", "up")
    LOG.info("static addresses in %s: %s", netns, ", ".join(done) or "none")
    return done
