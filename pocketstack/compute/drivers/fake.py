"""The fake driver: instances are records in memory on N fake hosts.

Fault injection for tests, from the server's metadata:
``fake_fail_build=1`` (every host) or ``fake_fail_build=host1,host2`` (those hosts)
makes the spawn fail there, so that the build is rescheduled.
``fake_fail_migrate=1`` (any destination) or ``=host1,host2`` (those destinations) makes
a cold or live migration fail; ``fake_migrate_seconds=N`` makes a live migration run N
seconds (so that it can be watched, aborted or force-completed).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pocketstack.compute import states
from pocketstack.compute.drivers.base import BuildFailed, ComputeDriver


class FakeDriver(ComputeDriver):
    def __init__(self, conf: Any) -> None:
        count = max(1, int(conf.get("fake", "hosts")))
        self._hosts = [f"fake-host-{i}" for i in range(1, count + 1)]
        self.vcpus = conf.get("fake", "vcpus")
        self.memory_mb = conf.get("fake", "memory_mb")
        self.local_gb = conf.get("fake", "local_gb")
        self.delay = conf.get("fake", "delay")
        self._lock = threading.Lock()
        self._power: dict[str, int] = {}

    def hosts(self) -> list[str]:
        return list(self._hosts)

    def get_available_resource(self, host: str) -> dict[str, Any]:
        return {"vcpus": self.vcpus, "memory_mb": self.memory_mb, "local_gb": self.local_gb,
                "hypervisor_type": "fake", "hypervisor_version": 1000,
                "cpu_info": {"arch": "x86_64", "model": "fake", "vendor": "pocketstack",
                             "topology": {"sockets": 1, "cores": self.vcpus, "threads": 1},
                             "features": []}}

    @staticmethod
    def _targets(instance: dict[str, Any], key: str, host: str) -> bool:
        value = str(instance.get("metadata", {}).get(key, "")).strip()
        return bool(value) and (value.lower() in ("1", "true", "yes") or
                                host in value.split(","))

    def _work(self, uuid: str, power: int | None) -> None:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if power is None:
                self._power.pop(uuid, None)
            else:
                self._power[uuid] = power

    def spawn(self, host: str, instance: dict[str, Any]) -> None:
        if self._targets(instance, "fake_fail_build", host):
            if self.delay:
                time.sleep(self.delay)
            raise BuildFailed(f"fake driver: injected build failure on {host}")
        self._work(instance["uuid"], states.RUNNING)

    def destroy(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], None)

    def power_off(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.SHUTDOWN)

    def power_on(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.RUNNING)

    def reboot(self, host: str, instance: dict[str, Any], reboot_type: str) -> None:
        self._work(instance["uuid"], states.RUNNING)

    def pause(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.PAUSED_POWER)

    def unpause(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.RUNNING)

    def suspend(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.SUSPENDED_POWER)

    def resume(self, host: str, instance: dict[str, Any]) -> None:
        self._work(instance["uuid"], states.RUNNING)

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
