"""Neutron -> Nova port events (os-server-external-events, in-process): a server's
port plugged, its addresses changed (fixed IP, floating IP), deleted; Nova records each
as an event of the server's latest instance action (``server event show``)."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compute"))

from compute_helpers import IMAGE, api, ensure_image, name  # noqa: E402

DEMO = "pocketstack"


def _events(cloud, sid) -> list[str]:
    out = []
    for action in cloud.cli("server", "event", "list", sid, "-f", "json"):
        shown = cloud.cli("server", "event", "show", sid, action["Request ID"], "-f", "json")
        out += [e["event"] for e in shown.get("events") or []]
    return out


def _wait_event(cloud, sid, key, timeout=30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = _events(cloud, sid)
        if key in found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_port_events_reach_nova(cloud):
    ensure_image(cloud)
    sname = name("evvm")
    server = cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", IMAGE,
                       "--network", "private", "--wait", sname, "-f", "json", cloud=DEMO)
    sid = server["id"]
    (port,) = cloud.cli("port", "list", "--device-id", sid, "-f", "json")
    pid = port["ID"]
    assert f"network-vif-plugged-{pid}" in _wait_event(cloud, sid,
                                                        f"network-vif-plugged-{pid}")
    # the actions themselves are Nova's: no extra ones (Tempest counts them)
    assert [a["Action"] for a in cloud.cli("server", "event", "list", sid, "-f", "json")] \
        == ["create"]

    # a new fixed IP: network-changed, and Nova's addresses follow
    subnet = cloud.cli("subnet", "show", "private-subnet", "-f", "json")
    cloud.cli("port", "set", "--no-fixed-ip", "--fixed-ip",
              f"subnet={subnet['id']},ip-address=10.0.0.61", pid)
    assert f"network-changed-{pid}" in _wait_event(cloud, sid, f"network-changed-{pid}")
    addrs = api(cloud, "GET", f"/servers/{sid}", DEMO).json()["server"]["addresses"]
    assert [e["addr"] for e in addrs["private"]] == ["10.0.0.61"]

    # a floating IP associated with the server's port: network-changed again
    before = _events(cloud, sid).count(f"network-changed-{pid}")
    fip = cloud.cli("floating", "ip", "create", "public", "-f", "json", cloud=DEMO)
    cloud.cli("server", "add", "floating", "ip", sname, fip["floating_ip_address"],
              cloud=DEMO)
    deadline = time.monotonic() + 30
    while _events(cloud, sid).count(f"network-changed-{pid}") <= before:
        assert time.monotonic() < deadline, _events(cloud, sid)
        time.sleep(0.5)

    # the port deleted under the server: network-vif-deleted, gone from addresses
    cloud.cli("port", "delete", pid)
    assert f"network-vif-deleted-{pid}" in _wait_event(cloud, sid,
                                                        f"network-vif-deleted-{pid}")
    addrs = api(cloud, "GET", f"/servers/{sid}", DEMO).json()["server"]["addresses"]
    assert addrs.get("private", []) == []
    cloud.cli("floating", "ip", "delete", fip["floating_ip_address"], cloud=DEMO)
    cloud.cli("server", "delete", "--wait", sid, cloud=DEMO)


def test_unbound_ports_send_nothing(cloud):
    """Ports of no server (or of routers) are none of Nova's business: no event, no error."""
    port = cloud.cli("port", "create", "--network", "private", name("plain"), "-f", "json",
                     cloud=DEMO)
    cloud.cli("port", "set", "--name", name("renamed"), port["id"], cloud=DEMO)
    cloud.cli("port", "delete", port["id"], cloud=DEMO)
