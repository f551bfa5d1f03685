"""A fork server for the real ``openstack`` CLI, so that the tests do not pay its imports
(about 1.2 s of CPU) on each of their several hundred calls.

Run as a script, it imports python-openstackclient and its command modules once, then reads
one JSON request a line on stdin:
``{"argv": [...], "env": {...}, "cwd": dir, "out": path, "err": path}``.
For each it forks a child that takes that environment and working directory, sends its stdout/stderr to the two
files and runs ``openstackclient.shell.main(argv)`` (what the ``openstack`` console script
runs), then answers ``{"pid": N}`` at once and ``{"rc": N}`` when the child has exited. The
server is single-threaded, so forking it is safe; every command still runs in a process of
its own, with no state carried from one command to the next.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import traceback


def _preload() -> None:
    from openstackclient import shell  # noqa: F401

    for pkg_name in ("openstackclient", "osc_placement"):
        try:
            pkg = importlib.import_module(pkg_name)
        except ImportError:
            continue
        for mod in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
            if ".tests" in mod.name:
                continue
            try:
                importlib.import_module(mod.name)
            except Exception:  # a module the CLI would not load either  # noqa: BLE001
                pass


def _child(req: dict) -> None:
    try:
        os.environ.clear()
        os.environ.update(req["env"])
        os.chdir(req["cwd"])  # relative paths in argv are the caller's
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, req["out"]), (2, req["err"])):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(f, fd)
            os.close(f)
        sys.argv = ["openstack", *req["argv"]]
        from openstackclient import shell

        rc = shell.main(req["argv"])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        rc = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(rc or 0)


def serve() -> None:
    _preload()
    reply = sys.stdout
    print(json.dumps({"ready": True}), file=reply, flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req)
        print(json.dumps({"pid": pid}), file=reply, flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), file=reply, flush=True)


if __name__ == "__main__":
    serve()
