"""What the doctor's allocation repair gives a server: PCPU for a pinned one on a host
with dedicated CPUs, VCPU otherwise (the scheduler's own rule)."""

from __future__ import annotations

from types import SimpleNamespace

from pocketstack.ops.allocations import _server_resources


def _inst(dedicated: bool | None) -> SimpleNamespace:
    topo = None if dedicated is None else {"request": {"dedicated": dedicated}, "cells": []}
    return SimpleNamespace(vcpus=2, memory_mb=512, root_gb=1, ephemeral_gb=0,
                           flavor={"swap": 0}, numa_topology=topo)


def test_pinned_server_on_a_host_with_dedicated_cpus_holds_pcpu() -> None:
    assert _server_resources(_inst(True), False, True) == {"PCPU": 2, "MEMORY_MB": 512,
                                                           "DISK_GB": 1}


def test_legacy_host_and_unpinned_servers_hold_vcpu() -> None:
    want = {"VCPU": 2, "MEMORY_MB": 512, "DISK_GB": 1}
    assert _server_resources(_inst(True), False, False) == want  # Nova's fallback
    assert _server_resources(_inst(False), False, True) == want
    assert _server_resources(_inst(None), False, True) == want
    assert _server_resources(_inst(None), True, True) == {"VCPU": 2, "MEMORY_MB": 512}
