"""The per-instance supervisor (what conmon is to podman), run detached by the driver.

``python -m pocketstack.compute.drivers.container.shim INSTANCE_DIR``

It reads ``INSTANCE_DIR/config.json``, joins the instance's network namespace,
unshares UTS, IPC and PID namespaces and forks the instance's PID 1: that child
unshares a mount namespace, mounts the overlay root (lower = cached image rootfs, upper/work in the
instance directory; a volume-backed instance: its root volume's ext4, :mod:`.bootvolume`), /proc (with the flavor's vCPUs in /proc/cpuinfo, :mod:`.cpuinfo`), /sys,
a small /dev, pivots into it and execs the init.
The shim puts the child into the instance's cgroups before letting it exec. The init's
console is a pseudo-terminal (its stdin, stdout, stderr and controlling tty, as a serial
line is a guest's): the shim copies what it prints to ``console.log`` (bounded: rotated
to ``console.log.1`` at the size cap) and to the clients of ``console.sock`` (a Unix
socket: the serial console), and writes what those clients type to the terminal, until
the init exits. It runs in its own session, so that
pocketstack restarting does not stop instances; the mounts live in the instance's
mount namespace and vanish with it.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import sys
import termios
import time
from typing import Any

from pocketstack.compute.drivers.container import cpuinfo, linux

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0))


class Console:
    """Append-only console log with a size cap (one rotated generation kept)."""

    def __init__(self, path: str, cap: int) -> None:
        self.path, self.cap = path, max(4096, cap)
        self.f = open(path, "ab", buffering=0)
        self.size = self.f.tell()

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.cap:
            self.f.close()
            os.replace(self.path, self.path + ".1")
            self.f = open(self.path, "ab", buffering=0)
            self.size = 0
            data = data[-self.cap:]
        self.f.write(data)
        self.size += len(data)

    def note(self, text: str) -> None:
        self.write(f"[pocketstack] {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                   f"{text}\n".encode())


def block_node(root: str, name: str, loop: str) -> None:
    """A block device node ``name`` (``/dev/vdb``) in the instance for a loop device."""
    path = os.path.join(root, name.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.mknod(path, 0o660 | 0o060000, os.stat(loop).st_rdev)


def _dev(root: str, devices: dict[str, Any]) -> None:
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    linux.mount("tmpfs", dev, "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "mode=755,size=64k")
    for name, major, minor in DEVICES:
        path = os.path.join(dev, name)
        os.mknod(path, 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(path, 0o666)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    for sub in ("pts", "shm"):
        os.makedirs(os.path.join(dev, sub), exist_ok=True)
    for name, attached in devices.items():  # volumes and the config drive
        block_node(root, name, attached["loop"])


def _enter(cfg: dict[str, Any], root: str) -> None:
    """The instance's /dev, hostname, and ``root`` as its / (the host's root let go)."""
    _dev(root, cfg.get("devices") or {})
    linux.sethostname(cfg.get("hostname") or "instance")
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")


def _no_boot(cfg: dict[str, Any], root: str, console: int) -> None:
    """PID 1 of an instance whose boot volume holds nothing to boot: in an empty root
    (its disk at /dev/vda), it says so on the console and waits to be stopped, as a
    virtual machine's firmware does."""
    linux.mount("tmpfs", root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
                "mode=755,size=64k")
    _enter(cfg, root)
    os.write(console, f"{cfg['no_boot']}\r\n".encode())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        signal.pause()


def _child(cfg: dict[str, Any], write_fd: int, sync_fd: int) -> None:
    """In the new namespaces: wait for the cgroups, build the root, exec the init."""
    os.setsid()
    fcntl.ioctl(write_fd, termios.TIOCSCTTY, 0)  # the console is the init's terminal
    if os.read(sync_fd, 1) != b"1":
        os._exit(120)
    os.close(sync_fd)
    inst = cfg["dir"]
    root = os.path.join(inst, "rootfs")
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    if cfg.get("root_disk"):  # the flavor's disk (upper, work link into it): here only
        linux.mount(cfg["root_disk"], os.path.join(inst, "disk"), "ext4", 0)
    for d in ("rootfs", "upper", "work"):
        os.makedirs(os.path.join(inst, d), exist_ok=True)
    rescue = cfg.get("rescue")
    layer = "rescue-" if rescue else ""  # rescue: the rescue image over a fresh layer
    for d in (layer + "upper", layer + "work"):
        os.makedirs(os.path.join(inst, d), exist_ok=True)
    # a volume-backed instance: its root volume's file system is its disk (.bootvolume)
    volume = (cfg.get("devices") or {}).get(cfg.get("root_volume") or "")
    if volume and cfg.get("no_boot"):
        if not rescue:
            _no_boot(cfg, root, write_fd)
        volume = None  # (a rescue sees the disk as /dev/vda only)
    if volume and not rescue:
        linux.mount(volume["loop"], root, "ext4", 0)
    else:
        linux.mount("overlay", root, "overlay", 0,
                    f"lowerdir={rescue['lower'] if rescue else cfg['lower']},"
                    f"upperdir={inst}/{layer}upper,workdir={inst}/{layer}work")
    if rescue:  # ... and the instance's own disk at rescue["disk_at"]
        disk = os.path.join(root, rescue.get("disk_at", "/mnt/rescue").lstrip("/"))
        os.makedirs(disk, exist_ok=True)
        if volume:
            linux.mount(volume["loop"], disk, "ext4", 0)
        elif not cfg.get("root_volume"):
            linux.mount("overlay", disk, "overlay", 0,
                        f"lowerdir={cfg['lower']},upperdir={inst}/upper,workdir={inst}/work")
    for d in ("proc", "sys", "dev", "tmp", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    linux.mount("proc", os.path.join(root, "proc"), "proc",
                linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    if os.path.exists(os.path.join(inst, "cpuinfo")):  # the flavor's vCPUs (.cpuinfo)
        target = os.path.join(root, "proc", "cpuinfo")
        linux.mount(os.path.join(inst, "cpuinfo"), target, None, linux.MS_BIND)
        linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)
    linux.mount("sysfs", os.path.join(root, "sys"), "sysfs",
                linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    _enter(cfg, root)
    for fd in (0, 1, 2):
        os.dup2(write_fd, fd)
    if write_fd > 2:
        os.close(write_fd)
    env = {"PATH": "/sbin:/bin:/usr/sbin:/usr/bin", "HOME": "/root", "TERM": "linux",
           "container": "pocketstack", "INSTANCE_UUID": cfg.get("uuid", "")}
    run = rescue or cfg  # a docker image's Env and WorkingDir (dockerimage.runtime)
    env.update(run.get("env") or {})
    if run.get("workdir", "/") != "/":
        os.makedirs(run["workdir"], exist_ok=True)
        os.chdir(run["workdir"])
    argv = run.get("init") or ["/init" if os.path.lexists("/init") else "/sbin/init"]
    os.execve(argv[0], argv, env)


def unix_path(path: str) -> tuple[str, int | None]:
    """A path short enough for a Unix socket (through /proc/self/fd when it is not);
    the directory's descriptor, to close after use, or None."""
    if len(path.encode()) < 100:
        return path, None
    fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{os.path.basename(path)}", fd


def serve_console(tty: int, console: Console, sock_path: str) -> None:
    """Copy the terminal's output to the log and the connected clients, and what the
    clients send to the terminal (dropped when nobody in the guest reads it), until
    the init and everything holding its terminal are gone."""
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path, dir_fd = unix_path(sock_path)
    try:
        listener.bind(path)
        os.chmod(path, 0o600)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    listener.listen(8)
    listener.setblocking(False)
    os.set_blocking(tty, False)
    sel = selectors.DefaultSelector()
    sel.register(tty, selectors.EVENT_READ, "tty")
    sel.register(listener, selectors.EVENT_READ, "listen")
    clients: list[socket.socket] = []

    def drop(client: socket.socket) -> None:
        sel.unregister(client)
        clients.remove(client)
        client.close()

    try:
        while True:
            for key, _ in sel.select():
                if key.data == "tty":
                    try:
                        data = os.read(tty, 65536)
                    except BlockingIOError:
                        continue
                    except OSError:  # EIO: nothing holds the terminal any more
                        data = b""
                    if not data:
                        return
                    console.write(data)
                    for client in list(clients):
                        try:
                            client.sendall(data)
                        except OSError:  # gone, or stuck for 2 s: dropped
                            drop(client)
                elif key.data == "listen":
                    try:
                        client, _ = listener.accept()
                    except OSError:
                        continue
                    client.settimeout(2)
                    clients.append(client)
                    sel.register(client, selectors.EVENT_READ, "client")
                else:
                    client = key.fileobj  # type: ignore[assignment]
                    try:
                        data = client.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        drop(client)
                        continue
                    try:
                        os.write(tty, data)
                    except OSError:  # the terminal's input is full
                        pass
    finally:
        for client in list(clients):
            drop(client)
        listener.close()
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass


def _join_cgroups(pid: int, procs_files: list[str]) -> None:
    for path in procs_files:
        with open(path, "w") as f:
            f.write(str(pid))


def run(inst: str) -> int:
    with open(os.path.join(inst, "config.json")) as f:
        cfg = json.load(f)
    cfg["dir"] = inst
    console = Console(os.path.join(inst, "console.log"), int(cfg.get("console_cap", 1 << 20)))
    try:
        cpuinfo.write(os.path.join(inst, "cpuinfo"), int(cfg.get("vcpus") or 1))
    except OSError as exc:  # the instance then sees the host's processors
        console.note(f"could not write the instance's cpuinfo: {exc}")
    with open(os.path.join(inst, "shim.pid.tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.replace(os.path.join(inst, "shim.pid.tmp"), os.path.join(inst, "shim.pid"))
    try:
        os.unlink(os.path.join(inst, "exit"))
    except FileNotFoundError:
        pass
    fd = os.open(cfg["netns_path"], os.O_RDONLY)
    linux.setns(fd, linux.CLONE_NEWNET)
    os.close(fd)
    # the shim stays in the host's mount namespace (pivot_root moves the root of every
    # process of a mount namespace): the child unshares its own before mounting anything
    linux.unshare(linux.CLONE_NEWUTS | linux.CLONE_NEWIPC | linux.CLONE_NEWPID)
    read_fd, write_fd = os.openpty()  # the console: the init gets the terminal's side
    fcntl.ioctl(write_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    sync_r, sync_w = os.pipe()
    console.note(f"starting instance {cfg.get('uuid')} ({cfg.get('reason', 'start')})")
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.close(sync_w)
            _child(cfg, write_fd, sync_r)
        except BaseException as exc:  # report on the console, never return into the shim
            try:
                os.write(write_fd, f"[pocketstack] instance start failed: {exc}\n".encode())
            finally:
                os._exit(127)
    os.close(write_fd)
    os.close(sync_r)
    try:
        _join_cgroups(pid, cfg.get("cgroup_procs", []))
        os.write(sync_w, b"1")
    except OSError as exc:
        console.note(f"could not join the cgroups: {exc}")
        os.kill(pid, signal.SIGKILL)
    os.close(sync_w)
    with open(os.path.join(inst, "init.pid.tmp"), "w") as f:
        f.write(str(pid))
    os.replace(os.path.join(inst, "init.pid.tmp"), os.path.join(inst, "init.pid"))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the driver signals the init, not us
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    serve_console(read_fd, console, os.path.join(inst, "console.sock"))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    console.note(f"instance init exited ({'signal ' + str(-code) if code < 0 else code})")
    with open(os.path.join(inst, "exit"), "w") as f:
        f.write(str(code))
    for name in ("init.pid", "shim.pid"):
        try:
            os.unlink(os.path.join(inst, name))
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1]))
