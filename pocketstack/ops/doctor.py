"""``pocketstack doctor``: find the classic failures before users do.

A check is a function of the cloud returning findings; each finding is OK, WARN or
FAIL with what was found and the exact command that fixes it. Services register
their own checks next to their code with :func:`check`; the cross-cutting ones
are in this module.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass
class Finding:
    check: str
    status: str
    detail: str
    fix: str = ""


CheckFn = Callable[["Cloud"], Iterable[Finding]]
_CHECKS: list[tuple[str, CheckFn]] = []


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        _CHECKS.append((name, fn))
        return fn

    return register


def run_checks(cloud: "Cloud") -> list[Finding]:
    findings: list[Finding] = []
    for name, fn in _CHECKS:
        try:
            found = list(fn(cloud))
        except Exception as exc:  # a broken check is itself a finding, not a crash
            found = [Finding(name, FAIL, f"the check could not run: {exc!r}")]
        findings.extend(found or [Finding(name, OK, "nothing found")])
    return findings


def render(findings: list[Finding], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(f) for f in findings], indent=2)
    width = max(len(f.check) for f in findings)
    lines = []
    for f in findings:
        lines.append(f"{f.status:<4}  {f.check:<{width}}  {f.detail}")
        if f.fix and f.status != OK:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {f.fix}")
    return "\n".join(lines)


# -- cross-cutting checks ------------------------------------------------------
SECRET_PATHS = ("admin-password", "clouds.yaml", "openrc", "openrc-admin", "fernet-keys",
                "credential-keys", "pocketstack.conf", "pocketstack.db")


@check("secret files")
def secret_files(cloud: "Cloud") -> Iterable[Finding]:
    """Keys, passwords and the database must not be readable by other users."""
    for name in SECRET_PATHS:
        path = os.path.join(cloud.data_dir, name)
        if not os.path.exists(path):
            continue
        paths = [path]
        if os.path.isdir(path):
            paths += [os.path.join(path, n) for n in os.listdir(path)]
        for p in paths:
            mode = stat.S_IMODE(os.stat(p).st_mode)
            if mode & 0o077:
                yield Finding("secret files", FAIL,
                              f"{p} is readable or writable by group/others (mode {mode:o})",
                              f"chmod go-rwx {p}")


@check("debug logging")
def debug_logging(cloud: "Cloud") -> Iterable[Finding]:
    if cloud.conf.get("DEFAULT", "debug"):
        yield Finding("debug logging", WARN,
                      "debug is on: logs grow fast and may carry request bodies",
                      "set [DEFAULT] debug = false in pocketstack.conf and restart")


@check("token keys")
def token_keys(cloud: "Cloud") -> Iterable[Finding]:
    repo = cloud.identity.token_keys.path
    keys = [n for n in os.listdir(repo) if n.isdigit()] if os.path.isdir(repo) else []
    if "0" not in keys or len(keys) < 2:
        yield Finding("token keys", FAIL, f"Fernet key repository {repo} is incomplete "
                      f"({len(keys)} keys, staged key {'present' if '0' in keys else 'missing'})",
                      "pocketstack manage token rotate")
    else:
        yield Finding("token keys", OK, f"{len(keys)} Fernet keys in {repo}")


@check("api services")
def api_services(cloud: "Cloud") -> Iterable[Finding]:
    from pocketstack.server import STATE_FILE, status_rows

    path = os.path.join(cloud.data_dir, STATE_FILE)
    if not os.path.exists(path):
        yield Finding("api services", WARN, "the cloud is not running",
                      f"pocketstack up --data-dir {cloud.data_dir}")
        return
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    for name, url, status, ok in status_rows(state["bind"], state["services"]):
        yield Finding("api services", OK if ok else FAIL, f"{name} at {url}: {status}",
                      "" if ok else f"see {cloud.data_dir}/logs/pocketstack.log, then restart "
                      "pocketstack up")
