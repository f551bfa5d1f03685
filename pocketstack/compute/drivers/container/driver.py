"""The container driver: instances are Linux namespaces booting a Glance rootfs image
(or their root volume: :mod:`.bootvolume`).

Per instance (``DATA_DIR/instances/<uuid>/``): ``config.json`` (what the shim needs),
``upper``/``work`` (the overlay's writable layer: the instance's disk, kept across
stop/start), ``console.log`` (+ ``.1``); ``init.pid``, ``shim.pid``, ``console.sock``
(the serial console, :mod:`.console`) while it runs.
Namespaces: a named network namespace ``psi-<uuid>`` (``ip netns``) made by the driver,
and mount/PID/UTS/IPC namespaces made by the shim
(:mod:`pocketstack.compute.drivers.container.shim`). Limits: cgroups from the flavor
(:mod:`.cgroups`); pause/suspend use the freezer. Ports: :mod:`pocketstack.dataplane`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from pocketstack.compute import states
from pocketstack.compute.drivers.base import BuildFailed, ComputeDriver
from pocketstack.compute.drivers.consoleserver import ConsoleServer, local_address
from pocketstack.compute.drivers.container import bootvolume, console, cpuinfo, disks, sshd
from pocketstack.compute.drivers.container.attachments import Attachments
from pocketstack.compute.drivers.container.cgroups import Cgroups
from pocketstack.compute.drivers.container.phases import Phases
from pocketstack.config import Opt, register
from pocketstack.dataplane import ip

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
INST_PREFIX = "psi-"
_POWER_NAMES = {states.RUNNING: "running", states.SHUTDOWN: "shut down",
                states.PAUSED_POWER: "paused (frozen)", states.NOSTATE: "unknown"}

register(Opt("container", "shutdown_timeout", float, 10.0,
             "Seconds between SIGTERM and SIGKILL when an instance is stopped."),
         Opt("container", "console_log_max_bytes", int, 1 << 20,
             "Size at which an instance's console.log is rotated (one old copy kept)."),
         Opt("container", "pids_max", int, 1024, "pids cgroup limit per instance."),
         Opt("container", "dhcp_lease_time", int, 86400, "DHCP lease time in seconds."),
         Opt("container", "metadata_host", str, "",
             "Host of the metadata service the proxies forward to (default: the cloud's "
             "bind address)."),
         Opt("container", "metadata_port", int, 8775, "Port of the metadata service."))


# the shim without site (no site-packages scan, no editable-install finders: a few
# tenths of a second per start on a loaded machine); it needs only the standard library
_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(
    sys.modules["pocketstack"].__file__ or "")))
SHIM_ARGV = [sys.executable, "-S", "-c",
             f"import sys; sys.path.insert(0, {_PKG_ROOT!r}); "
             "from pocketstack.compute.drivers.container.shim import run; "
             "sys.exit(run(sys.argv[1]))"]


def requirements() -> list[str]:
    """What this machine lacks to run container instances (empty when all is there)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root privileges")
    if not os.path.exists("/proc/self/ns/net"):
        missing.append("namespaces")
    try:
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read():
                missing.append("overlayfs")
    except OSError:
        missing.append("overlayfs")
    for tool in ("ip", "tar", "dnsmasq"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            missing.append(tool)
    return missing


def netns_name(uuid: str) -> str:
    return INST_PREFIX + uuid


def hostname_for(name: str | None, uuid: str) -> str:
    host = re.sub(r"[^a-z0-9-]+", "-", (name or "").lower()).strip("-")[:63].strip("-")
    return host or "host-" + uuid[:8]


class ContainerDriver(Attachments, ComputeDriver):
    # Nova's capability names (the COMPUTE_* traits of the host's provider, see
    # compute/traits.py): rootfs tarballs only (disk_format raw); volumes attach with a
    # tag and may be multiattach; a port attached to a running container is plugged at its
    # next start or reboot, not hot-plugged (so no COMPUTE_NET_ATTACH_INTERFACE).
    capabilities = {
        "supports_attach_interface": False, "supports_device_tagging": True,
        "supports_tagged_attach_volume": True, "supports_multiattach": True,
        "supports_extend_volume": False, "supports_trusted_certs": False,
        "supports_bfv_rescue": False, "supports_image_type_raw": True,
    }

    def __init__(self, conf: Any) -> None:
        self.conf = conf
        self.host = socket.gethostname().split(".")[0] or "localhost"
        self.cloud: "Cloud | None" = None
        self.cgroups = Cgroups(pids_max=conf.get("container", "pids_max"))
        self._rootfs: Any = None
        self._dataplane: Any = None
        self._dir = ""
        self.ssh = sshd.SSHServers() if conf.get("container", "ssh_server") else None

    # -- set-up --------------------------------------------------------------------
    def init_host(self, cloud: "Cloud") -> None:
        from pocketstack.compute.drivers.container.rootfs import RootfsCache
        from pocketstack.dataplane.manager import Dataplane

        self.cloud = cloud
        self._dir = os.path.join(cloud.data_dir, "instances")
        self.consoles = ConsoleServer(console.opener(self._inst), self.conf.get(
            "DEFAULT", "hypervisor_console_port"), "container-consoles")
        self.consoles.bind = local_address(cloud.bind)
        self.consoles.address()  # the serial consoles' endpoint, for the serial proxy
        os.makedirs(self._dir, mode=0o700, exist_ok=True)
        self._rootfs = RootfsCache(cloud, os.path.join(self._dir, "_base"))
        bind = self.conf.get("container", "metadata_host") or cloud.bind
        if bind in ("0.0.0.0", "", "::"):
            bind = "127.0.0.1"
        upstream = f"http://{bind}:{self.conf.get('container', 'metadata_port')}"
        self._dataplane = Dataplane(cloud, os.path.join(cloud.data_dir, "dataplane"), upstream,
                                    self.conf.get("container", "dhcp_lease_time"))
        missing = requirements()
        if missing:
            LOG.warning("container driver: this machine lacks %s; instances cannot boot",
                        ", ".join(missing))
        LOG.info("container driver on %s: cgroups %s, instances in %s", self.host,
                 self.cgroups.describe(), self._dir)
        import threading

        threading.Thread(target=self.reconcile, name="container-reconcile", daemon=True).start()
        if self.ssh is not None:
            self.ssh.warm_up()
        self._dataplane.start_firewall_sync()

    def reconcile(self) -> None:
        """At start: restore the networks' daemons, report what the instances are doing
        (they keep running while pocketstack restarts)."""
        time.sleep(0.5)  # let the other services start first
        try:
            self._dataplane.reconcile()
        except Exception:
            LOG.exception("dataplane reconcile failed")
        for uuid in self.instance_uuids():
            state = self._power(uuid)
            LOG.info("instance %s found %s", uuid, _POWER_NAMES.get(state, state))
            if state in (states.RUNNING, states.PAUSED_POWER):
                self._serve_ssh(uuid)
        try:
            from pocketstack.compute.drivers.container.powersync import sync_power_states

            sync_power_states(self.cloud, self.host, self._power)
        except Exception:
            LOG.exception("power state sync failed")

    def instance_uuids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self._dir)
                          if os.path.exists(os.path.join(self._dir, n, "config.json")))
        except FileNotFoundError:
            return []

    def hosts(self) -> list[str]:
        return [self.host]

    def get_available_resource(self, host: str) -> dict[str, Any]:
        cpus = os.cpu_count() or 1
        mem = 1024
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemTotal:"):
                        mem = int(line.split()[1]) // 1024
        except OSError:
            pass
        st = os.statvfs(self._dir or "/")
        disk = st.f_blocks * st.f_frsize // (1 << 30)
        return {"vcpus": cpus, "memory_mb": mem, "local_gb": disk,
                "hypervisor_type": "container", "hypervisor_version": 1000,
                "cpu_info": {"arch": os.uname().machine, "model": "host",
                             "vendor": "pocketstack",
                             "topology": {"sockets": 1, "cores": cpus, "threads": 1},
                             "features": []}}

    # -- paths and state -------------------------------------------------------------
    def _inst(self, uuid: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F-]{8,64}", uuid):
            raise BuildFailed(f"invalid instance uuid {uuid!r}")
        return os.path.join(self._dir, uuid)

    def _read_pid(self, uuid: str, name: str) -> int | None:
        try:
            with open(os.path.join(self._inst(uuid), name)) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        try:
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
        except OSError:
            return None
        if name == "init.pid":  # PID 1 of its own namespace, not a recycled pid
            m = re.search(r"^NSpid:\s+(.*)$", status, re.M)
            if not m or m.group(1).split()[-1] != "1":
                return None
        return pid

    def _power(self, uuid: str) -> int:
        if not os.path.exists(os.path.join(self._inst(uuid), "config.json")):
            return states.NOSTATE
        if self._read_pid(uuid, "init.pid") is None:
            return states.SHUTDOWN
        if self.cgroups.frozen(uuid):
            return states.PAUSED_POWER
        return states.RUNNING

    def get_power_state(self, host: str, instance: dict[str, Any]) -> int | None:
        return self._power(instance["uuid"])

    # -- spawn ------------------------------------------------------------------------
    def spawn(self, host: str, instance: dict[str, Any]) -> None:
        if self.cloud is None:
            raise BuildFailed("the container driver was not initialised")
        missing = requirements()
        if missing:
            raise BuildFailed("container driver: this host lacks " + ", ".join(missing))
        uuid = instance["uuid"]
        inst = self._inst(uuid)
        previous = self._config(uuid)  # resize and rebuild spawn over an existing instance
        took = Phases()
        try:
            volumes = bootvolume.block_devices(self.cloud, uuid)
            root = next((v for v in volumes if v["boot"]), None)
            # (with an image too: one whose block device mappings made the volume)
            image_ref = None if root is not None else instance.get("image_ref")
            if not image_ref and root is None:
                raise BuildFailed("the container driver boots from an image or a volume "
                                  "(neither given)")
            lower = self._rootfs.get(image_ref) if image_ref else None
            took("rootfs")
            os.makedirs(inst, mode=0o700, exist_ok=True)
            ip.netns_add(netns_name(uuid))
            took("netns")
            procs = self.cgroups.create(uuid, instance.get("vcpus") or 1,
                                        instance.get("memory_mb") or 64)
            took("cgroups")
            cfg = {"uuid": uuid, "lower": lower, "netns_path": ip.netns_path(netns_name(uuid)),
                   "hostname": hostname_for(instance.get("name"), uuid),
                   "console_cap": self.conf.get("container", "console_log_max_bytes"),
                   "cgroup_procs": procs, "image_ref": instance.get("image_ref"),
                   "vcpus": instance.get("vcpus"), "memory_mb": instance.get("memory_mb"),
                   "root_gb": instance.get("root_gb"),
                   **(self._rootfs.runtime(image_ref) if image_ref else bootvolume.RUNTIME),
                   "ports": [], "devices": previous.get("devices") or {}}
            if root is not None:
                cfg["root_volume"] = bootvolume.ROOT_DEVICE
            if previous.get("rescue"):
                cfg["rescue"] = previous["rescue"]
            self._write_config(uuid, cfg)
            self._attach_volumes(uuid, volumes)
            if root is not None:  # what its file system runs (a docker image's command)
                self._root_runtime(uuid, root["path"], cfg)
            took("volumes")
            if previous:  # resize
                self._refresh_cpuinfo(uuid, instance.get("vcpus"))
            drive = disks.config_drive_path(instance)
            if drive and disks.CONFIG_DRIVE_DEVICE not in cfg["devices"]:
                self._attach(uuid, drive, disks.CONFIG_DRIVE_DEVICE, read_only=True)
            self._plug_ports(uuid)
            if cfg.get("network") == "static":  # a docker image: no DHCP client in it
                from pocketstack.compute.drivers.container import staticnet

                staticnet.configure(netns_name(uuid), self._dataplane.ports_for_instance(uuid),
                                    self._dataplane.net.subnet_info)
            took("ports")
            self._start(uuid, "spawn")
            took("start")
            # while the instance boots (its address is on the bridge); on a network that
            # runs already the dataplane's loop does it within a second
            self._sync_routers(if_new_networks=True)
            took("routers")
            LOG.info("spawned %s in %s", uuid, took)
        except BuildFailed:
            if not previous:
                self._cleanup(uuid)
            raise
        except Exception as exc:
            LOG.exception("spawning %s failed", uuid)
            if not previous:
                self._cleanup(uuid)
            raise BuildFailed(f"container driver: {exc}") from exc

    def _write_config(self, uuid: str, cfg: dict[str, Any]) -> None:
        path = os.path.join(self._inst(uuid), "config.json")
        with open(path + ".tmp", "w") as f:
            json.dump(cfg, f, indent=1)
        os.replace(path + ".tmp", path)

    def _config(self, uuid: str) -> dict[str, Any]:
        try:
            with open(os.path.join(self._inst(uuid), "config.json")) as f:
                return dict(json.load(f))
        except (OSError, ValueError):
            return {}

    def _plug_ports(self, uuid: str) -> None:
        """Plug the instance's ports that are not plugged yet (spawn, start, reboot)."""
        ports = self._dataplane.ports_for_instance(uuid)
        for port in ports:
            self._dataplane.plug(netns_name(uuid), port)
        cfg = self._config(uuid)
        known = {p["id"]: p for p in cfg.get("ports", [])}
        known.update({p["id"]: {"id": p["id"], "network_id": p["network_id"],
                                "mac_address": p["mac_address"]} for p in ports})
        cfg["ports"] = list(known.values())
        self._write_config(uuid, cfg)

    def _sync_routers(self, if_new_networks: bool = False) -> None:
        try:
            self._dataplane.sync_routers(if_new_networks)
        except Exception as exc:  # the sync loop retries every second
            LOG.warning("routers not applied: %s", exc)

    def _start(self, uuid: str, reason: str) -> None:
        inst = self._inst(uuid)
        if self._read_pid(uuid, "init.pid") is not None:
            return
        cfg = self._config(uuid)
        # the shim mounts it (a volume-backed instance has no disk of the flavor's)
        cfg["root_disk"] = None if cfg.get("root_volume") else \
            disks.ensure_root_disk(inst, cfg.get("root_gb"))
        cfg["reason"] = reason
        for dev in (cfg.get("devices") or {}).values():
            disks.reattach(dev)
        root = bootvolume.root_of(cfg)
        cfg["no_boot"] = bootvolume.no_boot_reason(root["file"]) if root else None
        if root and root.pop("grow", None) and not cfg["no_boot"]:
            bootvolume.grow(root)  # extended while its file system could not grow
        self._write_config(uuid, cfg)
        for name in ("init.pid", "shim.pid"):
            try:
                os.unlink(os.path.join(inst, name))
            except FileNotFoundError:
                pass
        log = open(os.path.join(inst, "shim.log"), "ab")
        shim = subprocess.Popen(SHIM_ARGV + [inst],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                close_fds=True, start_new_session=True, cwd="/")
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._read_pid(uuid, "init.pid") is not None:
                threading_reap(shim)
                self._serve_ssh(uuid)
                return
            if shim.poll() is not None:
                break
            time.sleep(0.01)
        tail = self.get_console_output(self.host, {"uuid": uuid}, 10)
        with open(os.path.join(inst, "shim.log"), errors="replace") as f:
            tail += f.read()[-800:]
        raise BuildFailed(f"instance {uuid} did not start: {tail.strip()[-1000:]}")

    def _serve_ssh(self, uuid: str) -> None:
        """SSH on port 22 in the instance's namespace (:mod:`.sshd`)."""
        if self.ssh is not None:
            self.ssh.serve(sshd.Instance(uuid, self._inst(uuid), ip.netns_path(netns_name(uuid)),
                                         lambda: self._read_pid(uuid, "init.pid"),
                                         self._config(uuid).get("cgroup_procs", [])))

    # -- stop and friends -----------------------------------------------------------
    def _stop(self, uuid: str, timeout: float) -> None:
        if self.ssh is not None:
            self.ssh.remove(uuid)
        if self.cgroups.frozen(uuid):
            self.cgroups.freeze(uuid, False)
        pid = self._read_pid(uuid, "init.pid")
        if pid is not None and timeout > 0:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._read_pid(uuid, "init.pid") == pid \
                    and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)
        pid = self._read_pid(uuid, "init.pid")
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for leftover in self.cgroups.pids(uuid):  # anything that escaped the PID namespace
            try:
                os.kill(leftover, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (self._read_pid(uuid, "shim.pid") is not None or
                                               self.cgroups.pids(uuid)):
            time.sleep(0.02)

    def power_off(self, host: str, instance: dict[str, Any]) -> None:
        self._stop(instance["uuid"], self.conf.get("container", "shutdown_timeout"))

    def power_on(self, host: str, instance: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        self._plug_ports(uuid)
        self._start(uuid, "power on")
        self._sync_routers()

    def reboot(self, host: str, instance: dict[str, Any], reboot_type: str) -> None:
        uuid = instance["uuid"]
        hard = str(reboot_type).upper() == "HARD"
        self._stop(uuid, 0 if hard else self.conf.get("container", "shutdown_timeout"))
        self._plug_ports(uuid)
        self._start(uuid, "hard reboot" if hard else "soft reboot")

    def pause(self, host: str, instance: dict[str, Any]) -> None:
        self.cgroups.freeze(instance["uuid"], True)

    def unpause(self, host: str, instance: dict[str, Any]) -> None:
        self.cgroups.freeze(instance["uuid"], False)

    def suspend(self, host: str, instance: dict[str, Any]) -> None:
        self.cgroups.freeze(instance["uuid"], True)

    def resume(self, host: str, instance: dict[str, Any]) -> None:
        self.cgroups.freeze(instance["uuid"], False)

    def resize_limits(self, instance: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        self.cgroups.set_limits(uuid, instance.get("vcpus") or 1, instance.get("memory_mb") or 64)
        cfg = self._config(uuid)
        if cfg:  # the next start's, and the running instance's /proc/cpuinfo
            cfg["vcpus"], cfg["memory_mb"] = instance.get("vcpus"), instance.get("memory_mb")
            self._write_config(uuid, cfg)
            self._refresh_cpuinfo(uuid, instance.get("vcpus"))

    def _refresh_cpuinfo(self, uuid: str, vcpus: int | None) -> None:
        """Rewrite an instance's /proc/cpuinfo (the shim wrote it at start) for ``vcpus``."""
        path = os.path.join(self._inst(uuid), "cpuinfo")
        if os.path.exists(path):
            cpuinfo.write(path, vcpus or 1)

    def destroy(self, host: str, instance: dict[str, Any]) -> None:
        self._cleanup(instance["uuid"])

    def rebuild(self, host: str, instance: dict[str, Any]) -> None:
        """A new root filesystem from the (new) image, as Nova rebuilds: the instance's
        layer and root disk are dropped; its volumes stay attached (the same loop
        devices, nodes made again by the new boot), ports and limits are kept."""
        uuid = instance["uuid"]
        if not self._config(uuid):
            self.spawn(host, instance)
            return
        self._stop(uuid, self.conf.get("container", "shutdown_timeout"))
        disks.wipe_root_disk(self._inst(uuid))
        cfg = self._config(uuid)
        cfg.pop("rescue", None)
        devices = cfg.get("devices") or {}
        drive = devices.pop(disks.CONFIG_DRIVE_DEVICE, None)
        # the root volume: Block Storage may have re-imaged it (2.93: a new file with the
        # new image's tarball); spawn attaches it again, formatted if it has to be
        root = devices.pop(cfg.pop("root_volume", ""), None)
        self._write_config(uuid, cfg)
        for dev in (drive, root):  # (the compute manager wrote a new config drive)
            if dev:
                disks.loop_detach(dev["loop"], dev.get("file"))
        self.spawn(host, instance)

    # -- rescue ------------------------------------------------------------------------
    def rescue(self, host: str, instance: dict[str, Any],
               rescue_image: dict[str, Any] | None) -> None:
        """Boot the rescue image's rootfs (over a fresh layer); the instance's own disk
        is mounted at /mnt/rescue inside it."""
        uuid = instance["uuid"]
        cfg = self._config(uuid)
        if not cfg:
            raise BuildFailed(f"instance {uuid} is not on this host")
        image_id = (rescue_image or {}).get("id") or cfg.get("image_ref")
        lower = self._rootfs.get(image_id)
        self._stop(uuid, self.conf.get("container", "shutdown_timeout"))
        for d in ("rescue-upper", "rescue-work"):
            shutil.rmtree(os.path.join(self._inst(uuid), d), ignore_errors=True)
        cfg = self._config(uuid)
        cfg["rescue"] = {"lower": lower, "image_ref": image_id, "disk_at": "/mnt/rescue",
                         **self._rootfs.runtime(image_id)}
        self._write_config(uuid, cfg)
        self._plug_ports(uuid)
        self._start(uuid, "rescue")

    def unrescue(self, host: str, instance: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        self._stop(uuid, self.conf.get("container", "shutdown_timeout"))
        cfg = self._config(uuid)
        cfg.pop("rescue", None)
        self._write_config(uuid, cfg)
        for d in ("rescue-upper", "rescue-work"):
            shutil.rmtree(os.path.join(self._inst(uuid), d), ignore_errors=True)
        self._plug_ports(uuid)
        self._start(uuid, "unrescue")

    # -- snapshots -----------------------------------------------------------------
    def snapshot(self, host: str, instance: dict[str, Any], write: Any) -> bool:
        """Stream the instance's filesystem (its layer over its image) as a rootfs
        tarball; a running instance is frozen meanwhile so the copy is consistent."""
        uuid = instance["uuid"]
        cfg = self._config(uuid)
        root = bootvolume.root_of(cfg)
        if not cfg.get("lower") and root is None:
            return False
        inst = self._inst(uuid)
        upper = os.path.join(inst, "upper")
        if not os.path.islink(upper):  # a link into the root disk (mounted in the snapshot)
            os.makedirs(upper, exist_ok=True)
        thaw = self._read_pid(uuid, "init.pid") is not None and not self.cgroups.frozen(uuid)
        if thaw:
            self.cgroups.freeze(uuid, True)
        try:
            mnt = os.path.join(inst, "snapshot-mnt")
            if root is not None:  # the volume's file system, as the instance sees it
                disks.stream_filesystem([], mnt, write, (root["loop"], mnt))
            else:
                loop = disks.root_loop(inst)
                disks.stream_filesystem([upper, cfg["lower"]], mnt, write,
                                        (loop, os.path.join(inst, disks.ROOT_MOUNT))
                                        if loop else None)
        finally:
            if thaw:
                self.cgroups.freeze(uuid, False)
        return True

    def _cleanup(self, uuid: str) -> None:
        inst = self._inst(uuid)
        cfg = self._config(uuid)
        self._stop(uuid, 0)
        disks.release_root_disk(inst)
        self.cgroups.remove(uuid)
        for dev in (cfg.get("devices") or {}).values():
            disks.loop_detach(dev["loop"], dev.get("file"))
        ports = {p["id"]: p for p in cfg.get("ports", [])}
        if self._dataplane is not None:
            try:
                for p in self._dataplane.ports_for_instance(uuid):
                    ports[p["id"]] = p
            except Exception:
                LOG.exception("listing the ports of %s failed", uuid)
            for port in ports.values():
                try:
                    self._dataplane.unplug(port, device_id=uuid)
                except Exception:
                    LOG.exception("unplugging port %s of %s failed", port.get("id"), uuid)
        ip.netns_delete(netns_name(uuid))
        shutil.rmtree(inst, ignore_errors=True)

    # -- console -------------------------------------------------------------------
    def get_remote_console(self, host: str, instance: dict[str, Any],
                           console_type: str) -> dict[str, Any]:
        if console_type != "serial":  # the init's terminal; no display
            raise NotImplementedError(f"container instances have no {console_type} console")
        address, port = self.consoles.address()
        return {"host": address, "port": port,
                "internal_access_path": f"/serial/{instance['uuid']}"}

    def get_console_output(self, host: str, instance: dict[str, Any],
                           length: int | None = None) -> str:
        inst = self._inst(instance["uuid"])
        text = ""
        for name in ("console.log.1", "console.log"):
            try:
                with open(os.path.join(inst, name), "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                pass
        if length is not None and length >= 0:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-length:]) if length else ""
        return text


def threading_reap(proc: subprocess.Popen[bytes]) -> None:
    """Reap the shim when it exits, without blocking (it outlives this call)."""
    import threading

    threading.Thread(target=proc.wait, name="container-shim-reaper", daemon=True).start()


def teardown_instances(instances_dir: str) -> list[str]:
    """Kill and remove every instance under ``instances_dir`` without a cloud (processes,
    cgroups, loop devices, namespaces, files): for a cloud thrown away by tests and
    benchmarks; the dataplane's part is :func:`pocketstack.dataplane.manager.teardown_state`."""
    from pocketstack.config import Config

    driver = ContainerDriver(Config.load())
    driver._dir = instances_dir
    removed = driver.instance_uuids()
    for uuid in removed:
        driver._cleanup(uuid)
    return removed
