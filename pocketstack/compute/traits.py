"""Traits: what a compute host reports on its resource provider, and what a boot asks for.

Reported (as Nova's resource tracker with its virt driver): the traits of the driver's
``capabilities`` (Nova's CAPABILITY_TRAITS_MAP names; ``supports_image_type_*`` less
``[compute] image_type_exclude_list``), the CPU's (``HW_CPU_X86_*`` from the cpu_info
features with libvirt's feature names, ``HW_CPU_HYPERTHREADING`` when a core has more
than one thread, ``HW_ARCH_*``), ``COMPUTE_NODE`` and ``OWNER_NOVA``, and
``COMPUTE_STATUS_DISABLED`` while the host's nova-compute service is disabled. A
re-report adds the supported and removes the unsupported of these "owned" traits and
keeps every other trait of the provider (an operator's CUSTOM_* ones, say).

Asked for (Nova's request spec and request filters): ``trait[N]:NAME=required|forbidden``
in the flavor's extra specs, ``trait:NAME=required`` in the image's properties,
``COMPUTE_STATUS_DISABLED`` forbidden (compute_status_filter, always), and with
``[scheduler] query_placement_for_image_type_support`` ``COMPUTE_IMAGE_TYPE_<format>``.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable, Mapping

import os_traits as ot

DISABLED = ot.COMPUTE_STATUS_DISABLED

# driver capability (Nova's names) -> the trait a host reports when it is supported
CAPABILITY_TRAITS: dict[str, str] = {
    "supports_attach_interface": ot.COMPUTE_NET_ATTACH_INTERFACE,
    "supports_device_tagging": ot.COMPUTE_DEVICE_TAGGING,
    "supports_tagged_attach_interface": ot.COMPUTE_NET_ATTACH_INTERFACE_WITH_TAG,
    "supports_tagged_attach_volume": ot.COMPUTE_VOLUME_ATTACH_WITH_TAG,
    "supports_extend_volume": ot.COMPUTE_VOLUME_EXTEND,
    "supports_multiattach": ot.COMPUTE_VOLUME_MULTI_ATTACH,
    "supports_trusted_certs": ot.COMPUTE_TRUSTED_CERTS,
    "supports_accelerators": ot.COMPUTE_ACCELERATORS,
    "supports_migrate_to_same_host": ot.COMPUTE_SAME_HOST_COLD_MIGRATE,
    "supports_bfv_rescue": ot.COMPUTE_RESCUE_BFV,
    "supports_secure_boot": ot.COMPUTE_SECURITY_UEFI_SECURE_BOOT,
    "supports_socket_pci_numa_affinity": ot.COMPUTE_SOCKET_PCI_NUMA_AFFINITY,
    "supports_remote_managed_ports": ot.COMPUTE_REMOTE_MANAGED_PORTS,
    "supports_ephemeral_encryption": ot.COMPUTE_EPHEMERAL_ENCRYPTION,
    "supports_ephemeral_encryption_luks": ot.COMPUTE_EPHEMERAL_ENCRYPTION_LUKS,
    "supports_ephemeral_encryption_plain": ot.COMPUTE_EPHEMERAL_ENCRYPTION_PLAIN,
    "supports_address_space_passthrough": ot.COMPUTE_ADDRESS_SPACE_PASSTHROUGH,
    "supports_address_space_emulated": ot.COMPUTE_ADDRESS_SPACE_EMULATED,
    "supports_stateless_firmware": ot.COMPUTE_SECURITY_STATELESS_FIRMWARE,
    "supports_virtio_fs": ot.COMPUTE_STORAGE_VIRTIO_FS,
    "supports_mem_backing_file": ot.COMPUTE_MEM_BACKING_FILE,
}
IMAGE_TYPES = ("aki", "ami", "ari", "iso", "qcow2", "raw", "vdi", "vhd", "vhdx", "vmdk",
               "ploop")
CAPABILITY_TRAITS.update({f"supports_image_type_{t}": f"COMPUTE_IMAGE_TYPE_{t.upper()}"
                          for t in IMAGE_TYPES})
# a capability that also needs the driver to implement the operation
_NEEDS = {"supports_bfv_rescue": "rescue"}

# libvirt's CPU feature names -> traits (as Nova's libvirt driver maps them)
_X86 = {
    "3dnow": "3DNOW", "abm": "ABM", "aes": "AESNI", "amx-bf16": "AMXBF16",
    "amx-int8": "AMXINT8", "amx-tile": "AMXTILE", "avx": "AVX", "avx2": "AVX2",
    "avx512bw": "AVX512BW", "avx512cd": "AVX512CD", "avx512dq": "AVX512DQ",
    "avx512er": "AVX512ER", "avx512f": "AVX512F", "avx512pf": "AVX512PF",
    "avx512vl": "AVX512VL", "avx512vnni": "AVX512VNNI", "avx512vbmi": "AVX512VBMI",
    "avx512ifma": "AVX512IFMA", "avx512vbmi2": "AVX512VBMI2",
    "avx512bitalg": "AVX512BITALG", "vaes": "AVX512VAES", "gfni": "AVX512GFNI",
    "vpclmulqdq": "AVX512VPCLMULQDQ", "avx512-vpopcntdq": "AVX512VPOPCNTDQ",
    "bmi1": "BMI", "bmi2": "BMI2", "pclmuldq": "CLMUL", "f16c": "F16C", "fma": "FMA3",
    "fma4": "FMA4", "mmx": "MMX", "mpx": "MPX", "sha-ni": "SHA", "sse": "SSE",
    "sse2": "SSE2", "sse3": "SSE3", "sse4.1": "SSE41", "sse4.2": "SSE42",
    "sse4a": "SSE4A", "ssse3": "SSSE3", "svm": ("SVM", "AMD_SVM"), "tbm": "TBM",
    "vmx": ("VMX", "INTEL_VMX"), "xop": "XOP",
}
CPU_FEATURE_TRAITS: dict[str, tuple[str, ...]] = {
    feature: tuple(f"HW_CPU_X86_{n}" for n in ((names,) if isinstance(names, str) else names))
    for feature, names in _X86.items()}
_STANDARD = frozenset(ot.get_traits())
_ARCHES = frozenset(t for t in _STANDARD if t.startswith("HW_ARCH_"))
_PLAIN = (frozenset(), frozenset({DISABLED}))
_GRANULAR = re.compile(r"^trait([1-9][0-9]*|_[a-zA-Z0-9_-]+)?:(?P<name>[A-Z0-9_]+)$")


@functools.lru_cache(maxsize=64)
def _owned(capabilities: tuple[tuple[str, bool], ...], features: frozenset[str],
           arch: str, threads: int) -> tuple[frozenset[str], frozenset[str]]:
    """(traits to add, traits to remove) for one kind of host (cached: thousands of fake
    hosts are one kind)."""
    owned: dict[str, bool] = {}
    for capability, supported in capabilities:
        owned[CAPABILITY_TRAITS[capability]] = supported
    if arch in ("X86_64", "I686"):
        for feature, names in CPU_FEATURE_TRAITS.items():
            for name in names:
                owned[name] = feature in features
    owned[ot.HW_CPU_HYPERTHREADING] = threads > 1
    if f"HW_ARCH_{arch}" in _ARCHES:
        owned[f"HW_ARCH_{arch}"] = True
    owned[ot.COMPUTE_NODE] = owned[ot.OWNER_NOVA] = True
    return (frozenset(t for t, yes in owned.items() if yes),
            frozenset(t for t, yes in owned.items() if not yes))


def capabilities(driver: Any, conf: Any) -> tuple[tuple[str, bool], ...]:
    """The driver's capabilities that make traits, with ``image_type_exclude_list``."""
    excluded = {str(t).lower() for t in conf.get("compute", "image_type_exclude_list")}
    caps = []
    for capability in CAPABILITY_TRAITS:
        supported = bool(driver.capability(capability))
        needs = _NEEDS.get(capability)
        if needs and not driver.implements(needs):
            supported = False
        if capability.startswith("supports_image_type_") and \
                capability.rsplit("_", 1)[1] in excluded:
            supported = False
        caps.append((capability, supported))
    return tuple(caps)


def driver_traits(driver: Any, conf: Any, resources: Mapping[str, Any],
                  caps: tuple[tuple[str, bool], ...] | None = None
                  ) -> tuple[frozenset[str], frozenset[str]]:
    """(traits the host has, owned traits it has not) from the driver's capabilities
    (``caps``: :func:`capabilities`, when already known) and its report of the host
    (``get_available_resource``)."""
    cpu = resources.get("cpu_info") or {}
    threads = int((cpu.get("topology") or {}).get("threads") or 1)
    return _owned(caps or capabilities(driver, conf), frozenset(cpu.get("features") or ()),
                  str(cpu.get("arch") or "").upper(), threads)


def merged(current: Iterable[str], owned: tuple[frozenset[str], frozenset[str]],
           disabled: bool) -> frozenset[str]:
    """The provider's traits after a re-report: the driver's owned traits as reported,
    COMPUTE_STATUS_DISABLED as the service, the others as they are."""
    have, have_not = owned
    out = (set(current) - have_not) | have
    (out.add if disabled else out.discard)(DISABLED)
    return frozenset(out)


def requested(extra_specs: Mapping[str, Any], image_props: Mapping[str, Any],
              conf: Any) -> tuple[frozenset[str], frozenset[str]]:
    """(required, forbidden) traits of a request: the flavor's ``trait[N]:NAME`` specs (one
    provider per host: every group's traits are the root provider's), the image's
    ``trait:NAME=required`` properties and Nova's request filters."""
    required: set[str] = set()
    forbidden = {DISABLED}  # compute_status_filter
    if not any(k.startswith("trait") for k in extra_specs) and \
            not any(k.startswith("trait:") for k in image_props) and \
            not conf.get("scheduler", "query_placement_for_image_type_support"):
        return _PLAIN  # (most boots: no new sets)
    for key, value in extra_specs.items():
        if key.startswith("trait"):
            m = _GRANULAR.match(key)
            if m and value in ("required", "forbidden"):
                (required if value == "required" else forbidden).add(m["name"])
    for key, value in image_props.items():
        if key.startswith("trait:") and value == "required":
            required.add(key[6:])
    fmt = image_props.get("disk_format")
    if fmt and conf.get("scheduler", "query_placement_for_image_type_support"):
        name = f"COMPUTE_IMAGE_TYPE_{str(fmt).upper()}"
        if name in _STANDARD:  # (Nova ignores a format os-traits does not name)
            required.add(name)
    return frozenset(required), frozenset(forbidden)
