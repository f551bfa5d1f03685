"""What the scheduler knows of a host, kept in memory (loaded from the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestSpec:
    instance_uuid: str
    project_id: str
    vcpus: int
    memory_mb: int
    disk_gb: int  # root + ephemeral + swap (rounded up to GB)
    availability_zone: str | None = None
    group: dict[str, Any] | None = None  # {"uuid", "policy", "rules", "members"}
    hints: dict[str, Any] = field(default_factory=dict)
    ignore_hosts: set[str] = field(default_factory=set)
    force_host: str | None = None
    skip_filters: bool = False  # force_host without the filters (live migrate/evacuate force)
    numa: dict[str, Any] | None = None  # the guest NUMA topology asked for (compute/numa.py)
    numa_fit: tuple[str, Any] | None = None  # (host, cells) of the last fit computed
    user_id: str | None = None  # the owner, when the caller knows it (saves the claim a read)


@dataclass
class HostState:
    host: str
    nodename: str
    availability_zone: str
    total_vcpus: int
    total_ram_mb: int
    total_disk_gb: int
    cpu_allocation_ratio: float
    ram_allocation_ratio: float
    disk_allocation_ratio: float
    vcpus_used: int = 0
    ram_used_mb: int = 0
    disk_used_gb: int = 0
    instances: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    service_enabled: bool = True
    service_up: bool = True
    num_io_ops: int = 0  # builds and moves in progress here (IoOpsWeigher)
    failed_builds: int = 0  # consecutive build failures (BuildFailureWeigher)
    numa: Any = None  # compute.numa.HostNUMA, made when a NUMA request first looks here

    @property
    def free_ram_mb(self) -> float:
        return self.total_ram_mb * self.ram_allocation_ratio - self.ram_used_mb

    @property
    def free_vcpus(self) -> float:
        return self.total_vcpus * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_disk_gb(self) -> float:
        return self.total_disk_gb * self.disk_allocation_ratio - self.disk_used_gb

    def consume(self, uuid: str, vcpus: int, ram: int, disk: int) -> None:
        if uuid in self.instances:
            return
        self.instances[uuid] = (vcpus, ram, disk)
        self.vcpus_used += vcpus
        self.ram_used_mb += ram
        self.disk_used_gb += disk

    def release(self, uuid: str) -> None:
        usage = self.instances.pop(uuid, None)
        if usage is not None:
            self.vcpus_used -= usage[0]
            self.ram_used_mb -= usage[1]
            self.disk_used_gb -= usage[2]
