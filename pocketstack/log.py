"""Logging as OpenStack's: one line per event, with the request id and who asked.

``2026-11-21 22:00:00.123 4242 INFO pocketstack.identity [req-... user project] message``

When work concerns one server the line also names it, as Nova's
``[instance: UUID]`` prefix does: wrap the work in ``with log.instance(uuid):`` (a
context variable, so it follows the bus onto worker threads). Besides
``logs/pocketstack.log`` (everything), each service has its own file
``logs/<service>.log`` for the records of loggers under ``pocketstack.<service>``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
from typing import Iterator

from pocketstack.api.context import current

instance_uuid: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pocketstack_instance_uuid", default=None)

#: loggers pocketstack.<first part> whose records get a file of their own
SERVICE_LOGS = ("identity", "compute", "placement", "image", "network", "volume", "object",
                "ops")


@contextlib.contextmanager
def instance(uuid: str | None) -> Iterator[None]:
    """Log lines written inside carry ``[instance: UUID]``."""
    token = instance_uuid.set(uuid)
    try:
        yield
    finally:
        instance_uuid.reset(token)


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        done = getattr(record, "_pocketstack_text", None)
        if done is not None:  # the same line for each handler (pocketstack.log, the
            return done  # service's file, the console): formatted once
        record._pocketstack_text = text = self._format(record)
        return text

    def _format(self, record: logging.LogRecord) -> str:
        ctx = current.get()
        if ctx is not None:
            record.context = (f"[{ctx.request_id} {ctx.user_id or '-'} "
                              f"{ctx.project_id or '-'}]")
        else:
            record.context = "[-]"
        uuid = getattr(record, "instance_uuid", None) or instance_uuid.get()
        if uuid:
            record.context += f" [instance: {uuid}]"
        return super().format(record)


class LineFile(logging.Handler):
    """Appends each record as one line with one ``write`` (``O_APPEND``: lines of
    several processes and threads never interleave), without the buffering, flushing and
    per-handler lock of ``logging.FileHandler`` (a visible share of a small request's
    cost: every request logs a line to two files)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def createLock(self) -> None:  # noqa: N802  (logging's name)
        self.lock = None  # one write per record: nothing to serialize

    def emit(self, record: logging.LogRecord) -> None:
        try:
            os.write(self.fd, (self.format(record) + "\n").encode("utf-8", "replace"))
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        super().close()


class ServiceRouter(logging.Handler):
    """Sends ``pocketstack.<service>...`` records to ``logs/<service>.log``."""

    def __init__(self, log_dir: str, formatter: logging.Formatter) -> None:
        super().__init__()
        self.log_dir = log_dir
        self.files: dict[str, LineFile] = {}
        self.setFormatter(formatter)

    def service_of(self, name: str) -> str | None:
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == "pocketstack" and parts[1] in SERVICE_LOGS:
            return parts[1]
        return None

    def emit(self, record: logging.LogRecord) -> None:
        service = self.service_of(record.name)
        if service is None:
            return
        handler = self.files.get(service)
        if handler is None:
            handler = LineFile(os.path.join(self.log_dir, f"{service}.log"))
            handler.setFormatter(self.formatter)
            self.files[service] = handler
        handler.emit(record)

    def close(self) -> None:
        for handler in self.files.values():
            handler.close()
        super().close()


FORMAT = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s %(context)s %(message)s"


def setup(data_dir: str | None, debug: bool = False, stderr: bool = True) -> None:
    # FORMAT names no caller, thread or multiprocessing field: skip computing them for every
    # record (the logging docs' "Optimization" flags; one access line per request)
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = ContextFormatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    level = logging.DEBUG if debug else logging.INFO
    root.setLevel(level)
    if data_dir:
        log_dir = os.path.join(data_dir, "logs")
        os.makedirs(log_dir, exist_ok=True)
        fh = LineFile(os.path.join(log_dir, "pocketstack.log"))
        fh.setFormatter(formatter)
        root.addHandler(fh)
        root.addHandler(ServiceRouter(log_dir, formatter))
    if stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(formatter)
        # the console shows warnings and errors; the log file has everything
        sh.setLevel(logging.DEBUG if debug else logging.WARNING)
        root.addHandler(sh)
    for noisy in ("uvicorn.access", "uvicorn.error", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
