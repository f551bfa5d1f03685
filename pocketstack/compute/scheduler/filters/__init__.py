"""Scheduler filters, one per module; each decides whether a host can take a request."""

from __future__ import annotations

from pocketstack.compute.scheduler.filters.aggregate_instance_extra_specs import (
    AggregateInstanceExtraSpecsFilter)
from pocketstack.compute.scheduler.filters.affinity import (ServerGroupAffinityFilter,
                                                            ServerGroupAntiAffinityFilter)
from pocketstack.compute.scheduler.filters.availability_zone import AvailabilityZoneFilter
from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.filters.compute import ComputeFilter
from pocketstack.compute.scheduler.filters.compute_capabilities import (
    ComputeCapabilitiesFilter)
from pocketstack.compute.scheduler.filters.core import CoreFilter
from pocketstack.compute.scheduler.filters.disk import DiskFilter
from pocketstack.compute.scheduler.filters.numa_topology import NUMATopologyFilter
from pocketstack.compute.scheduler.filters.image_properties import ImagePropertiesFilter
from pocketstack.compute.scheduler.filters.pci_passthrough import PciPassthroughFilter
from pocketstack.compute.scheduler.filters.ram import RamFilter
from pocketstack.compute.scheduler.filters.same_host import DifferentHostFilter, SameHostFilter

ALL: dict[str, type[BaseFilter]] = {cls.__name__: cls for cls in (
    ComputeFilter, AvailabilityZoneFilter, RamFilter, DiskFilter, CoreFilter,
    ServerGroupAffinityFilter, ServerGroupAntiAffinityFilter, SameHostFilter,
    DifferentHostFilter, NUMATopologyFilter, ComputeCapabilitiesFilter, ImagePropertiesFilter,
    AggregateInstanceExtraSpecsFilter, PciPassthroughFilter)}
