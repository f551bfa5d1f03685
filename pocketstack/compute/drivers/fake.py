"""The fake driver: instances are records in memory on N fake hosts.

Fault injection for tests, from the server's metadata:
``fake_fail_build=1`` (every host) or ``fake_fail_build=host1,host2`` (those hosts)
makes the spawn fail there, so that the build is rescheduled.
``fake_fail_migrate=1`` (any destination) or ``=host1,host2`` (those destinations) makes
a cold or live migration fail; ``fake_migrate_seconds=N`` makes a live migration run N
seconds (so that it can be watched, aborted or force-completed).

Each instance keeps a console log of what happened to it (boot, power operations,
rescue, crash dumps), bounded to ``CONSOLE_LINES`` lines, served by get_console_output;
the admin password set by changePassword is recorded in ``passwords``. Serial and VNC
consoles are simulated by :mod:`pocketstack.compute.drivers.fakeconsole`.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable

from pocketstack.compute import states
from pocketstack.compute.drivers.base import BuildFailed, ComputeDriver
from pocketstack.compute.drivers.consoleserver import ConsoleServer, local_address
from pocketstack.compute.drivers.fakeconsole import opener
from pocketstack.compute.numa import host_cpu_sets
from pocketstack.compute.scheduler.pci import fake_devices

CONSOLE_LINES = 1000
Watcher = Callable[[list[str] | None], None]


class FakeDriver(ComputeDriver):
    # what Nova's drivers declare (Nova's names; compute/traits.py turns them into the
    # COMPUTE_* traits of the hosts' providers): what the compute service does for this
    # driver's guests. Every image format boots (the fake driver never reads the bytes);
    # trusted image certificates are refused by the API; a volume extend has no disk to grow.
    capabilities = {
        "supports_attach_interface": True, "supports_device_tagging": True,
        "supports_tagged_attach_interface": True, "supports_tagged_attach_volume": True,
        "supports_extend_volume": True, "supports_multiattach": True,
        "supports_trusted_certs": False, "supports_bfv_rescue": True,
        "supports_socket_pci_numa_affinity": True, "supports_pcpus": True,
        "supports_evacuate": True, "supports_migrate_to_same_host": False,
        **{f"supports_image_type_{t}": True for t in (
            "aki", "ami", "ari", "iso", "qcow2", "raw", "vdi", "vhd", "vhdx", "vmdk", "ploop")},
    }

    def __init__(self, conf: Any) -> None:
        count = max(1, int(conf.get("fake", "hosts")))
        self._hosts = [f"fake-host-{i}" for i in range(1, count + 1)]
        self.vcpus = conf.get("fake", "vcpus")
        self.memory_mb = conf.get("fake", "memory_mb")
        self.local_gb = conf.get("fake", "local_gb")
        self.delay = conf.get("fake", "delay")
        self.numa_nodes = conf.get("fake", "numa_nodes")
        self.hugepages_2m = conf.get("fake", "hugepages_2m")
        self.threads = max(1, int(conf.get("fake", "cpu_threads")))
        self.sockets = max(0, int(conf.get("fake", "sockets")))
        self.cpu_features = sorted({str(f).strip() for f in conf.get("fake", "cpu_features")
                                    if str(f).strip()})
        self.conf = conf
        # (shared, pinnable, legacy) of the simulated hosts' CPUs 0..vcpus-1; those not in
        # [fake] cpu_dedicated_hosts (when set) are configured without cpu_dedicated_set
        only = set(conf.get("fake", "cpu_dedicated_hosts"))
        try:
            self._cpu_sets = {here: host_cpu_sets(conf, list(range(self.vcpus)), here)
                              for here in (True, False)}
        except ValueError as exc:
            raise ValueError(f"invalid [compute] cpu_dedicated_set/cpu_shared_set: {exc}") \
                from None
        self._dedicated_hosts = only
        self._lock = threading.Lock()
        self._power: dict[str, int] = {}
        self._console: dict[str, collections.deque[str]] = {}
        self.passwords: dict[str, str] = {}
        self.rescued: dict[str, str | None] = {}  # uuid -> rescue image id
        self._booted: dict[str, float] = {}
        self.console_names: dict[str, str] = {}  # uuid -> the guest's name (its prompt)
        self._watchers: dict[str, list[Watcher]] = {}
        self.consoles = ConsoleServer(opener(self), conf.get("DEFAULT",
                                                             "hypervisor_console_port"),
                                      "fake-consoles")

    def init_host(self, cloud: Any) -> None:
        self.consoles.bind = local_address(cloud.bind)  # the hypervisors' side
        self.consoles.address()  # listening now: tokens made before a restart still work

    def hosts(self) -> list[str]:
        return list(self._hosts)

    def cpu_sets(self, host: str) -> tuple[set[int], set[int], bool]:
        return self._cpu_sets[not self._dedicated_hosts or host in self._dedicated_hosts]

    def get_available_resource(self, host: str) -> dict[str, Any]:
        shared, dedicated, legacy = self.cpu_sets(host)
        return {"vcpus": len(shared), **({} if legacy else {"pcpus": len(dedicated)}),
                "memory_mb": self.memory_mb, "local_gb": self.local_gb,
                "hypervisor_type": "fake", "hypervisor_version": 1000,
                "cpu_info": {"arch": "x86_64", "model": "fake", "vendor": "pocketstack",
                             "topology": self._topology(),
                             "features": self.cpu_features},
                # as Nova's fake driver: what ImagePropertiesFilter matches images against
                "supported_instances": [("x86_64", "fake", "hvm")],
                "pci_passthrough_devices": fake_devices(self.conf, host)}

    def _topology(self) -> dict[str, int]:
        sockets = self.sockets or max(1, min(self.numa_nodes, self.vcpus))
        return {"sockets": sockets, "cores": max(1, self.vcpus // self.threads // sockets),
                "threads": self.threads}

    def numa_topology(self, host: str) -> list[dict[str, Any]]:
        """The host's simulated NUMA cells: CPUs 0..vcpus-1 and RAM split evenly, each
        cell with ``hugepages_2m`` 2 MiB pages taken from its RAM (none when numa_nodes is
        0); a cell's ``cpus`` are its shared CPUs, ``pcpus`` those guests may be pinned to
        (``[compute] cpu_shared_set``/``cpu_dedicated_set``, see numa.host_cpu_sets);
        ``siblings``: its CPUs by core, ``[fake] cpu_threads`` consecutive CPUs a core;
        ``socket``: ``[fake] sockets`` (default one a cell)."""
        n = max(0, min(self.numa_nodes, self.vcpus))
        if not n:
            return []
        shared, pinnable, _ = self.cpu_sets(host)
        per_cpu, per_mem = self.vcpus // n, self.memory_mb // n
        huge = min(self.hugepages_2m, per_mem // 2)
        sockets, cells = self.sockets or n, []
        for i in range(n):
            mine = range(i * per_cpu, (i + 1) * per_cpu)
            cores = [list(mine[k:k + self.threads]) for k in range(0, per_cpu, self.threads)]
            cells.append({"id": i, "cpus": [c for c in mine if c in shared],
                          "pcpus": [c for c in mine if c in pinnable],
                          "memory_mb": per_mem - huge * 2, "pages": {2048: huge},
                          "siblings": cores if self.threads > 1 else [],
                          "socket": i * sockets // n})
        return cells

    @staticmethod
    def _targets(instance: dict[str, Any], key: str, host: str) -> bool:
        value = str(instance.get("metadata", {}).get(key, "")).strip()
        return bool(value) and (value.lower() in ("1", "true", "yes") or
                                host in value.split(","))

    def _log(self, uuid: str, *lines: str) -> None:
        stamp = time.monotonic() - self._booted.get(uuid, time.monotonic())
        with self._lock:
            log = self._console.setdefault(uuid, collections.deque(maxlen=CONSOLE_LINES))
            added = [f"[{stamp:12.6f}] {line}" for line in lines]
            log.extend(added)
            watchers = list(self._watchers.get(uuid, ()))
        for watcher in watchers:  # consoles open on this guest see the lines live
            watcher(added)

    def _work(self, uuid: str, power: int | None, *lines: str) -> None:
        if self.delay:
            time.sleep(self.delay)
        if power is None:
            with self._lock:
                self._power.pop(uuid, None)
                self._console.pop(uuid, None)
                self.passwords.pop(uuid, None)
                self.rescued.pop(uuid, None)
                self._booted.pop(uuid, None)
                self.console_names.pop(uuid, None)
                watchers = self._watchers.pop(uuid, [])
            for watcher in watchers:  # the guest is gone: its consoles close
                watcher(None)
            return
        with self._lock:
            self._power[uuid] = power
        if lines:
            self._log(uuid, *lines)

    def _boot(self, instance: dict[str, Any], what: str) -> None:
        uuid = instance["uuid"]
        self._booted.setdefault(uuid, time.monotonic())
        self._work(uuid, states.RUNNING, f"Linux version 6.1.0-fake ({what})",
                   f"Booting {instance.get('name', uuid)} from image "
                   f"{instance.get('image_ref') or 'volume'}",
                   f"Memory: {instance.get('memory_mb', 0)}M, CPUs: "
                   f"{instance.get('vcpus', 0)}", "cloud-init: fake datasource found",
                   f"{instance.get('name', uuid)} login:")

    def spawn(self, host: str, instance: dict[str, Any]) -> None:
        if self._targets(instance, "fake_fail_build", host):
            if self.delay:
                time.sleep(self.delay)
            raise BuildFailed(f"fake driver: injected build failure on {host}")
        self._boot(instance, f"spawn on {host}")

    def destroy(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], None)

    def power_off(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.SHUTDOWN, "reboot: Power down")

    def power_on(self, host: str, instance: dict[str, Any]) -> None:
        self._boot(instance, "power on")

    def reboot(self, host: str, instance: dict[str, Any], reboot_type: str) -> None:
        self._log(instance["uuid"], f"reboot: Restarting system ({reboot_type.lower()})")
        self._boot(instance, f"{reboot_type.lower()} reboot")

    def pause(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.PAUSED_POWER)

    def unpause(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.RUNNING)

    def suspend(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.SUSPENDED_POWER, "PM: suspend entry (deep)")

    def resume(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.RUNNING, "PM: suspend exit")

    def rescue(self, host: str, instance: dict[str, Any],
               rescue_image: dict[str, Any] | None) -> None:
        image = (rescue_image or {}).get("id") or instance.get("image_ref")
        with self._lock:
            self.rescued[instance["uuid"]] = image
        self._log(instance["uuid"], "reboot: Power down")
        self._work(instance["uuid"], states.RUNNING, f"Booting rescue image {image}",
                   "rescue: original disk attached as /dev/vdb")

    def unrescue(self, host: str, instance: dict[str, Any]) -> None:
        with self._lock:
            self.rescued.pop(instance["uuid"], None)
        self._log(instance["uuid"], "reboot: Power down (leaving rescue)")
        self._boot(instance, "unrescue")

    def get_console_output(self, host: str, instance: dict[str, Any],
                           length: int | None = None) -> str:
        with self._lock:
            lines = list(self._console.get(instance["uuid"], ()))
        if length is not None and length >= 0:
            lines = lines[-length:] if length else []
        return "".join(line + "\n" for line in lines)

    def get_remote_console(self, host: str, instance: dict[str, Any],
                           console_type: str) -> dict[str, Any]:
        if console_type not in ("serial", "vnc"):
            raise NotImplementedError(f"the fake driver has no {console_type} console")
        with self._lock:
            self.console_names[instance["uuid"]] = instance.get("name") or instance["uuid"]
        address, port = self.consoles.address()
        return {"host": address, "port": port,
                "internal_access_path": f"/{console_type}/{instance['uuid']}"}

    def console_running(self, uuid: str) -> bool:
        """Whether the guest's consoles answer: not when it is stopped, paused or
        suspended; a guest this process never saw (booted before a restart: the fake
        keeps no state on disk) runs as far as the database knows."""
        with self._lock:
            return self._power.get(uuid, states.RUNNING) == states.RUNNING

    def watch_console(self, uuid: str, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher`` with the lines the guest logs from now on (None when it is
        destroyed); returns the function that stops watching."""
        with self._lock:
            self._watchers.setdefault(uuid, []).append(watcher)

        def stop() -> None:
            with self._lock:
                watchers = self._watchers.get(uuid, [])
                if watcher in watchers:
                    watchers.remove(watcher)

        return stop

    def set_admin_password(self, host: str, instance: dict[str, Any], new_pass: str) -> None:
        with self._lock:
            self.passwords[instance["uuid"]] = new_pass
        self._log(instance["uuid"], "cloud-init: administrator password changed")

    def trigger_crash_dump(self, host: str, instance: dict[str, Any]) -> None:
        self._log(instance["uuid"], "Uhhuh. NMI received for unknown reason 3d on CPU 0.",
                  "Kernel panic - not syncing: NMI: Not continuing",
                  "kdump: saving vmcore")

    def get_instance_diagnostics(self, host: str, instance: dict[str, Any]) -> dict[str, Any]:
        uuid = instance["uuid"]
        with self._lock:
            power = self._power.get(uuid, states.NOSTATE)
            booted = self._booted.get(uuid)
        uptime = int(time.monotonic() - booted) if booted else 0
        vcpus, mem = int(instance.get("vcpus") or 0), int(instance.get("memory_mb") or 0)
        state = {states.RUNNING: "running", states.PAUSED_POWER: "paused",
                 states.SHUTDOWN: "shutdown", states.SUSPENDED_POWER: "suspended",
                 states.CRASHED: "crashed"}.get(power, "pending")
        return {"state": state, "driver": "fake", "hypervisor": "fake",
                "hypervisor_os": "fake-os", "uptime": uptime, "config_drive": False,
                "num_cpus": vcpus, "num_nics": 0, "num_disks": 1,
                "memory_details": {"maximum": mem, "used": 0},
                "cpu_details": [{"id": i, "time": uptime * 10 ** 9, "utilisation": None}
                                for i in range(vcpus)],
                "nic_details": [],
                "disk_details": [{"read_bytes": 0, "read_requests": 0, "write_bytes": 0,
                                  "write_requests": 0, "errors_count": 0}]}

    def migrate(self, source: str, dest: str, instance: dict[str, Any], live: bool) -> None:
        """Cold: the instance stops on ``source`` and is ready (powered as it was) on
        ``dest``. Live: it keeps running; the move takes ``fake_migrate_seconds`` (or the
        driver delay), watching the manager's abort / force_complete events."""
        from pocketstack.compute.live_migration import MigrationAborted

        if self._targets(instance, "fake_fail_migrate", dest):
            raise RuntimeError(f"fake driver: injected migration failure to {dest}")
        if not live:
            with self._lock:
                power = self._power.get(instance["uuid"], states.RUNNING)
            self._work(instance["uuid"], power)
            return
        control = instance.get("migration_control") or {}
        try:
            seconds = float(instance.get("metadata", {}).get("fake_migrate_seconds",
                                                               self.delay) or 0)
        except ValueError:
            seconds = self.delay
        abort, force = control.get("abort"), control.get("force_complete")
        deadline = time.monotonic() + max(0.0, seconds)
        while time.monotonic() < deadline:
            if abort is not None and abort.is_set():
                raise MigrationAborted(f"live migration of {instance['uuid']} aborted")
            if force is not None and force.is_set():
                break
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        if abort is not None and abort.is_set():
            raise MigrationAborted(f"live migration of {instance['uuid']} aborted")

    def get_power_state(self, host: str, instance: dict[str, Any]) -> int | None:
        with self._lock:
            return self._power.get(instance["uuid"])
