"""SSH into container instances from the host, as a user of a real cloud does it.

One cloud for the module, with ``[container] external_network_bridge`` set: the host
reaches the floating IPs (as DevStack's host does through br-ex). openstacksdk creates
the keypair (Nova generates the private key), the security group, the server and the
floating IP; an SSH client (asyncssh) logs in with the private key as root and runs
commands in the instance; the ``openstack`` CLI removes the group. Then Tempest's
validation tests of ServersTestJSON/ServersTestManualDisk/ServersTestBootFromVolume and the
2.93 rebuild of a volume-backed server run against the same cloud
(one cloud may own the host route at a time).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import pytest

from pocketstack.compute.drivers.container import cpuinfo

HERE = os.path.dirname(os.path.abspath(__file__))
# the Tempest tests CI runs against this cloud (and counts as passing in README's table)
EXPECTED = os.path.join(os.path.dirname(HERE), "conformance", "expected-pass-container.txt")


def _ssh(address: str, key: str, command: str, stdin: str | None = None,
         user: str = "root", timeout: float = 20, term_type: str | None = None) -> Any:
    import asyncssh

    async def run() -> Any:
        async with asyncssh.connect(address, username=user, known_hosts=None,
                                    client_keys=[asyncssh.import_private_key(key)],
                                    connect_timeout=timeout) as conn:
            return await conn.run(command, input=stdin, check=False, timeout=timeout,
                                  term_type=term_type, term_size=(100, 30))

    return asyncio.run(run())


def _port_open(address: str, timeout: float = 3) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"SSH")
    except OSError:
        return False


def test_cpuinfo_render() -> None:
    host = "processor\t: 0\nmodel name\t: X\ncpu cores\t: 8\n\nprocessor\t: 1\nmodel name\t: X\n"
    text = cpuinfo.render(host, 3)
    assert [line for line in text.splitlines() if line.startswith("processor")] == [
        "processor\t: 0", "processor\t: 1", "processor\t: 2"]
    assert text.count("cpu cores\t: 3") == 2  # the blocks that had the field


def test_instance_files_are_read_without_following_links(tmp_path: Any) -> None:
    from pocketstack.compute.drivers.container import sshd

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "bob:x:1000:100::/home/bob:/bin/ash\n")
    (root / "root" / ".ssh").mkdir(parents=True)
    secret = tmp_path / "host-secret"
    secret.write_text("ssh-ed25519 AAAA host\n")
    # a link in the instance resolves against the host's root: never followed
    (root / "root" / ".ssh" / "authorized_keys").symlink_to(secret)
    assert sshd.read_in_root(str(root), "/root/.ssh/authorized_keys") is None
    assert sshd.read_in_root(str(root), "/etc/../etc/passwd") is None
    assert sshd.passwd_entry(str(root), "bob") == {"uid": 1000, "gid": 100,
                                                   "home": "/home/bob", "shell": "/bin/ash"}
    assert sshd.passwd_entry(str(root), "alice") is None
    assert not sshd.image_has_ssh_server([str(root)])
    (root / "usr" / "sbin").mkdir(parents=True)
    (root / "usr" / "sbin" / "sshd").write_text("")
    assert sshd.image_has_ssh_server([str(root)])  # the guest's own sshd is left alone


def test_ssh_with_the_keypair_through_the_floating_ip(sshcloud: Any) -> None:
    """openstack server create --key-name, a floating IP and a rule for port 22: SSH
    as root with the keypair's private key runs commands in the instance."""
    cc = sshcloud
    demo, admin = cc.handle.conn("pocketstack"), cc.handle.conn("pocketstack-admin")
    key = demo.compute.create_keypair(name="ssh-key").private_key  # Nova-generated
    group = demo.network.create_security_group(name="ssh-in")
    demo.network.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                            protocol="tcp", port_range_min=22,
                                            port_range_max=22, ethertype="IPv4")
    flavor = admin.compute.create_flavor(name="ssh.2cpu", vcpus=2, ram=64, disk=0)
    image = demo.image.find_image("pocketstack-busybox")
    network = demo.network.find_network("private")
    server = demo.compute.create_server(name="SSH-Test_vm1", image_id=image.id,
                                        flavor_id=flavor.id, networks=[{"uuid": network.id}],
                                        key_name="ssh-key", security_groups=[{"name": "ssh-in"}])
    server = demo.compute.wait_for_server(server, interval=0.3, wait=120)
    port = next(demo.network.ports(device_id=server.id))
    public = demo.network.find_network("public")
    fip = demo.network.create_ip(floating_network_id=public.id, port_id=port.id)
    address = fip.floating_ip_address
    cc.wait_console(server.id, "key(s) installed in /root/.ssh/authorized_keys")
    assert cc.eventually(lambda: _port_open(address), timeout=60), \
        f"port 22 of {address} not reachable from the host\n{cc.console(server.id)}"

    out = _ssh(address, key, "hostname; grep -c ^processor /proc/cpuinfo; id -u; pwd; "
                             "echo $HOME ${SSH_CLIENT%% *}; cat; exit 3", stdin="from-stdin\n")
    assert out.exit_status == 3, out
    lines = out.stdout.split()
    # the host comes from the external subnet's gateway, as DevStack's br-ex address
    assert [lines[0].split(".")[0], *lines[1:]] == ["ssh-test-vm1", "2", "0", "/root", "/root",
                                                    "172.24.4.1", "from-stdin"]
    # sudo, as Tempest's scenario helpers run it (root is the image's only user)
    out = _ssh(address, key, "set -eu -o pipefail; sudo sh -c \"date > /tmp/ts; sync\"; "
                             "sudo cat /tmp/ts; sudo mkdir -p /mnt/x && sudo id -u")
    assert out.exit_status == 0 and out.stdout.splitlines()[-1] == "0", out
    # the command runs in the instance: its PID namespace (few processes), its cgroups
    out = _ssh(address, key, "ls /proc | grep -c '^[0-9]'; cat /proc/self/cgroup")
    assert out.exit_status == 0 and int(out.stdout.split()[0]) < 20, out.stdout
    assert server.id in out.stdout
    # with a terminal (ssh -t): the command's stdin is a tty of the asked size
    out = _ssh(address, key, "[ -t 0 ] && echo on-a-tty; echo $TERM; stty size",
               term_type="xterm")
    assert out.stdout.split() == ["on-a-tty", "xterm", "30", "100"], out
    # a key the instance does not have is refused
    import asyncssh

    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    with pytest.raises(asyncssh.PermissionDenied):
        _ssh(address, other, "true")
    # without a rule allowing it, port 22 is not reachable (new connections)
    cc.cli("server", "remove", "security", "group", server.id, "ssh-in",
           cloud="pocketstack")
    assert cc.eventually(lambda: not _port_open(address, timeout=1.5)), "port 22 still reachable"
    demo.network.delete_ip(fip)
    demo.compute.delete_server(server.id)


def test_tempest_validation_tests(sshcloud: Any, tmp_path: Any) -> None:
    """The SSH tests of ServersTestJSON and ServersTestManualDisk (run_validation:
    keypair, security group, floating IP, SSH as root) under Tempest against this cloud."""
    from pocketstack.conformance.runner import Options, run
    from pocketstack.conformance.tempest_env import TempestEnv, TempestUnavailable

    env = TempestEnv()
    try:
        env.ensure(log=lambda msg: None)
    except TempestUnavailable as exc:
        pytest.skip(f"Tempest cannot be installed (no network?): {exc}")
    from pocketstack.conformance.results import read_test_list

    expected = read_test_list(EXPECTED)
    assert expected
    report = run(Options(tests_file=EXPECTED, report_path=str(tmp_path / "report.json"),
                         workdir=str(tmp_path / "work"), tempest_venv=env.venv,
                         cloud=sshcloud.handle, concurrency=2), log=lambda msg: None)
    problems = [f"FAILED {f['id']}: {f['error']}" for f in report["failed"]]
    problems += [f"SKIPPED {s['id']}: {s['reason']}" for s in report["skipped"]]
    assert sorted(report["passed"]) == sorted(expected), json.dumps(problems, indent=1)
