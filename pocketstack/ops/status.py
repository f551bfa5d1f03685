"""A status dump on SIGUSR2, like oslo's Guru Meditation Report: threads with their
stacks, the bus's pending tasks and the effective configuration (secrets masked),
written to ``logs/status-<timestamp>.txt`` and to the log."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)


def report(cloud: "Cloud") -> str:
    out = [f"pocketstack status report, pid {os.getpid()}, "
           f"{dt.datetime.now().isoformat(sep=' ', timespec='seconds')}",
           f"data dir {cloud.data_dir}, bind {cloud.bind}, python {sys.version.split()[0]}", ""]
    out.append("==== services ====")
    out += [f"{s.name} on port {s.port}" for s in cloud.services]
    out += ["", "==== bus ===="]
    bus = cloud.bus
    pending = list(getattr(bus, "_pending", ()))
    out.append(f"pending tasks: {len(pending)}")
    out += [f"  {f!r}" for f in pending]
    out += ["", "==== threads ===="]
    names = {t.ident: t for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        t = names.get(ident)
        out.append(f"-- thread {t.name if t else '?'} ({ident})"
                   f"{' daemon' if t is not None and t.daemon else ''}")
        out += ["  " + line.rstrip() for line in traceback.format_stack(frame)]
    out += ["", "==== configuration ===="]
    for opt, value, source in cloud.conf.effective():
        out.append(f"[{opt.section}] {opt.name} = {value}    ({source})")
    return "\n".join(out) + "\n"


def dump(cloud: "Cloud") -> str:
    text = report(cloud)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    path = os.path.join(cloud.data_dir, "logs", f"status-{stamp}.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    LOG.info("status report written to %s\n%s", path, text)
    return path
