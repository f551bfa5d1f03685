"""One dnsmasq per network namespace, serving static reservations for its DHCP subnets.

Neutron runs one dnsmasq per network; each IPv4 subnet with DHCP enabled is a
``--dhcp-range`` in ``static`` mode (only ports listed in the hosts file get a
lease). The hosts file is rewritten from the ports and dnsmasq reloads it on SIGHUP.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import subprocess
from typing import Any

from pocketstack.dataplane import ip

LOG = logging.getLogger(__name__)
METADATA_IP = "169.254.169.254"


def hosts_lines(ports: list[dict[str, Any]], subnets: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for port in ports:
        for fixed in port.get("fixed_ips", []):
            subnet = subnets.get(fixed["subnet_id"])
            if subnet is None or not subnet.get("enable_dhcp") or subnet["ip_version"] != 4:
                continue
            name = "host-" + fixed["ip_address"].replace(".", "-")
            lines.append(f"{port['mac_address']},{fixed['ip_address']},{name}")
    return sorted(set(lines))


def command(netns: str, state_dir: str, subnets: list[dict[str, Any]],
            dhcp_ips: dict[str, str], lease_time: int, mtu: int) -> list[str]:
    cmd = ["ip", "netns", "exec", netns, "dnsmasq", "--no-hosts", "--no-resolv", "--port=0",
           "--interface=br0", "--bind-interfaces", "--except-interface=lo",
           "--dhcp-authoritative", "--log-dhcp", "--user=root", "--group=root",
           f"--pid-file={state_dir}/dnsmasq.pid",
           f"--dhcp-hostsfile={state_dir}/hosts",
           f"--dhcp-leasefile={state_dir}/leases",
           f"--log-facility={state_dir}/dnsmasq.log"]
    for i, subnet in enumerate(subnets):
        net = ipaddress.ip_network(subnet["cidr"])
        tag = f"subnet{i}"
        cmd.append(f"--dhcp-range=set:{tag},{net.network_address},static,{net.netmask},"
                   f"{lease_time}s")
        routes = []
        server = dhcp_ips.get(subnet["id"])
        if server:
            routes.append(f"{METADATA_IP}/32,{server}")
        for route in subnet.get("host_routes") or []:
            routes.append(f"{route['destination']},{route['nexthop']}")
        if subnet.get("gateway_ip"):
            routes.append(f"0.0.0.0/0,{subnet['gateway_ip']}")
            cmd.append(f"--dhcp-option=tag:{tag},option:router,{subnet['gateway_ip']}")
        else:
            cmd.append(f"--dhcp-option=tag:{tag},option:router")
        if routes:
            cmd.append(f"--dhcp-option=tag:{tag},option:classless-static-route,"
                       + ",".join(routes))
        if subnet.get("dns_nameservers"):
            cmd.append(f"--dhcp-option=tag:{tag},option:dns-server,"
                       + ",".join(subnet["dns_nameservers"]))
        cmd.append(f"--dhcp-option-force=tag:{tag},option:mtu,{mtu}")
    return cmd


class Dnsmasq:
    def __init__(self, netns: str, state_dir: str) -> None:
        self.netns = netns
        self.dir = state_dir
        self.pidfile = os.path.join(state_dir, "dnsmasq.pid")
        self.hostsfile = os.path.join(state_dir, "hosts")
        self.argv: list[str] = []

    def write_hosts(self, lines: list[str]) -> bool:
        """Rewrite the hosts file; True when it changed."""
        text = "".join(line + "\n" for line in lines)
        try:
            with open(self.hostsfile) as f:
                if f.read() == text:
                    return False
        except FileNotFoundError:
            pass
        tmp = self.hostsfile + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.hostsfile)
        return True

    def pid(self) -> int | None:
        return ip.pid_alive(self.pidfile)

    def ensure(self, argv: list[str]) -> None:
        """Running with these arguments (restarted when the subnets changed)."""
        args_file = os.path.join(self.dir, "dnsmasq.args")
        try:
            with open(args_file) as f:
                previous = f.read()
        except FileNotFoundError:
            previous = ""
        wanted = "\0".join(argv)
        pid = self.pid()
        if pid and previous == wanted and ip.in_netns(pid, self.netns):
            return
        if pid:
            self.stop()
        if not os.path.exists(self.hostsfile):
            self.write_hosts([])
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
        if proc.returncode != 0:
            raise ip.CommandFailed(f"dnsmasq in {self.netns}: {proc.stderr.strip()}")
        with open(args_file, "w") as f:
            f.write(wanted)
        LOG.info("dnsmasq started in %s (pid %s)", self.netns, self.pid())

    def reload(self) -> None:
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGHUP)

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                import time

                time.sleep(0.02)
        for name in ("dnsmasq.pid", "dnsmasq.args"):
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass
