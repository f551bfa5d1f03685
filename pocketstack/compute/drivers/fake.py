"""The fake driver: instances are records in memory on N fake hosts.

Fault injection for tests, from the server's metadata:
``fake_fail_build=1`` (every host) or ``fake_fail_build=host1,host2`` (those hosts)
makes the spawn fail there, so that the build is rescheduled.
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

    def _work(self, uuid: str, power: int | None) -> None:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if power is None:
                self._power.pop(uuid, None)
            else:
                self._power[uuid] = power

    def spawn(self, host: str, instance: dict[str, Any]) -> None:
        fail = str(instance.get("metadata", {}).get("fake_fail_build", "")).strip()
        if fail and (fail.lower() in ("1", "true", "yes") or host in fail.split(",")):
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

    def get_power_state(self, host: str, instance: dict[str, Any]) -> int | None:
        with self._lock:
            return self._power.get(instance["uuid"])
