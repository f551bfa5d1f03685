"""Pinned CPUs as PCPU (Nova since Train): hosts report PCPU inventory for their
``[compute] cpu_dedicated_set`` and VCPU for their ``cpu_shared_set``; a pinned guest
(``hw:cpu_policy=dedicated``, the image's ``hw_cpu_policy``, ``resources:PCPU=N``) claims
PCPU and is pinned onto dedicated CPUs only; a host without dedicated CPUs cannot take it.
A legacy host (neither option, the session cloud) keeps Nova's VCPU fallback."""

from __future__ import annotations


import requests

from compute_helpers import api, boot, ensure_image, name, start_with_conf, wait

CONF = """[fake]
cpu_dedicated_hosts = fake-host-1
[compute]
cpu_dedicated_set = 2-3,6-7
cpu_shared_set = 0-1,4-5
"""


def _flavor(cloud, vcpus: int, **specs: str) -> str:
    args = ["flavor", "create", "--vcpus", str(vcpus), "--ram", "256", "--disk", "1",
            "--public", "-f", "json", name("pcpu")]
    for k, v in specs.items():
        args[2:2] = ["--property", f"{k}={v}"]
    return cloud.cli(*args)["id"]


def _providers(cloud) -> dict[str, str]:
    rows = _placement(cloud, "/resource_providers")["resource_providers"]
    return {r["name"]: r["uuid"] for r in rows}


def _placement(cloud, path: str) -> dict:
    r = requests.get(cloud.url(8778, path), timeout=30, headers={
        "X-Auth-Token": cloud.token(), "OpenStack-API-Version": "placement 1.28"})
    assert r.status_code == 200, r.text
    return r.json()


def _allocation(cloud, sid: str) -> dict[str, int]:
    (alloc,) = _placement(cloud, f"/allocations/{sid}")["allocations"].values()
    return alloc["resources"]


def _pcpu_used(cloud, rp: str) -> int:
    return _placement(cloud, f"/resource_providers/{rp}/usages")["usages"].get("PCPU", 0)


def _pins(cloud, sid: str) -> set[int]:
    r = api(cloud, "GET", f"/servers/{sid}/topology", version="2.78")
    assert r.status_code == 200, r.text
    return {p for n in r.json()["nodes"] for p in n["cpu_pinning"].values()}


def test_pinned_guests_claim_pcpu_on_dedicated_cpus(fresh_cloud):
    cloud = start_with_conf(fresh_cloud, CONF)
    rps = _providers(cloud)
    inv = {r["resource_class"]: r for r in cloud.cli(
        "resource", "provider", "inventory", "list", rps["fake-host-1"], "-f", "json")}
    assert inv["PCPU"]["total"] == 4 and float(inv["PCPU"]["allocation_ratio"]) == 1.0
    assert inv["VCPU"]["total"] == 4  # the shared set
    inv2 = {r["resource_class"] for r in cloud.cli(
        "resource", "provider", "inventory", "list", rps["fake-host-2"], "-f", "json")}
    assert "PCPU" not in inv2 and "VCPU" in inv2
    cands = cloud.cli("allocation", "candidate", "list", "--resource", "PCPU=2", "-f", "json")
    assert {c["resource provider"] for c in cands} == {rps["fake-host-1"]}

    pinned = _flavor(cloud, 2, **{"hw:cpu_policy": "dedicated"})
    explicit = _flavor(cloud, 2, **{"resources:PCPU": "2"})
    first = cloud.cli("server", "create", "--flavor", pinned, "--image", cloud.TINY_IMAGE,
                      "--nic", "none", "--wait", name("pin"), "-f", "json")
    assert first["OS-EXT-SRV-ATTR:host"] == "fake-host-1"
    assert _allocation(cloud, first["id"]) == {"PCPU": 2, "MEMORY_MB": 256, "DISK_GB": 1}
    second = boot(cloud, name("pin"), flavor=explicit)  # resources:PCPU=2 pins too
    assert wait(cloud, second, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fake-host-1"
    assert _allocation(cloud, second)["PCPU"] == 2
    pins = _pins(cloud, first["id"]) | _pins(cloud, second)
    assert pins == {2, 3, 6, 7}  # the dedicated CPUs only, each once
    assert _pcpu_used(cloud, rps["fake-host-1"]) == 4
    # the dedicated CPUs are all taken; fake-host-2 has none: NoValidHost
    third = boot(cloud, name("pin"), flavor=pinned)
    assert "No valid host was found" in wait(cloud, third, "ERROR")["fault"]["message"]
    forced = boot(cloud, name("pin"), flavor=pinned,
                  server={"availability_zone": "nova:fake-host-2"})
    assert "No valid host was found" in wait(cloud, forced, "ERROR")["fault"]["message"]
    # unpinned guests still take VCPU, on either host
    shared = boot(cloud, name("shared"), flavor="1")
    wait(cloud, shared, "ACTIVE")
    assert "PCPU" not in _allocation(cloud, shared)
    # a restart rebuilds the claims: still full
    assert cloud.stop() == 0
    cloud.start()
    assert _pcpu_used(cloud, rps["fake-host-1"]) == 4
    again = boot(cloud, name("pin"), flavor=pinned)
    assert "No valid host was found" in wait(cloud, again, "ERROR")["fault"]["message"]
    api(cloud, "DELETE", f"/servers/{first['id']}")  # frees 2 PCPU
    wait(cloud, first["id"], "DELETED")
    after = boot(cloud, name("pin"), flavor=pinned)
    assert wait(cloud, after, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fake-host-1"
    assert _allocation(cloud, after)["PCPU"] == 2


def test_resources_pcpu_rules_are_400(cloud):
    ensure_image(cloud)
    for specs, text in (({"resources:PCPU": "3"}, "mismatch"),
                        ({"resources:PCPU": "2", "hw:cpu_policy": "dedicated"},
                         "in combination"),
                        ({"resources:PCPU": "2", "resources:VCPU": "2"}, "both")):
        flavor = _flavor(cloud, 2, **specs)
        r = api(cloud, "POST", "/servers", version="2.37", json={"server": {
            "name": name("bad"), "flavorRef": flavor, "imageRef": cloud.TINY_IMAGE,
            "networks": "none"}})
        assert r.status_code == 400, (specs, r.text)
        assert text in r.json()["badRequest"]["message"]


def test_legacy_hosts_pin_on_vcpu(cloud):
    """The session cloud's hosts set neither cpu_dedicated_set nor cpu_shared_set: a
    pinned guest is pinned there and claims VCPU (Nova's fallback query)."""
    flavor = _flavor(cloud, 1, **{"hw:cpu_policy": "dedicated"})
    sid = boot(cloud, name("legacy"), flavor=flavor)
    wait(cloud, sid, "ACTIVE")
    assert _allocation(cloud, sid) == {"VCPU": 1, "MEMORY_MB": 256, "DISK_GB": 1}
    assert len(_pins(cloud, sid)) == 1
    inv = cloud.cli("resource", "provider", "inventory", "list",
                    _providers(cloud)["fake-host-1"], "-f", "json")
    assert "PCPU" not in {r["resource_class"] for r in inv}
    api(cloud, "DELETE", f"/servers/{sid}")
    wait(cloud, sid, "DELETED")


def test_host_cpu_sets_as_nova_reads_them():
    from pocketstack.compute.numa import cpu_resources, host_cpu_sets, pinned_by, request

    class Conf:
        def __init__(self, **opts: str) -> None:
            self.opts = opts

        def get(self, section: str, key: str) -> str:
            return self.opts.get(key, "")

    cpus = list(range(8))
    assert host_cpu_sets(Conf(), cpus) == (set(cpus), set(cpus), True)  # legacy
    assert host_cpu_sets(Conf(cpu_dedicated_set="0-3"), cpus) == (set(), {0, 1, 2, 3}, False)
    assert host_cpu_sets(Conf(cpu_dedicated_set="4-9", cpu_shared_set="0-2,^1"), cpus) == \
        ({0, 2}, {4, 5, 6, 7}, False)
    assert host_cpu_sets(Conf(cpu_dedicated_set="4-7"), cpus, False) == (set(cpus), set(), False)
    req = request({"resources:PCPU": "2"}, {}, 2, 512)
    assert req["dedicated"] and cpu_resources(req, 2) == (0, 2)
    assert cpu_resources(request({"hw:numa_nodes": "1"}, {}, 2, 512), 2) == (2, 0)
    assert request({"resources:VCPU": "2"}, {}, 2, 512) is None
    assert pinned_by({}, {"hw_cpu_policy": "dedicated"}) and not pinned_by({}, {})
