"""SSH into container instances from the host, as a user of a real cloud does it.

One cloud for the module, with ``[container] external_network_bridge`` set: the host
reaches the floating IPs (as DevStack's host does through br-ex). The real CLI creates
the keypair (Nova generates the private key), the security group and the floating IP;
an SSH client (asyncssh) logs in with the private key as root and runs commands in the
instance. Then Tempest's two validation tests of ServersTestJSON run against the same
cloud (one cloud may own the host route at a time).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from typing import Any

import pytest

from pocketstack.compute.drivers.container import cpuinfo

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPEST_TESTS = ("tempest.api.compute.servers.test_create_server.ServersTestJSON."
                 "test_host_name_is_same_as_server_name",
                 "tempest.api.compute.servers.test_create_server.ServersTestJSON."
                 "test_verify_created_server_vcpus")


def _ssh(address: str, key: str, command: str, stdin: str | None = None,
         user: str = "root", timeout: float = 20) -> Any:
    import asyncssh

    async def run() -> Any:
        async with asyncssh.connect(address, username=user, known_hosts=None,
                                    client_keys=[asyncssh.import_private_key(key)],
                                    connect_timeout=timeout) as conn:
            return await conn.run(command, input=stdin, check=False, timeout=timeout)

    return asyncio.run(run())


def _port_open(address: str, timeout: float = 3) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"SSH")
    except OSError:
        return False


def _eventually(check: Any, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def test_cpuinfo_render() -> None:
    host = "processor\t: 0\nmodel name\t: X\ncpu cores\t: 8\n\nprocessor\t: 1\nmodel name\t: X\n"
    text = cpuinfo.render(host, 3)
    assert [line for line in text.splitlines() if line.startswith("processor")] == [
        "processor\t: 0", "processor\t: 1", "processor\t: 2"]
    assert text.count("cpu cores\t: 3") == 2  # the blocks that had the field


def test_ssh_with_the_keypair_through_the_floating_ip(sshcloud: Any) -> None:
    cc = sshcloud
    key = cc.cli("keypair", "create", "ssh-key", cloud="pocketstack")
    assert "PRIVATE KEY" in key
    group = cc.cli("security", "group", "create", "ssh-in", "-f", "json", cloud="pocketstack")
    cc.cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
           group["id"], "-f", "json", cloud="pocketstack")
    flavor = cc.cli("flavor", "create", "--vcpus", "2", "--ram", "64", "--disk", "0",
                    "ssh.2cpu", "-f", "json")
    server = cc.cli("server", "create", "--image", "pocketstack-busybox", "--flavor",
                    flavor["id"], "--network", "private", "--key-name", "ssh-key",
                    "--security-group", "ssh-in", "--wait", "-f", "json", "SSH-Test_vm1",
                    cloud="pocketstack")
    port = cc.cli("port", "list", "--device-id", server["id"], "-f", "json",
                  cloud="pocketstack")[0]["ID"]
    fip = cc.cli("floating", "ip", "create", "--port", port, "public", "-f", "json",
                 cloud="pocketstack")["floating_ip_address"]
    cc.wait_console(server["id"], "key(s) installed in /root/.ssh/authorized_keys")
    assert _eventually(lambda: _port_open(fip)), \
        f"port 22 of {fip} not reachable from the host\n{cc.console(server['id'])}"

    out = _ssh(fip, key, "hostname; grep -c ^processor /proc/cpuinfo; id -u; pwd; "
                         "echo $HOME; cat; exit 3", stdin="from-stdin\n")
    assert out.exit_status == 3, out
    lines = out.stdout.split()
    assert [lines[0].split(".")[0], *lines[1:]] == ["ssh-test-vm1", "2", "0", "/root", "/root",
                                                    "from-stdin"]
    # the command runs in the instance: its PID namespace, its cgroups
    out = _ssh(fip, key, "echo $$; ls /proc | grep -c '^[0-9]'; cat /proc/self/cgroup")
    assert out.exit_status == 0 and int(out.stdout.split()[1]) < 20, out.stdout
    assert server["id"] in out.stdout
    # a key the instance does not have is refused
    import asyncssh

    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    with pytest.raises(asyncssh.PermissionDenied):
        _ssh(fip, other, "true")
    # without a rule allowing it, port 22 is not reachable (new connections)
    cc.cli("server", "remove", "security", "group", server["id"], "ssh-in",
           cloud="pocketstack")
    assert _eventually(lambda: not _port_open(fip, timeout=2)), "port 22 still reachable"
    assert not _port_open(fip)
    cc.cli("server", "delete", "--wait", server["id"], cloud="pocketstack")
    cc.cli("floating", "ip", "delete", fip, cloud="pocketstack")


def test_tempest_validation_tests(sshcloud: Any, tmp_path: Any) -> None:
    """ServersTestJSON's SSH tests (run_validation) under Tempest against this cloud."""
    from pocketstack.conformance.runner import Options, run
    from pocketstack.conformance.tempest_env import TempestEnv, TempestUnavailable

    env = TempestEnv()
    try:
        env.ensure(log=lambda msg: None)
    except TempestUnavailable as exc:
        pytest.skip(f"Tempest cannot be installed (no network?): {exc}")
    tests = tmp_path / "tests.txt"
    tests.write_text("".join(t + "\n" for t in TEMPEST_TESTS))
    report = run(Options(tests_file=str(tests), report_path=str(tmp_path / "report.json"),
                         workdir=str(tmp_path / "work"), tempest_venv=env.venv,
                         cloud=sshcloud.handle, concurrency=1), log=lambda msg: None)
    problems = [f"FAILED {f['id']}: {f['error']}" for f in report["failed"]]
    problems += [f"SKIPPED {s['id']}: {s['reason']}" for s in report["skipped"]]
    assert sorted(report["passed"]) == sorted(TEMPEST_TESTS), json.dumps(problems, indent=1)
