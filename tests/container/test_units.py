"""Pieces of the container driver and dataplane that need no privileges."""

from __future__ import annotations

import io
import os
import tarfile
from typing import Any

import pytest

from pocketstack.compute.drivers.container.driver import hostname_for
from pocketstack.compute.drivers.container.shim import Console
from pocketstack.dataplane.dhcp import command, hosts_lines
from pocketstack.dataplane.metaproxy import rewrite_head
from pocketstack.image import seed

SUBNET = {"id": "s1", "cidr": "10.0.0.0/26", "gateway_ip": "10.0.0.1", "enable_dhcp": True,
          "ip_version": 4, "host_routes": [], "dns_nameservers": ["10.0.0.53"]}


def test_proxy_headers_replace_what_the_instance_sent() -> None:
    head = (b"GET /openstack/latest/meta_data.json HTTP/1.1\r\nHost: 169.254.169.254\r\n"
            b"X-Forwarded-For: 6.6.6.6\r\nX-Instance-ID: forged\r\n"
            b"x-neutron-network-id: forged\r\nUser-Agent: Wget\r\n\r\n")
    out = rewrite_head(head, "10.0.0.5", "net-1", "127.0.0.1:8775").decode()
    lines = out.split("\r\n")
    assert lines[0] == "GET /openstack/latest/meta_data.json HTTP/1.1"
    assert "X-Forwarded-For: 10.0.0.5" in lines and "X-Neutron-Network-ID: net-1" in lines
    assert "6.6.6.6" not in out and "forged" not in out
    assert "Host: 127.0.0.1:8775" in lines and "User-Agent: Wget" in lines
    assert out.endswith("\r\n\r\n")


def test_console_log_is_bounded_and_rotated(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "console.log")
    console = Console(path, 4096)
    for i in range(100):
        console.write(f"line {i:03d} ".encode() + b"x" * 90 + b"\n")
    assert os.path.getsize(path) <= 4096
    assert os.path.getsize(path + ".1") <= 4096
    with open(path) as f:
        assert "line 099" in f.read()


def test_dhcp_reservations_only_for_dhcp_v4_subnets() -> None:
    ports = [{"mac_address": "fa:16:3e:00:00:01",
              "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"},
                            {"subnet_id": "v6", "ip_address": "2001:db8::5"}]},
             {"mac_address": "fa:16:3e:00:00:02",
              "fixed_ips": [{"subnet_id": "nodhcp", "ip_address": "10.1.0.5"}]}]
    subnets = {"s1": SUBNET, "v6": {**SUBNET, "id": "v6", "ip_version": 6},
               "nodhcp": {**SUBNET, "id": "nodhcp", "enable_dhcp": False}}
    assert hosts_lines(ports, subnets) == ["fa:16:3e:00:00:01,10.0.0.5,host-10-0-0-5"]


def test_dnsmasq_serves_static_leases_with_the_metadata_route() -> None:
    argv = command("psnet-x", "/state", [SUBNET], {"s1": "10.0.0.2"}, 600, 1450)
    assert argv[:5] == ["ip", "netns", "exec", "psnet-x", "dnsmasq"]
    assert "--dhcp-range=set:subnet0,10.0.0.0,static,255.255.255.192,600s" in argv
    assert ("--dhcp-option=tag:subnet0,option:classless-static-route,"
            "169.254.169.254/32,10.0.0.2,0.0.0.0/0,10.0.0.1") in argv
    assert "--dhcp-option=tag:subnet0,option:dns-server,10.0.0.53" in argv
    assert "--dhcp-option-force=tag:subnet0,option:mtu,1450" in argv
    assert "--dhcp-hostsfile=/state/hosts" in argv and "--port=0" in argv


def test_hostnames() -> None:
    assert hostname_for("My Server_1", "abcdef12-0000") == "my-server-1"
    assert hostname_for("", "abcdef12-0000") == "host-abcdef12"
    assert len(hostname_for("x" * 200, "u")) <= 63


def test_static_detection(tmp_path: object) -> None:
    assert not seed._is_static("/bin/sh") or os.path.realpath("/bin/sh").endswith("busybox")
    fake = os.path.join(str(tmp_path), "busybox")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\n")
    assert not seed._is_static(fake)


@pytest.mark.skipif(seed.find_busybox() is None, reason="no static busybox on this machine")
def test_seed_rootfs_contents() -> None:
    data = seed.build_rootfs(seed.find_busybox() or "")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = {m.name: m for m in tar.getmembers()}
        assert names["init"].mode & 0o111 and names["bin/busybox"].isreg()
        assert names["sbin/udhcpc"].issym() and names["bin/sh"].issym()
        init = tar.extractfile("init").read().decode()  # type: ignore[union-attr]
    for needle in ("udhcpc", "169.254.169.254/openstack/latest", "meta_data.json",
                   "user_data", "authorized_keys", "hostname", "httpd"):
        assert needle in init


def test_seed_sudo_runs_the_command_as_root(tmp_path: Any) -> None:
    """The seeded image's sudo (root is its only user): the forms Tempest's scenario
    helpers use run the command; other users and unknown options are refused."""
    import subprocess

    busybox = seed.find_busybox()
    if busybox is None:
        pytest.skip("no static busybox")
    data = seed.build_rootfs(busybox)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.getmember("usr/bin/sudo")
        assert member.isreg() and member.mode & 0o111
        script = tar.extractfile(member).read()  # type: ignore[union-attr]

    def run(*args: str, user: list[str] | None = None) -> Any:
        return subprocess.run([*(user or []), busybox, "sh", "-c", script.decode(), "sudo",
                               *args],
                              capture_output=True, text=True, timeout=10, check=False)

    out = tmp_path / "timestamp"
    if os.geteuid() == 0:
        assert run("sh", "-c", f"date > {out}; sync").returncode == 0 and out.read_text()
        assert run("-u", "root", "-n", "cat", str(out)).stdout == out.read_text()
        assert run("-i", "echo $HOME").stdout == "/root\n"
        assert run("-u", "bob", "true").stderr == "sudo: unknown user: bob\n"
        assert "unsupported option: -x" in run("-x", "true").stderr
        if os.path.exists("/usr/bin/setpriv"):  # as another user: refused
            refused = run("true", user=["setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups"])
            assert refused.returncode == 1 and "is not root" in refused.stderr
    else:
        assert run("true").returncode == 1  # (not root here: refused)


def _sg_script() -> str:
    from pocketstack.dataplane.firewall import build

    ports = [{"id": "p1", "mac_address": "FA:16:3E:00:00:01", "security_groups": ["g1"],
              "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}],
              "allowed_address_pairs": [{"ip_address": "10.0.0.100"}]},
             {"id": "p2", "mac_address": "fa:16:3e:00:00:02", "security_groups": ["g2"],
              "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.6"}]},
             {"id": "p3", "mac_address": "fa:16:3e:00:00:03", "port_security_enabled": False,
              "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.7"}]}]
    rules = {"g1": [{"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "g1"},
                    {"direction": "egress", "ethertype": "IPv4"},
                    {"direction": "egress", "ethertype": "IPv6"}],
             "g2": [{"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                     "port_range_min": 80, "port_range_max": 81,
                     "remote_ip_prefix": "10.0.0.0/24"},
                    {"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp",
                     "port_range_min": 8, "remote_group_id": "g1"}]}
    members = {"g1": {"ip": ["10.0.0.5"]}, "g2": {"ip": ["10.0.0.6"]}}
    return build(ports, rules, members, lambda pid: "tap" + pid)


def test_security_group_ruleset() -> None:
    script = _sg_script()
    assert 'iifname "tapp1" ether saddr != { fa:16:3e:00:00:01 } drop' in script
    assert "ip saddr != { 10.0.0.5, 10.0.0.100/32 } drop" in script
    assert "meta nfproto ipv4 ip saddr @gip_g1 accept" in script
    assert "meta nfproto ipv4 ip saddr 10.0.0.0/24 meta l4proto tcp th dport 80-81 accept" \
        in script
    assert "meta l4proto icmp icmp type 8 accept" in script
    assert "tapp3" not in script  # port security disabled: not filtered
    assert "elements = { 10.0.0.5 }" in script


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/sbin/nft"),
                    reason="needs root and nftables to check the ruleset")
def test_security_group_ruleset_loads_in_nft() -> None:
    import subprocess
    import uuid

    ns = "pstest-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        from pocketstack.dataplane.firewall import apply

        apply(ns, _sg_script())
        listed = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                                capture_output=True, text=True, check=True).stdout
        assert "chain in_1" in listed and "set gip_g1" in listed
        apply(ns, _sg_script())  # replacing is atomic and idempotent
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)


def test_concurrent_syncs_share_one_run_started_after_each_call(tmp_path: object) -> None:
    """100 plugs at once: the DHCP/firewall syncs they ask for are combined, yet each
    caller returns only after a run that began after its own call."""
    import threading
    import time

    from pocketstack.dataplane.manager import Dataplane

    dp = Dataplane.__new__(Dataplane)  # only the locking parts
    dp._locks, dp._guard, dp._wanted, dp._covered = {}, threading.Lock(), {}, {}
    runs: list[float] = []

    def sync() -> None:
        runs.append(time.monotonic())
        time.sleep(0.02)

    returned: list[tuple[float, float]] = []

    def caller() -> None:
        asked = time.monotonic()
        dp._combined("net", sync)
        returned.append((asked, time.monotonic()))

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(returned) == 20 and 1 <= len(runs) < 20
    for asked, done in returned:
        assert any(asked <= start <= done for start in runs)


def test_metadata_proxy_is_known_by_the_namespace_it_listens_in(tmp_path: object,
                                                                monkeypatch: object) -> None:
    """The proxy's own process lives in the host's namespace: the inode it recorded of the
    network's namespace tells that it serves it (not a namespace deleted since)."""
    from pocketstack.dataplane import ip, manager

    ns_file = os.path.join(str(tmp_path), "psnet-x")
    open(ns_file, "w").close()
    monkeypatch.setattr(ip, "netns_path", lambda name: ns_file)  # type: ignore[attr-defined]
    pidfile = os.path.join(str(tmp_path), "metaproxy.pid")
    assert manager._proxy_serves(pidfile, "psnet-x") is None
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    assert manager._proxy_serves(pidfile, "psnet-x") is None  # no namespace recorded
    recorded = os.stat(ns_file).st_ino
    with open(pidfile + ".netns", "w") as f:
        f.write(str(recorded))
    assert manager._proxy_serves(pidfile, "psnet-x") == os.getpid()
    os.unlink(ns_file)
    open(ns_file, "w").close()  # the namespace made again: (usually) another inode
    if os.stat(ns_file).st_ino != recorded:
        assert manager._proxy_serves(pidfile, "psnet-x") is None


def test_boot_volume_tarball_becomes_a_file_system_once(tmp_path: Any) -> None:
    import shutil
    import subprocess

    from pocketstack.compute.drivers.base import BuildFailed
    from pocketstack.compute.drivers.container import bootvolume

    if shutil.which("mkfs.ext4") is None or shutil.which("debugfs") is None:
        pytest.skip("e2fsprogs is not installed")
    volume = tmp_path / "volume-1"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("./init", b"#!/bin/sh\n"), ("./etc/hostname", b"from-tar\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    with open(volume, "wb") as f:  # as Block Storage copies an image into a volume
        f.write(buf.getvalue())
        f.truncate(64 << 20)
    staging = str(tmp_path / "staging")
    assert bootvolume.prepare_root(str(volume), staging, "1")
    assert bootvolume.holds_filesystem(str(volume)) and os.path.getsize(volume) == 64 << 20
    cat = subprocess.run(["debugfs", "-R", "cat /etc/hostname", str(volume)],
                         capture_output=True, text=True, check=False)
    assert cat.stdout == "from-tar\n"
    assert not bootvolume.prepare_root(str(volume), staging, "1")  # mounted as it is
    assert sorted(os.listdir(tmp_path)) == ["volume-1"]  # no staging or temporary left
    blank = tmp_path / "volume-2"
    blank.write_bytes(b"\x00" * 4096)
    with pytest.raises(BuildFailed, match="neither an ext4 file system nor a rootfs"):
        bootvolume.prepare_root(str(blank), staging, "2")
