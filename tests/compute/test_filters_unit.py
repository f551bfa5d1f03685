"""Scheduler filters without a cloud: Nova's extra spec operators, and each new filter's
decision on hand-made host states (the end-to-end placements are in test_filters.py)."""

from __future__ import annotations

import pytest

from pocketstack.compute.scheduler import pci
from pocketstack.compute.scheduler.filters import ALL
from pocketstack.compute.scheduler.filters.extra_specs_ops import match
from pocketstack.compute.scheduler.filters.image_properties import (
    image_props,
    version_satisfies,
    version_str,
)
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec


@pytest.mark.parametrize("value,req,ok", [
    ("fake", "fake", True), ("fake", "qemu", False),
    ("1000", "= 1000", True), ("2000", "= 1000", True), ("999", "= 1000", False),
    ("1000", "== 1000.0", True), ("1000", "!= 1000", False), ("8", ">= 4", True),
    ("8", "<= 4", False), ("abc", ">= 4", False),  # not a number: no match
    ("fake", "s== fake", True), ("fake", "s!= fake", False), ("abc", "s< abd", True),
    ("abc", "s<= abc", True), ("abd", "s> abc", True), ("abc", "s>= abd", False),
    ("x86_64 sse avx", "<in> avx", True), ("x86_64", "<in> arm", False),
    ("sse avx aes", "<all-in> avx aes", True), ("sse avx", "<all-in> avx aes", False),
    ("qemu", "<or> kvm <or> qemu", True), ("xen", "<or> kvm <or> qemu", False),
    ("kvm", "<or> kvm", True), (None, "<or> kvm", False), (None, "s== x", False),
    ("1", ">=", False),  # an operator with nothing to compare to
    ("", "", True),
])
def test_extra_spec_operators(value, req, ok):
    assert match(value, req) is ok


def host(name="h1", **kw):
    st = HostState(host=name, nodename=name, availability_zone="nova", total_vcpus=8,
                   total_ram_mb=16384, total_disk_gb=200, cpu_allocation_ratio=16.0,
                   ram_allocation_ratio=1.5, disk_allocation_ratio=1.0,
                   hypervisor_type="fake", hypervisor_version=1000,
                   cpu_info={"arch": "x86_64", "vendor": "pocketstack",
                             "topology": {"cores": 8}, "maxphysaddr": {"bits": 46}},
                   supported_instances=[("x86_64", "fake", "hvm")])
    for k, v in kw.items():
        setattr(st, k, v)
    return st


def spec(**kw):
    return RequestSpec(instance_uuid="u1", project_id="p", vcpus=1, memory_mb=512,
                       disk_gb=1, **kw)


def passes(name, st, sp):
    return ALL[name]().host_passes(st, sp, [st])


@pytest.mark.parametrize("specs,ok", [
    ({}, True),
    ({"capabilities:hypervisor_type": "fake"}, True),
    ({"capabilities:hypervisor_type": "s== qemu"}, False),
    ({"hypervisor_type": "qemu"}, False),  # unscoped key naming a capability
    ({"capabilities:hypervisor_version": ">= 1000"}, True),
    ({"capabilities:cpu_info:arch": "<or> aarch64 <or> x86_64"}, True),
    ({"capabilities:cpu_info:topology:cores": ">= 16"}, False),
    ({"capabilities:cpu_info:nothing": "x"}, False),  # missing capability: fails
    ({"capabilities:vcpus_total": ">= 8", "capabilities:total_usable_ram_mb": "= 8192"},
     True),
    ({"hw:cpu_policy": "dedicated", "trait:FOO": "required", "other": "x"}, True),
    ({"hw:maxphysaddr_bits": "48"}, False), ({"hw:maxphysaddr_bits": "40"}, True),
])
def test_compute_capabilities(specs, ok):
    assert passes("ComputeCapabilitiesFilter", host(), spec(extra_specs=specs)) is ok


def test_aggregate_instance_extra_specs():
    st = host(aggregates_metadata={"ssd": {"true"}, "tier": {"gold", "silver"}})
    f = "AggregateInstanceExtraSpecsFilter"
    assert passes(f, st, spec())
    assert passes(f, st, spec(extra_specs={"ssd": "true"}))
    assert passes(f, st, spec(extra_specs={"aggregate_instance_extra_specs:tier": "silver"}))
    assert passes(f, st, spec(extra_specs={"hw:cpu_policy": "dedicated"}))  # other scope
    assert not passes(f, st, spec(extra_specs={"ssd": "false"}))
    assert not passes(f, st, spec(extra_specs={"gpu": "true"}))  # not in any aggregate
    assert not passes(f, host(), spec(extra_specs={"ssd": "true"}))


@pytest.mark.parametrize("props,ok", [
    ({}, True), ({"hw_architecture": "x86_64"}, True), ({"architecture": "amd64"}, True),
    ({"hw_architecture": "aarch64"}, False), ({"img_hv_type": "fake"}, True),
    ({"img_hv_type": "kvm"}, False), ({"hw_vm_mode": "hvm"}, True),
    ({"hw_vm_mode": "xen"}, False), ({"vm_mode": "hv"}, True),
    ({"hw_architecture": "x86_64", "img_hv_requested_version": ">= 1.0"}, True),
    ({"hw_architecture": "x86_64", "img_hv_requested_version": ">= 1.0, < 2"}, True),
    ({"hw_architecture": "x86_64", "img_hv_requested_version": ">= 2.0"}, False),
    ({"hw_architecture": "x86_64", "hw_maxphysaddr_bits": "48"}, False),
    ({"min_ram": 0, "os_distro": "cirros"}, True),
])
def test_image_properties(props, ok):
    assert passes("ImagePropertiesFilter", host(),
                  spec(image_props=image_props(props))) is ok


def test_image_properties_default_architecture():
    f = ALL["ImagePropertiesFilter"](default_architecture="aarch64")
    assert not f.host_passes(host(), spec(), [])
    assert f.host_passes(host(), spec(image_props={"hw_architecture": "x86_64"}), [])
    assert not passes("ImagePropertiesFilter", host(supported_instances=[]),
                      spec(image_props={"hw_architecture": "x86_64"}))


def test_versions():
    assert version_str(1000) == "1.0" and version_str(2012003) == "2.12.3"
    assert version_satisfies("6.1", ">= 6.0, < 7")
    assert not version_satisfies("6.1", "== 6")
    assert not version_satisfies("6.1", "about six")


class Conf(dict):
    def get(self, section, name):  # type: ignore[override]
        return self[(section, name)]


def test_pci_pools_claims_and_aliases():
    conf = Conf({("fake", "pci_devices"): ["10de:1DB4:2", "fake-host-2=8086:1520"],
                 ("pci", "alias"): '{"name": "gpu", "vendor_id": "10de", '
                                   '"product_id": "1db4"}\n{"name": "nic", '
                                   '"vendor_id": "8086", "product_id": "1520"}',
                 ("pci", "device_spec"): ""})
    assert len(pci.fake_devices(conf, "fake-host-1")) == 2
    assert len(pci.fake_devices(conf, "fake-host-2")) == 3
    stats = pci.stats_for(conf, pci.fake_devices(conf, "fake-host-1"))
    assert stats is not None
    reqs = pci.requests_for(conf, {"pci_passthrough:alias": "gpu:2"})
    assert reqs == [("gpu", 2)]
    st = host(pci=stats)
    f = "PciPassthroughFilter"
    assert passes(f, st, spec()) and passes(f, st, spec(pci_requests=reqs))
    assert not passes(f, st, spec(pci_requests=[("gpu", 3)]))
    assert not passes(f, st, spec(pci_requests=[("nic", 1)]))  # none on this host
    assert not passes(f, host(), spec(pci_requests=reqs))  # a host without devices
    assert stats.claim("a", [("gpu", 1)]) and stats.claim("b", [("gpu", 1)])
    assert not stats.supports([("gpu", 1)]) and not stats.claim("c", [("gpu", 1)])
    st.instances["a"] = (1, 512, 1)
    st.release("a")  # a deleted server frees its devices
    assert stats.supports([("gpu", 1)]) and stats.summary()[0]["count"] == 1
    for bad in ("gpu", "gpu:0", "gpu:x", ":1"):
        with pytest.raises(Exception, match="Invalid PCI alias"):
            pci.requests_for(conf, {"pci_passthrough:alias": bad})
    with pytest.raises(Exception, match="PCI alias fpga is not defined"):
        pci.requests_for(conf, {"pci_passthrough:alias": "fpga:1"})
    conf[("pci", "device_spec")] = '[{"vendor_id": "8086", "product_id": "*"}]'
    assert pci.stats_for(conf, pci.fake_devices(conf, "fake-host-1")) is None
    assert pci.stats_for(conf, pci.fake_devices(conf, "fake-host-2")).supports([("nic", 1)])


def test_host_subset_size_picks_among_the_best():
    from pocketstack.compute.scheduler.manager import Scheduler

    sch = Scheduler.__new__(Scheduler)
    hosts = [host(f"h{i}") for i in range(4)]
    sch._states = {h.host: h for h in hosts}
    sch._order = [(i, 0, h.host) for i, h in enumerate(hosts)]  # h3 is the best
    sch.filters, sch.weighers = [], []
    sch.subset, sch.shuffle = 1, False
    assert {sch._pick(spec()).host for _ in range(20)} == {"h3"}
    sch.subset = 2
    assert {sch._pick(spec()).host for _ in range(200)} == {"h2", "h3"}
    sch.filters = [ALL["AggregateInstanceExtraSpecsFilter"]()]  # only h0 and h1 pass
    for h in hosts[:2]:
        h.aggregates_metadata = {"ssd": {"true"}}
    assert {sch._pick(spec(extra_specs={"ssd": "true"})).host
            for _ in range(200)} == {"h0", "h1"}


def test_shuffle_best_same_weighed_hosts():
    from pocketstack.compute.scheduler.manager import Scheduler

    sch = Scheduler.__new__(Scheduler)
    hosts = [host(f"h{i}") for i in range(5)]
    sch._states = {h.host: h for h in hosts}
    # h2, h3 and h4 share the best weight (their order after it is the tie-break)
    sch._order = [(0.5, 0, "h0"), (0.5, 0, "h1"), (1.0, 0, "h2"), (1.0, 1, "h3"),
                  (1.0, 2, "h4")]
    sch.filters, sch.weighers = [], []
    sch.subset, sch.shuffle = 1, False
    assert {sch._pick(spec()).host for _ in range(20)} == {"h4"}
    sch.shuffle = True
    assert {sch._pick(spec()).host for _ in range(300)} == {"h2", "h3", "h4"}
    # the best weight among the hosts that pass: h0 and h1 when only they pass
    sch.filters = [ALL["AggregateInstanceExtraSpecsFilter"]()]
    for h in hosts[:2]:
        h.aggregates_metadata = {"ssd": {"true"}}
    assert {sch._pick(spec(extra_specs={"ssd": "true"})).host
            for _ in range(300)} == {"h0", "h1"}
    sch.filters, sch.subset = [], 4  # with host_subset_size: the shuffled block comes first
    assert {sch._pick(spec()).host for _ in range(300)} == {"h1", "h2", "h3", "h4"}


def test_pci_alias_option_that_is_not_json_is_a_400():
    conf = Conf({("pci", "alias"): "{not json"})
    with pytest.raises(Exception, match="Invalid PCI alias definition") as exc:
        pci.requests_for(conf, {"pci_passthrough:alias": "gpu:1"})
    assert exc.value.code == 400
    assert pci.requests_for(conf, {}) == []  # flavors without PCI never read it


def test_a_moved_claim_keeps_its_pci_devices():
    from pocketstack.compute.scheduler.manager import Scheduler

    conf = Conf({("fake", "pci_devices"): ["10de:1db4"], ("pci", "device_spec"): "",
                 ("pci", "alias"): '{"name": "gpu", "vendor_id": "10de", "product_id": "1db4"}'})
    st = host(pci=pci.stats_for(conf, pci.fake_devices(conf, "h1")))
    st.consume("srv", 1, 512, 1)
    assert st.pci.claim("srv", [("gpu", 1)])
    sch = Scheduler.__new__(Scheduler)
    sch._states, sch._keys, sch._order = {"h1": st}, {}, []
    sch._owners, sch._where, sch._migrations, sch._static, sch._scales = {}, {}, set(), [], {}
    sch._lock = __import__("threading").RLock()

    class NoPlacement:
        enabled = False
    sch.report = NoPlacement()
    sch._owner = lambda uuid, project_id=None: ("p", "u")
    sch.transfer("h1", "srv", "migration")  # a resize: the source claim to the migration
    assert not st.pci.supports([("gpu", 1)]) and "migration" in st.pci.claims
    sch.transfer("h1", "migration", "srv", migration=False)  # reverted
    assert st.pci.claims == {"srv": {("10de", "1db4", 0): 1}}
    st.release("srv")
    assert st.pci.supports([("gpu", 1)])
