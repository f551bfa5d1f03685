"""The container driver end to end with the real CLI: seeded image, DHCP, metadata, ping,
power operations, restart, and a delete that leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from pocketstack.compute.drivers.container.cgroups import Cgroups


def test_seeded_image(ccloud: Any) -> None:
    image = ccloud.cli("image", "show", "pocketstack-busybox", "-f", "json")
    assert image["status"] == "active"
    assert image["container_format"] == "bare" and image["disk_format"] == "raw"
    assert image["visibility"] == "public"
    assert image["properties"]["pocketstack_rootfs"] == "tar"
    assert image["size"] > 500_000  # a real busybox, not a placeholder


@pytest.fixture(scope="module")
def pair(ccloud: Any) -> list[dict[str, Any]]:
    return [ccloud.boot("ct-a"), ccloud.boot("ct-b")]


def test_dhcp_address_on_console(ccloud: Any, pair: list[dict[str, Any]]) -> None:
    for server in pair:
        text = ccloud.wait_console(server["id"], f"DHCP address {server['ip']}/")
        assert server["mac"] in text  # the veth carries the port's MAC


def test_metadata_through_the_proxy(ccloud: Any, pair: list[dict[str, Any]]) -> None:
    for server in pair:
        text = ccloud.wait_console(server["id"], "up: httpd on port 80")
        assert "metadata: read http://169.254.169.254/openstack/latest/meta_data.json" in text
        if ccloud.stub is not None:
            expected = "vm-" + server["ip"].replace(".", "-")
            assert f"hostname: {expected}" in text
            assert "ssh: 1 key(s) installed" in text
            assert f"user-data-ran-on-{expected}" in text
            keys = ccloud.in_instance(server["id"], "cat", "/root/.ssh/authorized_keys")
            assert ccloud.stub.public_key in keys.stdout
            seen = [r for r in ccloud.stub.requests if r["xff"] == server["ip"]]
            assert seen and seen[0]["network"]  # X-Forwarded-For and X-Neutron-Network-ID


def test_ping_between_instances(ccloud: Any, pair: list[dict[str, Any]]) -> None:
    a, b = pair
    for server in pair:
        ccloud.wait_console(server["id"], "up: httpd on port 80")
    ping = ccloud.in_instance(a["id"], "ping", "-c", "2", "-W", "3", b["ip"])
    assert ping.returncode == 0, ping.stdout + ping.stderr
    page = ccloud.in_instance(b["id"], "wget", "-q", "-O", "-", f"http://{a['ip']}/")
    assert a["ip"] in page.stdout, page.stdout + page.stderr


def test_security_groups_apply_to_running_instances(ccloud: Any,
                                                    pair: list[dict[str, Any]]) -> None:
    a, b = pair
    for server in pair:
        ccloud.wait_console(server["id"], "up: httpd on port 80")

    def ping() -> bool:
        return ccloud.in_instance(a["id"], "ping", "-c", "1", "-W", "1",
                                  b["ip"]).returncode == 0

    def http() -> bool:
        out = ccloud.in_instance(a["id"], "timeout", "3", "wget", "-q", "-O", "-",
                                 f"http://{b['ip']}/")
        return b["ip"] in out.stdout

    assert ping()  # both in the project's default group: ingress from the group
    group = ccloud.cli("security", "group", "create", "web-only", "-f", "json",
                       cloud="pocketstack")
    port = ccloud.cli("port", "list", "--device-id", b["id"], "-f", "json",
                      cloud="pocketstack")[0]["ID"]
    ccloud.cli("port", "set", "--no-security-group", "--security-group", group["id"], port,
               cloud="pocketstack")
    try:
        assert ccloud.eventually(lambda: not ping()), "ping still allowed without a rule"
        assert not http()
        rule = ccloud.cli("security", "group", "rule", "create", "--protocol", "tcp",
                          "--dst-port", "80", "--remote-ip", "0.0.0.0/0", group["id"], "-f",
                          "json", cloud="pocketstack")
        assert ccloud.eventually(http), "port 80 not opened by the rule"
        assert not ping()  # still only port 80
        ccloud.cli("security", "group", "rule", "delete", rule["id"], cloud="pocketstack")
        assert ccloud.eventually(lambda: not http()), "port 80 still open after the rule's delete"
    finally:
        ccloud.cli("port", "set", "--no-security-group", "--security-group", "default", port,
                   cloud="pocketstack")
    assert ccloud.eventually(ping)


def test_floating_ip_from_the_external_namespace(ccloud: Any,
                                                 pair: list[dict[str, Any]]) -> None:
    from pocketstack.image.seed import find_busybox

    a = pair[0]
    ccloud.wait_console(a["id"], "up: httpd on port 80")
    busybox = find_busybox()
    public = ccloud.cli("network", "show", "public", "-f", "json")["id"]
    ext = f"psext-{public}"
    port = ccloud.cli("port", "list", "--device-id", a["id"], "-f", "json",
                      cloud="pocketstack")[0]["ID"]
    fip = ccloud.cli("floating", "ip", "create", "--port", port, "public", "-f", "json",
                     cloud="pocketstack")

    def http() -> bool:
        out = subprocess.run(["ip", "netns", "exec", ext, busybox, "timeout", "3", busybox,
                              "wget", "-q", "-O", "-", f"http://{fip['floating_ip_address']}/"],
                             capture_output=True, text=True, check=False)
        return a["ip"] in out.stdout

    assert ccloud.eventually(lambda: ext in ccloud.netns()), "no external namespace"
    # outbound through the router's SNAT works (egress is open in the default group)
    gateway = ccloud.in_instance(a["id"], "ping", "-c", "1", "-W", "2", "172.24.4.1")
    assert gateway.returncode == 0, gateway.stdout + gateway.stderr
    assert not http()  # the default group allows ingress from the group only
    rule = ccloud.cli("security", "group", "rule", "create", "--protocol", "tcp",
                      "--dst-port", "80", "--remote-ip", "0.0.0.0/0", "default", "-f", "json",
                      cloud="pocketstack")
    try:
        assert ccloud.eventually(http), "the floating IP is not reachable on port 80 with the rule"
        ccloud.cli("security", "group", "rule", "delete", rule["id"], cloud="pocketstack")
        assert ccloud.eventually(lambda: not http()), "still reachable after the rule's delete"
        rule = ccloud.cli("security", "group", "rule", "create", "--protocol", "tcp",
                          "--dst-port", "80", "--remote-ip", "0.0.0.0/0", "default", "-f",
                          "json", cloud="pocketstack")
        assert ccloud.eventually(http)
        ccloud.cli("floating", "ip", "delete", fip["id"], cloud="pocketstack")
        assert ccloud.eventually(lambda: not http()), \
            "still reachable after the floating IP's delete"
    finally:
        ccloud.cli("security", "group", "rule", "delete", rule["id"], cloud="pocketstack",
                   check=False)


def test_isolation_and_limits(ccloud: Any, pair: list[dict[str, Any]]) -> None:
    a = pair[0]
    ps = ccloud.in_instance(a["id"], "ps")
    lines = [line for line in ps.stdout.splitlines()[1:] if line.strip()]
    assert lines and lines[0].split()[0] == "1"  # its own PID namespace, /init is PID 1
    assert "pocketstack" not in ps.stdout  # no host process visible
    limits = Cgroups().limits(a["id"])
    memory = limits.get("memory.limit_in_bytes") or limits.get("memory.max")
    assert memory == str(64 * 1024 * 1024)  # m1.nano: 64 MB
    assert limits.get("cpu.cfs_quota_us", limits.get("cpu.max", "")).split()[0] == "100000"


def test_power_operations(ccloud: Any) -> None:
    server = ccloud.boot("ct-power")
    uuid = server["id"]
    ccloud.wait_console(uuid, "up: httpd on port 80")
    first_pid = ccloud.init_pid(uuid)
    ccloud.cli("server", "stop", uuid, cloud="pocketstack")
    shown = ccloud.wait_status(uuid, "SHUTOFF")
    assert shown["OS-EXT-STS:power_state"] in ("Shutdown", 4, "4")
    assert "received SIGTERM, shutting down" in ccloud.console(uuid)
    assert ccloud.init_pid(uuid) is None and not os.path.exists(f"/proc/{first_pid}/ns")
    ccloud.cli("server", "start", uuid, cloud="pocketstack")
    ccloud.wait_status(uuid, "ACTIVE")
    assert ccloud.console(uuid).count("(power on)") == 1
    ccloud.wait_console(uuid, "up: httpd on port 80")
    ccloud.cli("server", "pause", uuid, cloud="pocketstack")
    ccloud.wait_status(uuid, "PAUSED")
    assert Cgroups().frozen(uuid)
    ccloud.cli("server", "unpause", uuid, cloud="pocketstack")
    ccloud.wait_status(uuid, "ACTIVE")
    assert not Cgroups().frozen(uuid)
    before = ccloud.init_pid(uuid)
    ccloud.cli("server", "reboot", "--hard", "--wait", uuid, cloud="pocketstack")
    assert ccloud.init_pid(uuid) not in (None, before)
    assert "(hard reboot)" in ccloud.console(uuid)
    _delete_and_check(ccloud, server)


def _delete_and_check(ccloud: Any, server: dict[str, Any]) -> None:
    ccloud.delete_and_check(server)


def test_restart_keeps_instances_running(ccloud: Any, pair: list[dict[str, Any]]) -> None:
    a = pair[0]
    before = ccloud.init_pid(a["id"])
    assert before
    handle = ccloud.handle
    handle.stop()
    assert ccloud.init_pid(a["id"]) == before  # pocketstack stopping does not stop them
    handle.start()
    assert ccloud.status(a["id"])["status"] == "ACTIVE"
    assert ccloud.init_pid(a["id"]) == before
    ping = ccloud.in_instance(a["id"], "ping", "-c", "1", "-W", "3", pair[1]["ip"])
    assert ping.returncode == 0, ping.stdout + ping.stderr


def _until(ws: Any, marker: bytes, seen: bytes = b"") -> bytes:
    while marker not in seen:
        seen += ws.recv(timeout=30)
    return seen


def test_serial_console_is_the_guests_terminal(ccloud: Any, pair: list[dict[str, Any]]) -> None:
    """The init's terminal, through the serial proxy, with the URL the CLI gets."""
    from websockets.sync.client import connect

    server = pair[0]
    ccloud.wait_console(server["id"], "up: httpd on port 80")
    out = ccloud.cli("console", "url", "show", "--serial", "-f", "json", server["id"],
                     cloud="pocketstack")
    with connect(out["url"], subprotocols=["binary"], open_timeout=30) as ws:
        ws.send(b"\r")
        _until(ws, b"# ")  # the guest's shell prompt
        ws.send(b"echo pid-of-init=$(cut -d' ' -f1 /proc/1/stat) $((6 * 7))\r")
        _until(ws, b"pid-of-init=1 42")
        ws.send(b"echo host=$(hostname)\r")
        _until(ws, f"host={server['name']}".encode())
    # what was typed and answered is on the console log too, as on a serial line
    assert "pid-of-init=1 42" in ccloud.console(server["id"])
    # no display on a container: no noVNC console (501)
    proc = ccloud.cli("console", "url", "show", "--novnc", server["id"], cloud="pocketstack",
                      check=False)
    assert proc.returncode != 0


# last: it deletes the pair the tests above use
def test_delete_leaves_nothing_behind(ccloud: Any, pair: list[dict[str, Any]]) -> None:
    for server in pair:
        _delete_and_check(ccloud, server)
