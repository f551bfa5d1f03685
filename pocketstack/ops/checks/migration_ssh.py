"""Doctor check: SSH trust between compute hosts, when moves go over SSH.

Real clouds copy disks for cold migration and resize over SSH between compute hosts
(Nova's libvirt driver with ``remote_filesystem_transport = ssh``), and the classic
failure is a new compute host whose key is not trusted by the others: migrations to or
from it fail with "Host key verification failed" or "Permission denied (publickey)".
``[compute] migration_transport = ssh`` says this cloud works that way;
``[compute] migration_ssh_dir`` is the directory holding the migration user's key,
``authorized_keys`` and ``known_hosts`` (default: ``~/.ssh`` of the user running the
cloud). With the default transport (``local``: in-process, the fake and container
drivers) the check has nothing to verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import select

from pocketstack.compute import config as _compute_config  # noqa: F401  (the options)
from pocketstack.ops.doctor import FAIL, OK, WARN, Finding, check

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

NAME = "migration ssh trust"
KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")


def _known(path: str) -> list[str]:
    """The host patterns of a known_hosts file (hashed entries kept as |1|salt|hash)."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            first = line.split()[0]
            if first.startswith("@"):  # @cert-authority / @revoked markers
                parts = line.split()
                first = parts[1] if len(parts) > 1 else ""
            out.extend(first.split(","))
    return out


def _matches(pattern: str, host: str) -> bool:
    if pattern.startswith("|1|"):
        try:
            _, _, salt, digest = pattern.split("|")
            mac = hmac.new(base64.b64decode(salt), host.encode(), hashlib.sha1).digest()
            return hmac.compare_digest(mac, base64.b64decode(digest))
        except (ValueError, TypeError):
            return False
    if pattern.startswith("[") and "]:" in pattern:  # [host]:port
        pattern = pattern[1:pattern.index("]")]
    return pattern == host


@check(NAME)
def migration_ssh_trust(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.compute.models import ComputeNode, ComputeService

    transport = str(cloud.conf.get("compute", "migration_transport") or "local").lower()
    if transport != "ssh":
        yield Finding(NAME, OK, f"migrations are not done over SSH (migration_transport = "
                      f"{transport})")
        return
    ssh_dir = cloud.conf.get("compute", "migration_ssh_dir") or os.path.expanduser("~/.ssh")
    with cloud.db.read() as s:
        hosts = set(s.scalars(select(ComputeService.host)
                              .where(ComputeService.binary == "nova-compute")))
        ips = dict(s.execute(select(ComputeNode.host, ComputeNode.host_ip)).all())
    keys = [k for k in KEY_NAMES if os.path.exists(os.path.join(ssh_dir, k))]
    problems = 0
    if not keys:
        problems += 1
        yield Finding(NAME, FAIL, f"no SSH private key for migrations in {ssh_dir} "
                      f"(looked for {', '.join(KEY_NAMES)})",
                      f"ssh-keygen -t ed25519 -N '' -f {os.path.join(ssh_dir, 'id_ed25519')}")
    else:
        pub = os.path.join(ssh_dir, keys[0] + ".pub")
        auth = os.path.join(ssh_dir, "authorized_keys")
        key = ""
        if os.path.exists(pub):
            with open(pub, encoding="utf-8", errors="replace") as f:
                key = " ".join(f.read().split()[:2])
        trusted = os.path.exists(auth) and key and key in open(
            auth, encoding="utf-8", errors="replace").read()
        if not trusted:
            problems += 1
            yield Finding(NAME, FAIL, f"the migration key {pub} is not in {auth}: the compute "
                          "hosts will refuse each other (Permission denied (publickey))",
                          f"cat {pub} >> {auth} (on every compute host)")
    patterns = _known(os.path.join(ssh_dir, "known_hosts"))
    missing = sorted(h for h in hosts if not any(
        _matches(p, name) for p in patterns for name in (h, ips.get(h) or h)))
    if missing:
        problems += 1
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more"
                                           if len(missing) > 10 else "")
        yield Finding(NAME, FAIL if len(missing) == len(hosts) else WARN,
                      f"{len(missing)} of {len(hosts)} compute hosts have no known_hosts entry "
                      f"in {ssh_dir} ({shown}): migrations to them fail with 'Host key "
                      "verification failed'",
                      f"ssh-keyscan -H {' '.join(missing[:10])} >> "
                      f"{os.path.join(ssh_dir, 'known_hosts')}")
    if not problems:
        yield Finding(NAME, OK, f"key, authorized_keys and known_hosts entries for the "
                      f"{len(hosts)} compute hosts in {ssh_dir}")
