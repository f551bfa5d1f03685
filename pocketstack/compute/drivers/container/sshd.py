"""SSH into container instances: a small SSH server run by the driver, not by the guest.

What it is, honestly: images such as the seeded busybox have no SSH server, so the
driver serves SSH for them, as a real guest's sshd would appear from outside. One
thread of the pocketstack process runs an asyncio loop with asyncssh; for each running
instance it holds a listening socket on port 22 created *inside the instance's network
namespace* (IPv4 and IPv6). So a client reaches it exactly as it would reach a guest's
sshd: at the instance's fixed or floating address, through the network's bridge, where
the security groups (nftables, :mod:`pocketstack.dataplane.firewall`) decide whether
port 22 is reachable at all.

- Host key: one ed25519 key per instance (``INSTANCE_DIR/ssh_host_ed25519_key``, made at
  first start, deleted with the instance), as each guest has its own.
- Authentication: public keys only, against the instance's own
  ``~USER/.ssh/authorized_keys`` (the user and home from the instance's ``/etc/passwd``),
  read at each login from the instance's root filesystem (the seeded image's init writes
  the metadata service's keys there, as cloud-init does). Symbolic links on that path
  are not followed. No password, no port or agent forwarding, no SFTP.
- Sessions: the command (or a login shell, with a pseudo-terminal when the client asks
  for one) runs *in* the instance: ``nsenter`` into its mount, UTS, IPC, network and
  PID namespaces and its root, as the user's uid/gid, in the user's home, in the
  instance's cgroups (its CPU, memory and pids limits apply); the exit status is sent
  back. Killed when the client goes away.
- While pocketstack is down, port 22 of the instances does not answer (they keep
  running); its next start serves them again, with the same host keys.
- Cost: asyncssh is imported once (about 0.3 s of CPU, in the background at start);
  then about 2 ms per instance start (its host key, its listening socket).
- Images that bring their own SSH server (``sshd`` or ``dropbear`` in the image) are
  left alone: nothing of this listens in them. ``[container] ssh_server = false``
  turns it off for every instance.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import signal
import socket
import stat
import struct
import termios
import threading
from typing import Any, Callable

from pocketstack.compute.drivers.container import linux
from pocketstack.config import Opt, register

LOG = logging.getLogger(__name__)
register(Opt("container", "ssh_server", bool, True,
             "Serve SSH on port 22 of instances whose image has no SSH server of its own "
             "(commands run inside the instance; keys from its authorized_keys)."))
GUEST_SSH_SERVERS = ("usr/sbin/sshd", "sbin/sshd", "usr/sbin/dropbear", "sbin/dropbear",
                     "usr/bin/dropbear")
HOST_KEY = "ssh_host_ed25519_key"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# on the host, before nsenter: join the instance's cgroups ("$1".. up to --), then exec
_JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; ' \
                'shift; exec "$@"'


def image_has_ssh_server(roots: list[str]) -> bool:
    return any(os.path.lexists(os.path.join(r, p)) for r in roots if r for p in GUEST_SSH_SERVERS)


def read_in_root(root: str, path: str, limit: int = 1 << 20) -> str | None:
    """A file of the instance (``root`` = ``/proc/PID/root``), never following a symbolic
    link (which would resolve against the host's root); None when absent or unsafe."""
    parts = [p for p in path.split("/") if p and p != "."]
    if not parts or ".." in parts:
        return None
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            nfd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = nfd
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def passwd_entry(root: str, user: str) -> dict[str, Any] | None:
    text = read_in_root(root, "/etc/passwd") or ""
    for line in text.splitlines():
        f = line.split(":")
        if len(f) >= 7 and f[0] == user:
            try:
                return {"uid": int(f[2]), "gid": int(f[3]), "home": f[5] or "/",
                        "shell": f[6] or "/bin/sh"}
            except ValueError:
                return None
    return None


class Instance:
    """What the server needs to know about one instance (from the driver)."""

    def __init__(self, uuid: str, inst_dir: str, netns_path: str,
                 init_pid: Callable[[], int | None], cgroup_procs: list[str]) -> None:
        self.uuid, self.dir, self.netns_path = uuid, inst_dir, netns_path
        self.init_pid, self.cgroup_procs = init_pid, cgroup_procs
        self.options: Any = None
        self.sockets: list[socket.socket] = []
        self.tasks: list[asyncio.Task[None]] = []


def _listen_in(netns_path: str, port: int) -> list[socket.socket]:
    """Listening sockets on ``port`` created in another network namespace (in a thread
    of their own, which ends there: the caller's namespace is never changed)."""
    out: list[Any] = []

    def make() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                linux.setns(fd, linux.CLONE_NEWNET)
            finally:
                os.close(fd)
            sock: socket.socket | None = None
            try:  # IPv6 and IPv4 on one socket
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::", port))
            except OSError:  # no IPv6 here
                if sock is not None:
                    sock.close()
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("0.0.0.0", port))
            sock.listen(64)
            sock.setblocking(False)
            out.append(sock)
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=make, name="container-ssh-listen")
    t.start()
    t.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out


class SSHServers:
    """The SSH servers of this host's instances (one asyncio loop in one thread)."""

    def __init__(self, port: int = 22) -> None:
        self.port = port
        self.nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
        if not os.path.exists(self.nsenter):
            LOG.warning("ssh: no nsenter (util-linux) on this host: SSH logins to instances "
                        "will fail to run their commands")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._instances: dict[str, Instance] = {}

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="container-ssh",
                                 daemon=True).start()
                self._loop = loop
            return self._loop

    def warm_up(self) -> None:
        """Import asyncssh in the background (not on the first instance's boot)."""
        def load() -> None:
            try:
                import asyncssh  # noqa: F401
            except Exception:
                LOG.exception("ssh: asyncssh cannot be imported")

        threading.Thread(target=load, name="container-ssh-import", daemon=True).start()

    def serving(self, uuid: str) -> bool:
        return uuid in self._instances

    def serve(self, inst: Instance) -> None:
        """Serve SSH for a running instance unless it is served already or its image
        has an SSH server of its own; a failure is logged (the instance runs anyway)."""
        pid = inst.init_pid()
        if pid is None or self.serving(inst.uuid) or \
                image_has_ssh_server([f"/proc/{pid}/root"]):
            return
        try:
            self.add(inst)
        except Exception as exc:
            LOG.warning("ssh: not serving instance %s: %s", inst.uuid, exc)

    def add(self, inst: Instance) -> None:
        """Serve SSH in the instance's namespace (a no-op when it is served already)."""
        import asyncssh

        if inst.uuid in self._instances:
            return
        key_path = os.path.join(inst.dir, HOST_KEY)
        if os.path.exists(key_path):
            key = asyncssh.read_private_key(key_path)
        else:
            key = asyncssh.generate_private_key("ssh-ed25519", comment=f"instance-{inst.uuid}")
            key.write_private_key(key_path + ".tmp")
            os.chmod(key_path + ".tmp", 0o600)
            os.replace(key_path + ".tmp", key_path)
        loop = self._ensure_loop()
        inst.sockets = _listen_in(inst.netns_path, self.port)

        async def start() -> None:
            inst.options = asyncssh.SSHServerConnectionOptions(
                server_host_keys=[key], server_factory=lambda: _Server(inst),
                process_factory=lambda process: self._session(inst, process),
                encoding=None, line_editor=False, agent_forwarding=False,
                x11_forwarding=False, allow_scp=False, sftp_factory=None,
                password_auth=False, kbdint_auth=False, login_timeout=60)
            inst.tasks = [loop.create_task(self._accept(inst, s)) for s in inst.sockets]

        asyncio.run_coroutine_threadsafe(start(), loop).result(30)
        self._instances[inst.uuid] = inst
        LOG.info("ssh: serving instance %s on port %d in its namespace (host key %s)",
                 inst.uuid, self.port, key.get_fingerprint())

    def remove(self, uuid: str) -> None:
        inst = self._instances.pop(uuid, None)
        if inst is None or self._loop is None:
            return

        async def stop() -> None:
            for task in inst.tasks:
                task.cancel()
            for sock in inst.sockets:
                sock.close()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        except Exception:
            LOG.exception("ssh: stopping the server of %s failed", uuid)

    async def _accept(self, inst: Instance, listener: socket.socket) -> None:
        import asyncssh

        loop = asyncio.get_running_loop()

        async def serve(conn: socket.socket) -> None:
            try:
                await asyncssh.run_server(conn, options=inst.options)
            except Exception as exc:  # a client that failed to log in, a scan...
                LOG.debug("ssh: connection to %s ended: %s", inst.uuid, exc)

        while True:
            conn, _ = await loop.sock_accept(listener)
            conn.setblocking(False)
            loop.create_task(serve(conn))

    # -- sessions ---------------------------------------------------------------------
    def _argv(self, inst: Instance, pid: int, user: dict[str, Any], command: str | None,
              pty: bool) -> list[str]:
        root = f"/proc/{pid}/root"
        home = user["home"] if os.path.isdir(os.path.join(root, user["home"].lstrip("/"))) \
            else "/"
        shell = user["shell"]
        argv = [self.nsenter, "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-r",
                f"--wdns={home}", "-S", str(user["uid"]), "-G", str(user["gid"]), "--"]
        argv += [shell, "-c", command] if command is not None else [shell, "-l"]
        if pty:  # a new session whose controlling terminal is the pty (job control, ^C)
            argv = ["setsid", "-c", "-w", *argv]
        return ["/bin/sh", "-c", _JOIN_CGROUPS, "sh", *inst.cgroup_procs, "--", *argv]

    async def _session(self, inst: Instance, process: Any) -> None:
        conn = process.get_extra_info("connection")
        username = process.get_extra_info("username")
        pid = inst.init_pid()
        user = passwd_entry(f"/proc/{pid}/root", username) if pid else None
        if pid is None or user is None:
            process.stderr.write(b"the instance is not running\r\n")
            process.exit(255)
            return
        peer = conn.get_extra_info("peername") or ("?", 0)
        peer = (str(peer[0]).removeprefix("::ffff:"), peer[1])  # an IPv4 client
        env = {"PATH": PATH, "HOME": user["home"], "USER": username, "LOGNAME": username,
               "SHELL": user["shell"], "SSH_CLIENT": f"{peer[0]} {peer[1]} {self.port}"}
        pty = process.term_type is not None
        if pty:
            env["TERM"] = process.term_type
        argv = self._argv(inst, pid, user, process.command, pty)
        LOG.info("ssh: %s@%s from %s: %s", username, inst.uuid, peer[0],
                 "shell" if process.command is None else f"{len(process.command)}-byte command")
        if pty:
            code = await self._run_pty(process, argv, env)
        else:
            code = await self._run_pipes(process, argv, env)
        process.exit(code if code >= 0 else 128 - code)

    @staticmethod
    async def _pump(reader: Any, write: Callable[[bytes], Any]) -> None:
        while True:
            try:
                data = await reader.read(65536)
            except OSError:  # EIO: the pty's last holder is gone
                return
            if not data:
                return
            write(data)

    @staticmethod
    async def _feed(process: Any, write: Callable[[bytes], Any], eof: Callable[[], Any],
                    resize: Callable[[Any], Any] | None = None) -> None:
        import asyncssh

        try:
            while True:
                try:
                    data = await process.stdin.read(65536)
                except asyncssh.TerminalSizeChanged as change:
                    if resize:
                        resize(change)
                    continue
                except asyncssh.BreakReceived:
                    continue
                if not data:
                    break
                write(data)
        except (OSError, asyncssh.Error):
            pass
        finally:
            try:
                eof()
            except OSError:
                pass

    async def _finish(self, process: Any, proc: Any, copies: list[Any], feed: Any) -> int:
        """Wait for the command (killing it when the client goes away first)."""
        closed = asyncio.ensure_future(process.wait_closed())
        done = asyncio.ensure_future(asyncio.gather(proc.wait(), *copies))
        await asyncio.wait([closed, done], return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        code = await proc.wait()
        for fut in (closed, feed, done):
            fut.cancel()
        return int(code)

    async def _run_pipes(self, process: Any, argv: list[str], env: dict[str, str]) -> int:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True, cwd="/")

        def to_stdin(data: bytes) -> None:
            proc.stdin.write(data)

        feed = asyncio.ensure_future(self._feed(process, to_stdin, proc.stdin.close))
        copies = [self._pump(proc.stdout, process.stdout.write),
                  self._pump(proc.stderr, process.stderr.write)]
        return await self._finish(process, proc, copies, feed)

    async def _run_pty(self, process: Any, argv: list[str], env: dict[str, str]) -> int:
        loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        width, height, pixw, pixh = process.term_size

        def winsize(cols: int, rows: int, pw: int = 0, ph: int = 0) -> None:
            fcntl.ioctl(master, termios.TIOCSWINSZ,
                        struct.pack("HHHH", rows or 24, cols or 80, pw, ph))

        winsize(width, height, pixw, pixh)
        try:
            proc = await asyncio.create_subprocess_exec(*argv, stdin=slave, stdout=slave,
                                                        stderr=slave, env=env, cwd="/")
        finally:
            os.close(slave)
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(master), "rb", 0))

        def to_tty(data: bytes) -> None:
            os.write(master, data)

        feed = asyncio.ensure_future(self._feed(
            process, to_tty, lambda: os.write(master, b"\x04"),
            lambda c: winsize(c.width, c.height, c.pixwidth, c.pixheight)))
        try:
            return await self._finish(process, proc, [self._pump(reader, process.stdout.write)],
                                      feed)
        finally:
            transport.close()
            os.close(master)


def _server_class() -> type:
    import asyncssh

    class Server(asyncssh.SSHServer):  # type: ignore[misc]
        """Public-key logins against the instance's authorized_keys."""

        def __init__(self, inst: Instance) -> None:
            self.inst = inst
            self.conn: Any = None

        def connection_made(self, conn: Any) -> None:
            self.conn = conn

        def begin_auth(self, username: str) -> bool:
            pid = self.inst.init_pid()
            user = passwd_entry(f"/proc/{pid}/root", username) if pid else None
            keys = []
            if user is not None:
                text = read_in_root(f"/proc/{pid}/root",
                                    user["home"].rstrip("/") + "/.ssh/authorized_keys") or ""
                for line in text.splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        keys.append(line.strip())
            good = []
            for line in keys:  # a line the parser rejects does not void the others
                try:
                    asyncssh.import_authorized_keys(line + "\n")
                    good.append(line)
                except (ValueError, asyncssh.Error):
                    pass
            self.conn.set_authorized_keys(asyncssh.import_authorized_keys(
                "".join(k + "\n" for k in good)))
            return True

        def public_key_auth_supported(self) -> bool:
            return True

    return Server


_SERVER: type | None = None


def _Server(inst: Instance) -> Any:  # noqa: N802  (the asyncssh server class, built lazily)
    global _SERVER
    if _SERVER is None:
        _SERVER = _server_class()
    return _SERVER(inst)
