"""Flavor limits with cgroups: v2 when the unified hierarchy owns the controllers, else v1.

v1 (this machine): ``/sys/fs/cgroup/{cpu,memory,pids,freezer}/pocketstack/<uuid>``;
v2: ``/sys/fs/cgroup/pocketstack/<uuid>`` with cpu, memory and pids enabled in the
parent's ``cgroup.subtree_control`` and ``cgroup.freeze`` for pause.
"""

from __future__ import annotations

import logging
import os
import time

LOG = logging.getLogger(__name__)
ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("cpu", "memory", "pids", "freezer")
PERIOD_US = 100_000


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def v1_mounts() -> dict[str, str]:
    """controller -> mount point of the v1 hierarchy holding it."""
    found: dict[str, str] = {}
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 3 and parts[2] == "cgroup":
                    for opt in parts[3].split(","):
                        if opt in V1_CONTROLLERS:
                            found[opt] = parts[1]
    except OSError:
        pass
    return found


class Cgroups:
    def __init__(self, group: str = "pocketstack", pids_max: int = 1024) -> None:
        self.group = group
        self.pids_max = pids_max
        self.v2 = os.path.exists(os.path.join(ROOT, "cgroup.controllers"))
        self.v1 = {} if self.v2 else v1_mounts()
        if self.v2:
            self._v2_enable(os.path.join(ROOT, group))

    @property
    def available(self) -> bool:
        return self.v2 or bool(self.v1)

    def describe(self) -> str:
        return "v2" if self.v2 else "v1 (" + ",".join(sorted(self.v1)) + ")"

    def _v2_enable(self, parent: str) -> None:
        try:
            os.makedirs(parent, exist_ok=True)
            wanted = set(_read(os.path.join(ROOT, "cgroup.controllers")).split()) & {
                "cpu", "memory", "pids"}
            for path in (ROOT, parent):
                _write(os.path.join(path, "cgroup.subtree_control"),
                       " ".join("+" + c for c in sorted(wanted)))
        except OSError as exc:
            LOG.warning("cgroup v2: could not enable controllers: %s", exc)

    def dirs(self, uuid: str) -> dict[str, str]:
        if self.v2:
            return {"unified": os.path.join(ROOT, self.group, uuid)}
        return {c: os.path.join(m, self.group, uuid) for c, m in self.v1.items()}

    def create(self, uuid: str, vcpus: int, memory_mb: int) -> list[str]:
        """Create (or update) the instance's cgroups; returns the cgroup.procs files."""
        procs = []
        for ctrl, path in self.dirs(uuid).items():
            os.makedirs(path, exist_ok=True)
            procs.append(os.path.join(path, "cgroup.procs"))
        self.set_limits(uuid, vcpus, memory_mb)
        return procs

    def set_limits(self, uuid: str, vcpus: int, memory_mb: int) -> None:
        mem = max(16, int(memory_mb or 0)) * 1024 * 1024
        quota = max(1, int(vcpus or 1)) * PERIOD_US
        d = self.dirs(uuid)
        settings: list[tuple[str, str]] = []
        if self.v2:
            u = d["unified"]
            settings = [(f"{u}/memory.max", str(mem)), (f"{u}/cpu.max", f"{quota} {PERIOD_US}"),
                        (f"{u}/pids.max", str(self.pids_max))]
        else:
            if "memory" in d:
                settings.append((f"{d['memory']}/memory.limit_in_bytes", str(mem)))
            if "cpu" in d:
                settings += [(f"{d['cpu']}/cpu.cfs_period_us", str(PERIOD_US)),
                             (f"{d['cpu']}/cpu.cfs_quota_us", str(quota))]
            if "pids" in d:
                settings.append((f"{d['pids']}/pids.max", str(self.pids_max)))
        for path, value in settings:
            try:
                _write(path, value)
            except OSError as exc:
                LOG.warning("cgroup limit %s=%s not applied: %s", path, value, exc)

    def limits(self, uuid: str) -> dict[str, str]:
        out = {}
        for path in self._limit_files(uuid):
            try:
                out[os.path.basename(path)] = _read(path)
            except OSError:
                pass
        return out

    def _limit_files(self, uuid: str) -> list[str]:
        d = self.dirs(uuid)
        if self.v2:
            return [f"{d['unified']}/{n}" for n in ("memory.max", "cpu.max", "pids.max")]
        files = {"memory": "memory.limit_in_bytes", "cpu": "cpu.cfs_quota_us",
                 "pids": "pids.max"}
        return [f"{d[c]}/{n}" for c, n in files.items() if c in d]

    def pids(self, uuid: str) -> set[int]:
        found: set[int] = set()
        for path in self.dirs(uuid).values():
            try:
                found |= {int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()}
            except (OSError, ValueError):
                pass
        return found

    # -- freezer ------------------------------------------------------------------
    def freeze(self, uuid: str, frozen: bool) -> None:
        d = self.dirs(uuid)
        if self.v2:
            _write(os.path.join(d["unified"], "cgroup.freeze"), "1" if frozen else "0")
            return
        if "freezer" not in d:
            raise OSError("no freezer cgroup controller is mounted")
        _write(os.path.join(d["freezer"], "freezer.state"), "FROZEN" if frozen else "THAWED")
        deadline = time.monotonic() + 5
        want = "FROZEN" if frozen else "THAWED"
        while time.monotonic() < deadline:
            if _read(os.path.join(d["freezer"], "freezer.state")) == want:
                return
            time.sleep(0.02)

    def frozen(self, uuid: str) -> bool:
        d = self.dirs(uuid)
        try:
            if self.v2:
                return _read(os.path.join(d["unified"], "cgroup.freeze")) == "1"
            return "freezer" in d and _read(os.path.join(d["freezer"],
                                                         "freezer.state")) != "THAWED"
        except OSError:
            return False

    def remove(self, uuid: str) -> None:
        for path in self.dirs(uuid).values():
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still busy: processes are exiting
                    time.sleep(0.05)
            else:
                LOG.warning("cgroup %s could not be removed", path)

    def exists(self, uuid: str) -> list[str]:
        return [p for p in self.dirs(uuid).values() if os.path.isdir(p)]
