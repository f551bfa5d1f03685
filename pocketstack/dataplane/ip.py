"""Thin helpers over iproute2 (``ip``), the only tool the dataplane shells out to."""

from __future__ import annotations

import logging
import os
import subprocess

LOG = logging.getLogger(__name__)
NETNS_DIR = "/var/run/netns"


class CommandFailed(RuntimeError):
    pass


def run(*args: str, check: bool = True, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise CommandFailed(f"{' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run(*prefix, *args, check=check)


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def netns_exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def netns_add(name: str) -> None:
    if not netns_exists(name):
        proc = ip("netns", "add", name, check=False)
        if proc.returncode != 0 and not netns_exists(name):
            raise CommandFailed(f"ip netns add {name}: {proc.stderr.strip()}")
    ip("link", "set", "lo", "up", netns=name)


def netns_delete(name: str) -> None:
    if netns_exists(name):
        proc = ip("netns", "delete", name, check=False)
        if proc.returncode != 0:
            LOG.warning("ip netns delete %s: %s", name, proc.stderr.strip())


def netns_list(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def link_exists(name: str, netns: str | None = None) -> bool:
    return ip("link", "show", "dev", name, netns=netns, check=False).returncode == 0


def exec_in(netns: str, *cmd: str, check: bool = True,
            timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return run("ip", "netns", "exec", netns, *cmd, check=check, timeout=timeout)


def pid_alive(pidfile: str) -> int | None:
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:  # a killed daemon not reaped yet (a zombie) still answers kill(0): it serves nobody
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return None
    except (OSError, IndexError):
        pass
    return pid


def in_netns(pid: int, name: str) -> bool:
    """Whether process ``pid`` lives in the named namespace (not in an older namespace of
    the same name, deleted since: a daemon left there serves nobody)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(netns_path(name)).st_ino
    except OSError:
        return False
