"""The instance's ``/proc/cpuinfo``: the flavor's vCPUs, not the host's processors.

A container sees the host's ``/proc``; its cgroup limits CPU time, not the processor
count. As LXCFS does, the shim bind-mounts a generated file (``INSTANCE_DIR/cpuinfo``)
read-only over ``/proc/cpuinfo`` in the instance: the host's processor entries, one per
vCPU (the host's first entries, repeated when the flavor has more vCPUs than the host
has processors), renumbered from 0 as one socket of ``vcpus`` cores. Resize rewrites the
file in place (the same inode, so the running instance sees it at once).

Standard library only: the shim imports it.
"""

from __future__ import annotations

import re


def host_entries(text: str) -> list[str]:
    """The processor blocks of a ``/proc/cpuinfo`` text."""
    return [b.strip("\n") for b in re.split(r"\n\s*\n", text) if b.strip().startswith("processor")]


def render(host_text: str, vcpus: int) -> str:
    entries = host_entries(host_text) or ["processor\t: 0"]
    vcpus = max(1, int(vcpus))
    out = []
    for i in range(vcpus):
        block = entries[i % len(entries)]
        fields = {"processor": str(i), "physical id": "0", "siblings": str(vcpus),
                  "core id": str(i), "cpu cores": str(vcpus), "apicid": str(i),
                  "initial apicid": str(i)}
        lines = []
        for line in block.splitlines():
            key = line.split(":", 1)[0].rstrip()
            if key in fields and ":" in line:
                line = f"{line.split(':', 1)[0]}: {fields[key]}"
            lines.append(line)
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n\n"


def write(path: str, vcpus: int) -> None:
    """(Re)write the file in place: a bind mount of it follows the same inode."""
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        text = render(f.read(), vcpus)
    with open(path, "a+", encoding="utf-8") as f:
        f.seek(0)
        f.truncate()
        f.write(text)
