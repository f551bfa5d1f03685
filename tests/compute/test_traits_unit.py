"""The traits a host reports and a request asks for, without a cloud (the HTTP side is
test_traits.py)."""

from __future__ import annotations

import pocketstack.compute.config  # noqa: F401  (the [fake] options)
from pocketstack.compute import traits
from pocketstack.compute.drivers.container.driver import ContainerDriver
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.scheduler.provider_traits import ProviderTraits
from pocketstack.compute.scheduler.host_state import HostState, RequestSpec
from pocketstack.config import Config


def _conf(**values):
    conf = Config()
    for key, value in values.items():
        section, name = key.split("__")
        conf.set(section, name, value)
    return conf


def _report(conf):
    driver = FakeDriver(conf)
    return traits.driver_traits(driver, conf, driver.get_available_resource("fake-host-1"))


def test_fake_host_traits_follow_smt_cpu_features_and_exclusions():
    have, have_not = _report(_conf(fake__cpu_threads=2, fake__cpu_features=["avx2", "vmx"],
                                   compute__image_type_exclude_list=["vmdk"]))
    assert {"HW_CPU_HYPERTHREADING", "HW_CPU_X86_AVX2", "HW_CPU_X86_VMX",
            "HW_CPU_X86_INTEL_VMX", "COMPUTE_IMAGE_TYPE_QCOW2", "HW_ARCH_X86_64",
            "COMPUTE_NODE"} <= have
    assert {"HW_CPU_X86_AVX512F", "COMPUTE_IMAGE_TYPE_VMDK", "COMPUTE_TRUSTED_CERTS"} <= have_not
    have, have_not = _report(_conf())
    assert "HW_CPU_HYPERTHREADING" in have_not and "HW_CPU_X86_AVX2" in have_not


def test_container_driver_capabilities():
    driver = ContainerDriver(_conf())
    have, have_not = traits.driver_traits(driver, _conf(), {"cpu_info": {"arch": "x86_64"}})
    assert {"COMPUTE_IMAGE_TYPE_RAW", "COMPUTE_VOLUME_MULTI_ATTACH"} <= have
    assert {"COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_RESCUE_BFV",
            "COMPUTE_NET_ATTACH_INTERFACE"} <= have_not


def test_merge_keeps_what_the_driver_does_not_own():
    owned = (frozenset({"COMPUTE_NODE", "HW_CPU_HYPERTHREADING"}),
             frozenset({"COMPUTE_TRUSTED_CERTS"}))
    current = {"CUSTOM_GOLD", "COMPUTE_TRUSTED_CERTS", "STORAGE_DISK_SSD",
               "COMPUTE_STATUS_DISABLED"}
    assert traits.merged(current, owned, disabled=False) == {
        "CUSTOM_GOLD", "STORAGE_DISK_SSD", "COMPUTE_NODE", "HW_CPU_HYPERTHREADING"}
    assert "COMPUTE_STATUS_DISABLED" in traits.merged(current, owned, disabled=True)


def test_requested_traits():
    specs = {"trait:CUSTOM_A": "required", "trait1:CUSTOM_B": "forbidden",
             "trait:CUSTOM_C": "preferred", "hw:cpu_policy": "dedicated"}
    props = {"trait:CUSTOM_D": "required", "trait:CUSTOM_E": "forbidden",
             "disk_format": "qcow2"}
    required, forbidden = traits.requested(specs, props, _conf())
    assert required == {"CUSTOM_A", "CUSTOM_D"}
    assert forbidden == {"CUSTOM_B", "COMPUTE_STATUS_DISABLED"}
    conf = _conf(scheduler__query_placement_for_image_type_support=True)
    assert "COMPUTE_IMAGE_TYPE_QCOW2" in traits.requested({}, props, conf)[0]
    assert traits.requested({}, {"disk_format": "nonsense"}, conf)[0] == set()


def test_host_passes_on_its_provider_traits():
    st = HostState(host="h", nodename="h", availability_zone="nova", total_vcpus=1,
                   total_ram_mb=1, total_disk_gb=1, cpu_allocation_ratio=1.0,
                   ram_allocation_ratio=1.0, disk_allocation_ratio=1.0,
                   traits=frozenset({"COMPUTE_NODE", "CUSTOM_A"}))
    spec = RequestSpec(instance_uuid="u", project_id="p", vcpus=1, memory_mb=1, disk_gb=1)
    for required, forbidden, ok in (({"CUSTOM_A"}, set(), True), ({"CUSTOM_B"}, set(), False),
                                    (set(), {"CUSTOM_A"}, False), (set(), set(), True)):
        spec.traits = (frozenset(required), frozenset(forbidden))
        assert ProviderTraits._traits_pass(st, spec) is ok
