from __future__ import annotations

import operator
import re
from typing import Any

from pocketstack.compute.scheduler.filters.base import BaseFilter
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec

# Glance property names the scheduler reads, with the legacy names Nova still maps.
PROPS = ("hw_architecture", "img_hv_type", "hw_vm_mode", "img_hv_requested_version",
         "hw_maxphysaddr_bits")
LEGACY = {"architecture": "hw_architecture", "hypervisor_type": "img_hv_type",
          "vm_mode": "hw_vm_mode", "hypervisor_version_requires": "img_hv_requested_version"}
_ARCH = {"i386": "i686", "i486": "i686", "i586": "i686", "x86_32": "i686",
         "x86_32p": "i686", "amd64": "x86_64"}
_HV = {"xapi": "xen"}
_MODE = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}
_PRED = re.compile(r"^\s*(<=|>=|<|>|!=|==)\s*(\d+(?:\.\d+)*)\s*$")
_CMP = {"<": operator.lt, "<=": operator.le, "==": operator.eq, ">": operator.gt,
        ">=": operator.ge, "!=": operator.ne}


def image_props(image: dict[str, Any] | None) -> dict[str, Any]:
    """The scheduler's share of an image's properties (Glance view, top level): these
    filters', its ``trait:NAME`` properties and its ``disk_format`` (compute.traits)."""
    out: dict[str, Any] = {}
    for key, value in (image or {}).items():
        key = LEGACY.get(key, key)
        if (key in PROPS or key.startswith("trait:") or key == "disk_format") and \
                value not in (None, ""):
            out.setdefault(key, value)
    return out


def _canon(value: Any, aliases: dict[str, str]) -> str | None:
    if value is None:
        return None
    name = str(value).lower()
    return aliases.get(name, name)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def version_str(version: int) -> str:
    """Nova's convert_version_to_str: 1000 -> "1.0", 2012003 -> "2.12.3"."""
    parts = []
    while version:
        parts.insert(0, str(version % 1000))
        version //= 1000
    return ".".join(parts)


def version_satisfies(version: str, predicate: str) -> bool:
    """oslo's VersionPredicate: ``>= 1.0, < 2`` (each clause must hold); a predicate
    that does not parse is not satisfied."""
    have = tuple(int(p) for p in version.split("."))
    for clause in predicate.split(","):
        m = _PRED.match(clause)
        if not m:
            return False
        want = tuple(int(p) for p in m.group(2).split("."))
        width = max(len(have), len(want))
        if not _CMP[m.group(1)](have + (0,) * (width - len(have)),
                               want + (0,) * (width - len(want))):
            return False
    return True


class ImagePropertiesFilter(BaseFilter):
    """Hosts whose supported instances (architecture, hypervisor type, VM mode) cover
    the image's hw_architecture / img_hv_type / hw_vm_mode, whose hypervisor version
    satisfies img_hv_requested_version, and whose CPU has hw_maxphysaddr_bits."""

    RUN_ON_REBUILD = True

    def __init__(self, default_architecture: str | None = None) -> None:
        self.default_architecture = default_architecture or None

    @classmethod
    def from_conf(cls, conf: Any) -> "ImagePropertiesFilter":
        return cls(conf.get("filter_scheduler", "image_properties_default_architecture"))

    def host_passes(self, host: HostState, spec: RequestSpec,
                    all_hosts: list[HostState]) -> bool:
        props = spec.image_props
        if not props and not self.default_architecture:
            return True
        wanted = (_canon(props.get("hw_architecture", self.default_architecture), _ARCH),
                  _canon(props.get("img_hv_type"), _HV),
                  _canon(props.get("hw_vm_mode"), _MODE))
        if not any(wanted):
            return True
        if not host.supported_instances:
            return False
        required = props.get("img_hv_requested_version")
        if required and host.hypervisor_version and not version_satisfies(
                version_str(host.hypervisor_version), str(required)):
            return False
        bits = _int(props.get("hw_maxphysaddr_bits"))
        have_bits = _int((host.cpu_info.get("maxphysaddr") or {}).get("bits"))
        if bits and have_bits and have_bits < bits:
            return False
        return any(all(w is None or w in supported for w in wanted)
                   for supported in host.supported_instances)
