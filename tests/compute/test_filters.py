"""The scheduler filters that read the flavor's extra specs, the image's properties, the
aggregates' metadata and the hosts' (simulated) PCI devices, driven by the real
``openstack`` CLI: where a server lands (``OS-EXT-SRV-ATTR:host``) or that it ends in
ERROR with "No valid host was found"."""

from __future__ import annotations

from typing import Any

from compute_helpers import IMAGE, api, name, start_with_conf, wait


def flavor(cloud: Any, *props: str) -> str:
    """A flavor with these extra specs (over HTTP: the boots are what the CLI drives)."""
    fname = name("flv")
    r = api(cloud, "POST", "/flavors", json={"flavor": {"name": fname, "ram": 64, "vcpus": 1,
                                                         "disk": 1}})
    assert r.status_code == 200, r.text
    specs = dict(p.split("=", 1) for p in props)
    r = api(cloud, "POST", f"/flavors/{r.json()['flavor']['id']}/os-extra_specs",
            json={"extra_specs": specs})
    assert r.status_code == 200, r.text
    return fname


def boot(cloud: Any, flavor_name: str, image: str = IMAGE) -> dict[str, Any]:
    """``server create``, then the server as admin sees it once ACTIVE or ERROR (polled
    over HTTP: the CLI's --wait polls every 5 s)."""
    server = cloud.cli("server", "create", "--flavor", flavor_name, "--image", image,
                       "--nic", "none", name("vm"), "-f", "json")
    return wait(cloud, server["id"], ("ACTIVE", "ERROR"))


def no_valid_host(server: dict[str, Any]) -> bool:
    return server["status"] == "ERROR" and \
        "No valid host was found" in str(server.get("fault"))


def test_compute_capabilities_filter(cloud):
    ok = boot(cloud, flavor(cloud, "capabilities:cpu_info:arch=<or> aarch64 <or> x86_64",
                            "capabilities:hypervisor_version=>= 1000",
                            "capabilities:hypervisor_type=fake"))
    assert ok["status"] == "ACTIVE", ok
    bad = boot(cloud, flavor(cloud, "capabilities:hypervisor_type=s== qemu"))
    assert no_valid_host(bad), bad
    cloud.cli("server", "delete", ok["id"], bad["id"])


def test_image_properties_filter(cloud, tmp_path):
    path = tmp_path / "disk.raw"
    path.write_bytes(b"\0" * 512)
    img = cloud.cli("image", "create", name("img"), "--file", str(path), "--disk-format",
                    "raw", "--container-format", "bare", "--property",
                    "hw_architecture=aarch64", "-f", "json")["id"]
    bad = boot(cloud, "m1.tiny", img)
    assert no_valid_host(bad), bad
    # a rebuild to it stays on the host, so it fails there: ERROR, the image kept (Nova)
    other = boot(cloud, "m1.tiny")
    cloud.cli("server", "rebuild", "--image", img, other["id"])
    rebuilt = wait(cloud, other["id"], "ERROR")
    assert no_valid_host(rebuilt) and rebuilt["image"]["id"] == IMAGE, rebuilt
    cloud.cli("image", "set", "--property", "hw_architecture=x86_64", "--property",
              "img_hv_type=fake", "--property", "hw_vm_mode=hvm", "--property",
              "img_hv_requested_version=>= 1.0", img)
    ok = boot(cloud, "m1.tiny", img)
    assert ok["status"] == "ACTIVE", ok
    cloud.cli("server", "delete", ok["id"], bad["id"], other["id"])


CONF = """[fake]
hosts = 3
pci_devices = fake-host-2=10de:1db4
[pci]
alias = {"name": "gpu", "vendor_id": "10de", "product_id": "1db4"}
[filter_scheduler]
enabled_filters = ComputeFilter, RamFilter, ComputeCapabilitiesFilter,
    ImagePropertiesFilter, AggregateInstanceExtraSpecsFilter, PciPassthroughFilter
"""


def test_pci_passthrough_and_aggregate_extra_specs(fresh_cloud):
    cloud = start_with_conf(fresh_cloud, CONF)
    # the one GPU is on fake-host-2: the first server gets it, the second finds none
    gpu = flavor(cloud, "pci_passthrough:alias=gpu:1")
    first = boot(cloud, gpu)
    assert first["status"] == "ACTIVE" and first["OS-EXT-SRV-ATTR:host"] == "fake-host-2"
    assert no_valid_host(boot(cloud, gpu))
    # an alias [pci] alias does not define: 400 at create, as Nova
    proc = cloud.cli("server", "create", "--flavor", flavor(cloud, "pci_passthrough:alias=x:1"),
                     "--image", IMAGE, "--nic", "none", name("vm"), check=False)
    assert proc.returncode != 0 and "PCI alias x is not defined" in proc.stderr
    # aggregate metadata: ssd=true only on fake-host-3's aggregate
    cloud.cli("aggregate", "create", "--property", "ssd=true,nvme", "fast")
    cloud.cli("aggregate", "add", "host", "fast", "fake-host-3")
    for spec in ("ssd=<in> nvme", "aggregate_instance_extra_specs:ssd=true"):
        on = boot(cloud, flavor(cloud, spec))
        assert on["status"] == "ACTIVE" and on["OS-EXT-SRV-ATTR:host"] == "fake-host-3", on
    assert no_valid_host(boot(cloud, flavor(cloud, "ssd=false")))
    # the claims are rebuilt from the servers at start; a delete frees the device
    assert cloud.stop() == 0
    cloud.start()
    assert no_valid_host(boot(cloud, gpu))
    cloud.cli("server", "delete", "--wait", first["id"])
    again = boot(cloud, gpu)
    assert again["status"] == "ACTIVE" and again["OS-EXT-SRV-ATTR:host"] == "fake-host-2"
