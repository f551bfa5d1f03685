"""Standard resource classes (os-resource-classes) and traits (os-traits) names."""

from __future__ import annotations

import re

import os_traits

CUSTOM_NAME = re.compile(r"^CUSTOM_[A-Z0-9_]+$")

RESOURCE_CLASSES = (
    "VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "NUMA_SOCKET", "NUMA_CORE",
    "NUMA_THREAD", "NUMA_MEMORY_MB", "IPV4_ADDRESS", "VGPU", "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC", "PCPU",
    "MEM_ENCRYPTION_CONTEXT", "FPGA", "PGPU", "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC", "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
)

# The standard traits are os-traits' (what Placement seeds): the library is the registry
# of names Nova, Placement and the other services agree on.
TRAITS = tuple(sorted(os_traits.get_traits()))
