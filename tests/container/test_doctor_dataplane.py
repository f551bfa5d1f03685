"""`pocketstack doctor`'s dataplane check on a container cloud: OK when all is well, and
each classic failure found when it is made for real (dnsmasq killed, forwarding off or
strict rp_filter in the router's namespace, a wrong MTU on the network's bridge)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable


def _dataplane(data_dir: str) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "pocketstack.cli", "doctor", "--data-dir",
                           data_dir, "--json"], capture_output=True, text=True, timeout=300)
    findings = json.loads(proc.stdout)
    return [f for f in findings if f["check"] == "dataplane"]


def _statuses(findings: list[dict[str, Any]]) -> set[str]:
    return {f["status"] for f in findings}


def _until(check: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def test_dataplane_check(ccloud: Any) -> None:
    data_dir = ccloud.handle.data_dir
    private = ccloud.cli("network", "show", "private", "-f", "json")["id"]
    router = ccloud.cli("router", "list", "-f", "json")[0]["ID"]
    net_ns, rtr_ns = f"psnet-{private}", f"psrtr-{router}"
    server = ccloud.boot("ct-doctor")
    ccloud.wait_console(server["id"], "up: httpd on port 80")
    assert _until(lambda: os.path.exists(f"/var/run/netns/{rtr_ns}")), "no router namespace"

    fresh = _dataplane(data_dir)
    assert _statuses(fresh) == {"OK"}, fresh
    assert "checked" in fresh[0]["detail"] and "not in use" not in fresh[0]["detail"]

    # a wrong MTU on the network's bridge
    subprocess.run(["ip", "-n", net_ns, "link", "set", "br0", "mtu", "1400"], check=True)
    try:
        found = _dataplane(data_dir)
        assert any(f["status"] == "FAIL" and "MTU mismatch" in f["detail"] and "br0" in
                   f["detail"] for f in found), found
    finally:
        subprocess.run(["ip", "-n", net_ns, "link", "set", "br0", "mtu", "1500"], check=True)

    # forwarding off, then strict rp_filter, in the router's namespace
    def sysctl(setting: str) -> None:
        subprocess.run(["ip", "netns", "exec", rtr_ns, "sysctl", "-q", "-w", setting],
                       check=True)

    sysctl("net.ipv4.ip_forward=0")
    try:
        found = _dataplane(data_dir)
        assert any(f["status"] == "FAIL" and "IP forwarding is off" in f["detail"] and
                   router in f["detail"] for f in found), found
    finally:
        sysctl("net.ipv4.ip_forward=1")
    sysctl("net.ipv4.conf.all.rp_filter=1")
    try:
        found = _dataplane(data_dir)
        assert any(f["status"] == "WARN" and "rp_filter" in f["detail"] for f in found), found
    finally:
        sysctl("net.ipv4.conf.all.rp_filter=0")

    # the subnet's DHCP server dies
    with open(os.path.join(data_dir, "dataplane", private, "dnsmasq.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)

    def dhcp_missing() -> bool:  # (its exit takes a moment; a zombie serves nobody)
        return any(f["status"] == "FAIL" and "no DHCP server" in f["detail"] and private in
                   f["detail"] for f in _dataplane(data_dir))

    assert _until(dhcp_missing, 30), _dataplane(data_dir)
    # the next start of a server on the network brings it back
    ccloud.cli("server", "reboot", "--hard", "--wait", server["id"], cloud="pocketstack")
    ccloud.wait_console(server["id"], "(hard reboot)")
    assert _until(lambda: _statuses(_dataplane(data_dir)) == {"OK"}, 60), \
        _dataplane(data_dir)
    ccloud.delete_and_check(server)
