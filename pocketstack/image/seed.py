"""The seeded bootable image: a busybox rootfs built from what this machine has.

It plays CirrOS' role in DevStack for the container driver: a rootfs tarball of a
static busybox with its applet links, a little /etc, and an ``/init`` that brings up
the network by DHCP, reads the metadata service at 169.254.169.254 (hostname, SSH
keys, user data), says what it did on the console and stays up serving HTTP on
port 80. As CirrOS it has ``sudo`` (root is its only user: it runs the command) and a
``/tmp`` on its disk. It has no SSH server: the container driver serves SSH for it with the keys
the init wrote to /root/.ssh/authorized_keys
(:mod:`pocketstack.compute.drivers.container.sshd`). It is registered once as
``pocketstack-busybox`` (bare/raw, public, ``pocketstack_rootfs=tar``). When no static
busybox is found nothing is seeded: the log says so, and no fake file is registered.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import tarfile
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api.context import RequestContext

if TYPE_CHECKING:
    from pocketstack.image.service import ImageService

LOG = logging.getLogger(__name__)
IMAGE_NAME = "pocketstack-busybox"
CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox/busybox")

# The instance's PID 1. Console output is everything it prints.
INIT = r"""#!/bin/sh
# pocketstack-busybox init: network by DHCP, metadata, SSH keys, then stay up.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
log() { read -r up _ < /proc/uptime 2>/dev/null; echo "[${up:-?}] [pocketstack-init] $*"; }
[ -e /proc/self/stat ] || mount -t proc proc /proc 2>/dev/null  # (the driver's /proc)
mount -t tmpfs tmpfs /run 2>/dev/null  # (/tmp is on the disk, as CirrOS': it persists)
log "booting $(uname -sr), pid $$"
trap 'log "received SIGTERM, shutting down"; kill $HTTPD_PID 2>/dev/null; sync; exit 0' TERM
trap 'log "received SIGHUP"' HUP
ip link set lo up
IFACES=$(ls /sys/class/net 2>/dev/null | grep -v '^lo$')
[ -n "$IFACES" ] || IFACES=$(ip -o link | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p' | grep -v '^lo$')
for dev in $IFACES; do
  ip link set "$dev" up
  log "$dev: mac $(cat /sys/class/net/$dev/address 2>/dev/null)"
  if udhcpc -i "$dev" -s /etc/udhcpc.script -O staticroutes -t 10 -T 1 -A 2 -n -q \
      -x hostname:"$(hostname)"; then
    log "$dev: DHCP address $(ip -4 -o addr show dev $dev | awk '{print $4}')"
  else
    log "$dev: no DHCP lease"
  fi
done
MD=http://169.254.169.254/openstack/latest
got_md=no
i=0
while [ $i -lt 50 ]; do  # about 10 s: the proxy may come up just after the address
  if timeout 5 wget -q -O /run/meta_data.json "$MD/meta_data.json" 2>/dev/null; then
    got_md=yes; break
  fi
  i=$((i + 1))
  usleep 200000 2>/dev/null || sleep 1
done
if [ "$got_md" = yes ]; then
  log "metadata: read $MD/meta_data.json (attempt $((i + 1)))"
  name=$(sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p' /run/meta_data.json | head -n1)
  if [ -n "$name" ]; then hostname "$name"; log "hostname: $name"; fi
  mkdir -p /root/.ssh && chmod 700 /root/.ssh
  : > /root/.ssh/authorized_keys
  tr -d '\n' < /run/meta_data.json | \
    sed -n 's/.*"public_keys": *{\([^}]*\)}.*/\1/p' | tr ',' '\n' | \
    sed -n 's/^ *"[^"]*": *"\(.*\)" *$/\1/p' | sed 's/\\n$//' > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  keys=$(grep -c . /root/.ssh/authorized_keys)
  log "ssh: $keys key(s) installed in /root/.ssh/authorized_keys"
  sed -n 's/^\(ssh-[a-z0-9]* [^ ]*\).*/  \1/p' /root/.ssh/authorized_keys | cut -c1-60
  if timeout 5 wget -q -O /run/user_data "$MD/user_data" 2>/dev/null; then
    log "user_data: $(wc -c < /run/user_data) bytes"
    sed 's/^/  | /' /run/user_data | head -n 20
    if head -n1 /run/user_data | grep -q '^#!'; then
      chmod +x /run/user_data && log "running user_data" && /run/user_data
      log "user_data exited with $?"
    fi
  else
    log "user_data: none"
  fi
else
  log "metadata: 169.254.169.254 not reachable"
fi
mkdir -p /var/www
{ echo "hostname $(hostname)"; ip -4 -o addr show | awk '{print $2, $4}'; } > /var/www/index.html
httpd -p 80 -h /var/www -f &
HTTPD_PID=$!
log "up: httpd on port 80; hostname $(hostname)"
# a shell on the console (the terminal the serial console opens)
( while :; do sh -i </dev/tty >/dev/tty 2>&1; sleep 1; done ) &
while :; do
  sleep 3600 &
  wait $!
done
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
# udhcpc event script: apply the lease with busybox ip.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface" 2>/dev/null
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$1" = "0.0.0.0/0" ]; then ip route replace default via "$2" dev "$interface"
        else ip route replace "$1" via "$2" dev "$interface"; fi
        shift 2
      done
    else
      for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    [ -n "$hostname" ] && hostname "$hostname"
    echo "[pocketstack-init] lease: $ip/${mask} router ${router:-none} server ${serverid}"
    ;;
esac
exit 0
"""

# sudo for a world of one user, root (as CirrOS' user, Tempest's scenario helpers run
# `sudo CMD...`, `sudo sh -c '...'`): it runs the command as root, which the caller is;
# anyone else is refused (this image has no other account to switch from).
SUDO = r"""#!/bin/sh
# sudo of the pocketstack-busybox image: root is the only user; runs the command as root.
login=
while [ $# -gt 0 ]; do
  case "$1" in
    -i|-s|--login|--shell) login=yes; shift ;;
    -u|--user)
      case "$2" in root|0|'#0') shift 2 ;;
        *) echo "sudo: unknown user: $2" >&2; exit 1 ;; esac ;;
    -E|-H|-n|-S|-k|--preserve-env|--set-home|--non-interactive|--stdin) shift ;;
    --) shift; break ;;
    -*) echo "sudo: unsupported option: $1" >&2
        echo "usage: sudo [-i|-s] [-u root] [-n] [-E] [-H] [--] command [args]" >&2; exit 1 ;;
    *) break ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "sudo: $(id -un 2>/dev/null || id -u) is not root, the only user of this image" >&2
  exit 1
fi
if [ -n "$login" ]; then
  if [ $# -eq 0 ]; then cd /root 2>/dev/null; exec /bin/sh -l; fi
  exec /bin/sh -c "$*"
fi
if [ $# -eq 0 ]; then
  echo "usage: sudo [-i|-s] [-u root] [-n] [-E] [-H] [--] command [args]" >&2; exit 1
fi
exec "$@"
"""

ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hostname": "pocketstack\n",
    "etc/hosts": "127.0.0.1 localhost\n",
    "etc/resolv.conf": "",
    "etc/os-release": 'NAME="pocketstack-busybox"\nID=busybox\nPRETTY_NAME="pocketstack '
                      'busybox (cirros-like test image)"\n',
    "etc/motd": "pocketstack busybox test image\n",
}


def find_busybox() -> str | None:
    """A statically linked busybox on this machine, or None."""
    paths = list(CANDIDATES)
    try:
        out = subprocess.run(["dpkg", "-L", "busybox-static"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
        paths = [p for p in out.split() if p.endswith("/busybox")] + paths
    except (OSError, subprocess.SubprocessError):
        pass
    for path in paths:
        if os.path.isfile(path) and os.access(path, os.X_OK) and _is_static(path):
            return path
    return None


def _is_static(path: str) -> bool:
    """An ELF without a PT_INTERP program header (no dynamic loader needed)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
        return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3
                   for i in range(phnum))
    except (OSError, struct.error):
        return False


def applets(busybox: str) -> list[str]:
    out = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, timeout=10,
                         check=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def build_rootfs(busybox: str) -> bytes:
    """The rootfs tarball (uncompressed, deterministic ordering)."""
    buf = io.BytesIO()
    now = int(time.time())

    def add(name: str, data: bytes | None = None, mode: int = 0o644, kind: bytes = tarfile.REGTYPE,
            link: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.mtime, info.mode, info.type, info.linkname = now, mode, kind, link
        if data is not None:
            info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data is not None else None)

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys",
                  "dev", "run", "tmp", "var", "var/www", "mnt", "home"):
            add(d, mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
        with open(busybox, "rb") as f:
            add("bin/busybox", f.read(), 0o755)
        seen = {"bin/busybox"}
        for applet in applets(busybox):
            name = applet.lstrip("/")
            if name in seen or "/" not in name:
                continue
            seen.add(name)
            target = os.path.relpath("/bin/busybox", os.path.dirname("/" + name))
            add(name, mode=0o777, kind=tarfile.SYMTYPE, link=target)
        for name, text in ETC.items():
            add(name, text.encode())
        add("etc/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
        if "usr/bin/sudo" not in seen:  # (a busybox with a sudo applet keeps its own)
            add("usr/bin/sudo", SUDO.encode(), 0o755)
        add("init", INIT.encode(), 0o755)
    return buf.getvalue()


def _existing(svc: "ImageService") -> Any:
    from pocketstack.image.models import Image

    with svc.images.db.read() as s:
        return s.scalar(select(Image).where(Image.name == IMAGE_NAME,
                                            Image.status.in_(("active", "queued", "saving"))))


def seed_image(svc: "ImageService") -> str | None:
    """Register the busybox image once; returns its id (None when it cannot be built)."""
    try:
        return _seed(svc)
    except Exception:  # never keep the image service from starting
        LOG.exception("seeding the %s image failed", IMAGE_NAME)
        return None


def _seed(svc: "ImageService") -> str | None:
    found = _existing(svc)
    if found is not None and found.status == "active":
        return str(found.id)
    busybox = find_busybox()
    if busybox is None:
        LOG.warning("no statically linked busybox found (install Debian's busybox-static): "
                    "the bootable test image %s is not seeded", IMAGE_NAME)
        return None
    admin = svc.cloud.identity.resources.find_project("admin", "default")
    if admin is None:
        LOG.warning("project admin not found: the %s image is not seeded", IMAGE_NAME)
        return None
    data = build_rootfs(busybox)
    ctx = RequestContext(user_id="pocketstack", project_id=admin["id"],
                         roles=["admin", "member", "reader"])
    if found is None:
        image = svc.images.create(ctx, {
            "name": IMAGE_NAME, "container_format": "bare", "disk_format": "raw",
            "visibility": "public", "min_ram": 16, "pocketstack_rootfs": "tar",
            "os_distro": "busybox", "os_type": "linux", "hw_architecture": "x86_64",
            "description": "cirros-like test image: busybox rootfs with a DHCP and "
                           "metadata init (built at first start)"})
        image_id = image["id"]
    else:
        image_id = str(found.id)
    svc.write_data(ctx, image_id, lambda write: write(data))
    LOG.info("seeded image %s (%s): %d bytes, busybox from %s", IMAGE_NAME, image_id,
             len(data), busybox)
    return str(image_id)
