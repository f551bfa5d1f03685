"""Compute hosts' traits in Placement (as Nova's compute reports them) and the scheduler's
use of them (flavor ``trait:`` extra specs, image ``trait:`` properties)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from compute_helpers import api, boot, name, new_flavor, wait

PLACEMENT = "1.39"


def _placement(cloud: Any, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, cloud.url(8778, path), timeout=30, **kwargs, headers={
        "X-Auth-Token": cloud.token(), "OpenStack-API-Version": f"placement {PLACEMENT}"})


def _provider(cloud: Any, host: str) -> str:
    r = _placement(cloud, "GET", f"/resource_providers?name={host}")
    return r.json()["resource_providers"][0]["uuid"]


def _cli_traits(cloud: Any, rp: str) -> set[str]:
    """``openstack resource provider trait list`` (osc-placement)."""
    return {t["name"] for t in cloud.cli("--os-placement-api-version", "1.6", "resource",
                                         "provider", "trait", "list", rp, "-f", "json")}


def _traits(cloud: Any, rp: str) -> tuple[set[str], int]:
    body = _placement(cloud, "GET", f"/resource_providers/{rp}/traits").json()
    return set(body["traits"]), body["resource_provider_generation"]


def _set_traits(cloud: Any, rp: str, add: set[str] = set(), remove: set[str] = set()
                ) -> None:
    traits, generation = _traits(cloud, rp)
    r = _placement(cloud, "PUT", f"/resource_providers/{rp}/traits", json={
        "traits": sorted(traits - remove | add), "resource_provider_generation": generation})
    assert r.status_code == 200, r.text


def _flavor(cloud: Any, **specs: str) -> str:
    return new_flavor(cloud, specs=specs, prefix="trait")


def _service(cloud: Any, host: str, *flags: str) -> None:
    cloud.cli("compute", "service", "set", *flags, host, "nova-compute")


@pytest.fixture(scope="module")
def custom(cloud: Any) -> str:
    """CUSTOM_POCKET_TRAITS, set by hand on fake-host-2's provider (its own traits kept)."""
    trait = "CUSTOM_POCKET_TRAITS"
    assert _placement(cloud, "PUT", f"/traits/{trait}").status_code in (201, 204)
    _set_traits(cloud, _provider(cloud, "fake-host-2"), add={trait})
    return trait


def test_hosts_report_driver_traits(cloud):
    traits = _cli_traits(cloud, _provider(cloud, "fake-host-1"))
    # the fake driver's capabilities, Nova's names
    assert {"COMPUTE_NODE", "OWNER_NOVA", "COMPUTE_NET_ATTACH_INTERFACE",
            "COMPUTE_NET_ATTACH_INTERFACE_WITH_TAG", "COMPUTE_DEVICE_TAGGING",
            "COMPUTE_VOLUME_ATTACH_WITH_TAG", "COMPUTE_VOLUME_EXTEND",
            "COMPUTE_VOLUME_MULTI_ATTACH", "COMPUTE_RESCUE_BFV",
            "COMPUTE_SOCKET_PCI_NUMA_AFFINITY", "COMPUTE_IMAGE_TYPE_QCOW2",
            "COMPUTE_IMAGE_TYPE_RAW", "HW_ARCH_X86_64"} <= traits
    # not supported (trusted certificates are refused), not disabled, one thread a core
    assert not traits & {"COMPUTE_TRUSTED_CERTS", "COMPUTE_STATUS_DISABLED",
                         "HW_CPU_HYPERTHREADING", "COMPUTE_SAME_HOST_COLD_MIGRATE"}
    # Placement lists them as standard traits (os-traits)
    listed = {t["name"] for t in cloud.cli("--os-placement-api-version", "1.6", "trait",
                                           "list", "--associated", "-f", "json")}
    assert traits <= listed


def test_disable_enable_toggles_status_trait_and_keeps_custom(cloud, custom):
    rp = _provider(cloud, "fake-host-2")
    # an operator removed a driver-owned trait by hand: the next report puts it back
    _set_traits(cloud, rp, remove={"COMPUTE_VOLUME_EXTEND"})
    try:
        _service(cloud, "fake-host-2", "--disable", "--disable-reason", "traits")
        traits = _cli_traits(cloud, rp)
        assert {"COMPUTE_STATUS_DISABLED", custom, "COMPUTE_VOLUME_EXTEND",
                "COMPUTE_NODE"} <= traits
        # a disabled host's provider is not a candidate (compute_status prefilter)
        r = _placement(cloud, "GET", "/allocation_candidates?resources=VCPU:1"
                       "&required=!COMPUTE_STATUS_DISABLED")
        assert rp not in r.json()["provider_summaries"]
    finally:
        _service(cloud, "fake-host-2", "--enable")
    traits = _cli_traits(cloud, rp)
    assert "COMPUTE_STATUS_DISABLED" not in traits
    assert {custom, "COMPUTE_NODE", "COMPUTE_VOLUME_EXTEND"} <= traits


def test_flavor_traits_steer_the_boot(cloud, custom):
    on = boot(cloud, name("req"), flavor=_flavor(cloud, **{f"trait:{custom}": "required"}))
    off = boot(cloud, name("forb"), flavor=_flavor(cloud, **{f"trait:{custom}": "forbidden"}))
    nowhere = boot(cloud, name("none"), flavor=_flavor(
        cloud, **{"trait:CUSTOM_POCKET_NOWHERE": "required"}))
    try:
        assert wait(cloud, on, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fake-host-2"
        assert wait(cloud, off, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fake-host-1"
        failed = wait(cloud, nowhere, "ERROR")
        assert "No valid host was found" in failed["fault"]["message"]
    finally:
        for sid in (on, off, nowhere):
            api(cloud, "DELETE", f"/servers/{sid}")


def test_image_trait_property_and_trait_removed_by_hand(cloud, custom):
    conn = cloud.conn()
    image = conn.image.create_image(name=name("trait-img"), disk_format="qcow2",
                                    container_format="bare", data=b"fake-image" * 10,
                                    visibility="public", **{f"trait:{custom}": "required"})
    rp = _provider(cloud, "fake-host-2")
    sids = []
    try:
        sids.append(boot(cloud, name("img"), server={"imageRef": image.id}))
        assert wait(cloud, sids[0], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fake-host-2"
        # a move keeps the image's traits: no other host has the trait
        r = api(cloud, "POST", f"/servers/{sids[0]}/action", json={"migrate": None})
        assert r.status_code == 400 and "No valid host" in r.text, r.text
        # a rebuild to the image stays on its host: refused where the trait is not
        # (NoValidHost, the old image kept), as Nova's conductor
        other = boot(cloud, name("img"), flavor=_flavor(cloud, **{f"trait:{custom}": "forbidden"}))
        sids.append(other)
        old_image = wait(cloud, other, "ACTIVE")["image"]["id"]
        r = api(cloud, "POST", f"/servers/{other}/action", json={"rebuild": {"imageRef": image.id}})
        assert r.status_code == 202, r.text
        failed = wait(cloud, other, "ERROR")
        assert "No valid host" in failed["fault"]["message"]
        assert failed["image"]["id"] == old_image
        r = api(cloud, "POST", f"/servers/{sids[0]}/action",
                json={"rebuild": {"imageRef": image.id}})
        assert r.status_code == 202 and wait(cloud, sids[0], "ACTIVE")
        # the operator takes the trait away: the scheduler sees it at the next boot
        _set_traits(cloud, rp, remove={custom})
        sids.append(boot(cloud, name("img"), server={"imageRef": image.id}))
        assert "No valid host" in wait(cloud, sids[-1], "ERROR")["fault"]["message"]
    finally:
        _set_traits(cloud, rp, add={custom})
        for sid in sids:
            api(cloud, "DELETE", f"/servers/{sid}")
        conn.image.delete_image(image.id)


def test_unknown_trait_extra_spec_refused(cloud):
    """Flavor extra spec validation (2.86) knows the os-traits names."""
    fid = _flavor(cloud)
    r = api(cloud, "POST", f"/flavors/{fid}/os-extra_specs", version="2.86",
            json={"extra_specs": {"trait:HW_CPU_X86_AMXBF16": "required"}})
    assert r.status_code == 200, r.text
