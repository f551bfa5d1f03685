"""What the scheduler knows of a host, kept in memory (loaded from the database)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from pocketstack.compute.scheduler.pci import PciStats


# Shared read-only values, so that 10,000 host states do not hold 10,000 copies of the
# same description (fewer objects for the garbage collector to walk during decisions).
NOTHING: Mapping[str, Any] = MappingProxyType({})
_SHARED: dict[Any, Any] = {}


def shared_traits(traits: frozenset[str]) -> frozenset[str]:
    """One frozenset for the hosts with the same traits."""
    return _SHARED.setdefault(traits, traits)


def _shared(value: Any) -> Any:
    key = json.dumps(value, sort_keys=True, default=str)
    return _SHARED.setdefault(key, value)


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
    extra_specs: Mapping[str, str] = field(default_factory=lambda: NOTHING)  # the flavor's
    image_props: Mapping[str, Any] = field(default_factory=lambda: NOTHING)  # the image's
    pci_requests: Sequence[tuple[str, int]] = ()  # (alias, count) of pci_passthrough:alias
    # PCPU asked for (a pinned guest; then vcpus is 0), None until the scheduler has
    # translated the request (numa.cpu_resources)
    pcpus: int | None = None
    # (required, forbidden) traits of the request (compute.traits.requested), None until
    # the scheduler has read them from the flavor and the image
    traits: tuple[frozenset[str], frozenset[str]] | None = None


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
    total_pcpus: int = 0  # PCPU inventory ([compute] cpu_dedicated_set)
    pcpus_used: int = 0
    legacy_cpus: bool = True  # neither cpu_dedicated_set nor cpu_shared_set: pins on VCPU
    # uuid -> (vcpus, ram, disk[, pcpus]) claimed here
    instances: dict[str, tuple[int, ...]] = field(default_factory=dict)
    service_enabled: bool = True
    service_up: bool = True
    num_io_ops: int = 0  # builds and moves in progress here (IoOpsWeigher)
    failed_builds: int = 0  # consecutive build failures (BuildFailureWeigher)
    numa: Any = None  # compute.numa.HostNUMA, made when a NUMA request first looks here
    # What the driver reports (ComputeCapabilitiesFilter, ImagePropertiesFilter)
    hypervisor_type: str = "fake"
    hypervisor_version: int = 1000
    cpu_info: Mapping[str, Any] = field(default_factory=lambda: NOTHING)
    supported_instances: tuple[tuple[str, str, str], ...] = ()
    # key -> values of the metadata of the host's aggregates (Nova's
    # aggregate_metadata_get_by_host), AggregateInstanceExtraSpecsFilter
    aggregates_metadata: Mapping[str, set[str]] = field(default_factory=lambda: NOTHING)
    pci: "PciStats | None" = None  # PciPassthroughFilter (None: the host has no devices)
    traits: frozenset[str] = frozenset()  # its resource provider's (shared between hosts)

    def __getstate__(self) -> dict[str, Any]:
        """A copy for another process (a compute API worker asking the scheduler): the
        counts, without the live NUMA cells and PCI pools (and their locks)."""
        return {**self.__dict__, "numa": None, "pci": None}

    def describe(self, node: Any, resources: dict[str, Any], conf: Any) -> None:
        """What the driver reports of the host, for the filters that read it."""
        from pocketstack.compute.scheduler.pci import stats_for

        self.hypervisor_type = node.hypervisor_type
        self.hypervisor_version = node.hypervisor_version
        self.cpu_info = _shared(node.cpu_info) if node.cpu_info else NOTHING
        self.supported_instances = _shared(tuple(tuple(i) for i in resources.get(
            "supported_instances") or [(self.cpu_info.get("arch"), node.hypervisor_type,
                                        "hvm")]))
        self.pci = stats_for(conf, resources.get("pci_passthrough_devices") or [])
        self.total_pcpus = int(resources.get("pcpus") or 0)
        self.legacy_cpus = "pcpus" not in resources  # (a driver reports it when set up)

    @property
    def free_ram_mb(self) -> float:
        return self.total_ram_mb * self.ram_allocation_ratio - self.ram_used_mb

    @property
    def free_vcpus(self) -> float:
        return self.total_vcpus * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_pcpus(self) -> int:
        return self.total_pcpus - self.pcpus_used

    @property
    def free_disk_gb(self) -> float:
        return self.total_disk_gb * self.disk_allocation_ratio - self.disk_used_gb

    def consume(self, uuid: str, vcpus: int, ram: int, disk: int, pcpus: int = 0) -> None:
        if uuid in self.instances:
            return
        self.instances[uuid] = (vcpus, ram, disk, pcpus) if pcpus else (vcpus, ram, disk)
        self.pcpus_used += pcpus
        self.vcpus_used += vcpus
        self.ram_used_mb += ram
        self.disk_used_gb += disk

    def release(self, uuid: str) -> None:
        if self.pci is not None:
            self.pci.free(uuid)
        usage = self.instances.pop(uuid, None)
        if usage is not None:
            self.vcpus_used -= usage[0]
            self.ram_used_mb -= usage[1]
            self.disk_used_gb -= usage[2]
            self.pcpus_used -= usage[3] if len(usage) > 3 else 0
