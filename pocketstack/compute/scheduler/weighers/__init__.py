"""Scheduler weighers, one per module: higher weight wins (see base.py)."""

from __future__ import annotations

from pocketstack.compute.scheduler.weighers.affinity import (
    ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher)
from pocketstack.compute.scheduler.weighers.base import BaseWeigher
from pocketstack.compute.scheduler.weighers.build_failure import BuildFailureWeigher
from pocketstack.compute.scheduler.weighers.cpu import CPUWeigher
from pocketstack.compute.scheduler.weighers.disk import DiskWeigher
from pocketstack.compute.scheduler.weighers.io_ops import IoOpsWeigher
from pocketstack.compute.scheduler.weighers.ram import RAMWeigher

ALL: dict[str, type[BaseWeigher]] = {cls.__name__: cls for cls in (
    RAMWeigher, CPUWeigher, DiskWeigher, IoOpsWeigher, BuildFailureWeigher,
    ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher)}
