"""Logging as OpenStack's: one line per event, with the request id and who asked.

``2026-11-21 22:00:00.123 4242 INFO pocketstack.identity [req-... user project] message``
"""

from __future__ import annotations

import logging
import os
import sys

from pocketstack.api.context import current


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = current.get()
        if ctx is not None:
            record.context = (f"[{ctx.request_id} {ctx.user_id or '-'} "
                              f"{ctx.project_id or '-'}]")
        else:
            record.context = "[-]"
        return super().format(record)


FORMAT = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s %(context)s %(message)s"


def setup(data_dir: str | None, debug: bool = False, stderr: bool = True) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = ContextFormatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    level = logging.DEBUG if debug else logging.INFO
    root.setLevel(level)
    if data_dir:
        os.makedirs(os.path.join(data_dir, "logs"), exist_ok=True)
        fh = logging.FileHandler(os.path.join(data_dir, "logs", "pocketstack.log"))
        fh.setFormatter(formatter)
        root.addHandler(fh)
    if stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(formatter)
        # the console shows warnings and errors; the log file has everything
        sh.setLevel(logging.DEBUG if debug else logging.WARNING)
        root.addHandler(sh)
    for noisy in ("uvicorn.access", "uvicorn.error", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
