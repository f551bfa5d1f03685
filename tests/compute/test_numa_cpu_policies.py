"""Nova's CPU policies over HTTP: ``hw:cpu_policy=mixed`` with ``hw:cpu_dedicated_mask``
(PCPU and VCPU), ``hw:cpu_thread_policy`` on simulated SMT siblings (and the image's
``hw_cpu_thread_policy``), ``hw:emulator_threads_policy`` and PCI NUMA affinity
(``hw:pci_numa_affinity_policy``), with Nova's 400s for the combinations it refuses."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from compute_helpers import api, ensure_image, name, start_with_conf, wait
from test_numa import _flavor as numa_flavor

# fake-host-1: 2 NUMA cells x 4 CPUs, 2 threads a core (siblings 0-1, 2-3 | 4-5, 6-7),
# CPUs 0 and 4 shared (VCPU), 1-3 and 5-7 dedicated (PCPU), one GPU on NUMA node 1;
# fake-host-2: no dedicated CPUs, no devices.
CONF = """[fake]
cpu_dedicated_hosts = fake-host-1
cpu_threads = 2
pci_devices = fake-host-1=10de:1db4@1
[compute]
cpu_dedicated_set = 1-3,5-7
cpu_shared_set = 0,4
[pci]
alias = {"name": "gpu", "vendor_id": "10de", "product_id": "1db4"}
"""


def _flavor(cloud: Any, vcpus: int, **specs: str) -> str:
    return numa_flavor(cloud, vcpus, 256, **specs)


def _create(cloud: Any, flavor: str, image: str | None = None) -> requests.Response:
    return api(cloud, "POST", "/servers", version="2.79", json={"server": {
        "name": name("cpupol"), "flavorRef": flavor, "imageRef": image or cloud.TINY_IMAGE,
        "networks": "none"}})


def _placement(cloud: Any, path: str) -> dict:
    r = requests.get(cloud.url(8778, path), timeout=30, headers={
        "X-Auth-Token": cloud.token(), "OpenStack-API-Version": "placement 1.28"})
    assert r.status_code == 200, r.text
    return r.json()


def _allocation(cloud: Any, sid: str) -> dict[str, int]:
    (alloc,) = _placement(cloud, f"/allocations/{sid}")["allocations"].values()
    return alloc["resources"]


def _nodes(cloud: Any, sid: str) -> list[dict]:
    r = api(cloud, "GET", f"/servers/{sid}/topology", version="2.78")
    assert r.status_code == 200, r.text
    return r.json()["nodes"]


def _active(cloud: Any, flavor: str, image: str | None = None) -> str:
    r = _create(cloud, flavor, image)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    assert wait(cloud, sid, ("ACTIVE", "ERROR"))["status"] == "ACTIVE", sid
    return sid


def _no_valid_host(cloud: Any, flavor: str, image: str | None = None) -> None:
    r = _create(cloud, flavor, image)
    assert r.status_code == 202, r.text
    fault = wait(cloud, r.json()["server"]["id"], "ERROR")["fault"]["message"]
    assert "No valid host was found" in fault


def _delete(cloud: Any, *sids: str) -> None:
    for sid in sids:
        api(cloud, "DELETE", f"/servers/{sid}")
    for sid in sids:
        wait(cloud, sid, "DELETED")


@pytest.fixture(scope="module")
def image(cloud: Any) -> str:
    """An image of this module's own, its properties changed by the tests."""
    ensure_image(cloud)
    r = requests.post(cloud.url(9292, "/v2/images"), timeout=30, json={
        "name": name("cpupol"), "disk_format": "raw", "container_format": "bare",
        "visibility": "public"}, headers={"X-Auth-Token": cloud.token()})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    r = requests.put(cloud.url(9292, f"/v2/images/{iid}/file"), data=b"x" * 512, timeout=30,
                     headers={"X-Auth-Token": cloud.token(),
                              "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    return iid


_SET: dict[str, dict[str, str]] = {}  # image -> the hw_* properties it has now


def _props(cloud: Any, iid: str, **props: str) -> str:
    """Set the image's hw_* properties to exactly ``props``."""
    if _SET.get(iid, {}) == props:
        return iid
    ops = [{"op": "remove", "path": f"/{k}"} for k in _SET.get(iid, {})]
    _SET[iid] = props
    ops += [{"op": "add", "path": f"/{k}", "value": v} for k, v in props.items()]
    r = requests.patch(cloud.url(9292, f"/v2/images/{iid}"), json=ops, timeout=30, headers={
        "X-Auth-Token": cloud.token(),
        "Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert r.status_code == 200, r.text
    return iid


BAD = [  # (flavor vcpus, extra specs, image properties, status, Nova's message)
    (2, {"hw:cpu_policy": "mixed"}, {}, 400, "can be specified from either"),
    (2, {"hw:cpu_dedicated_mask": "1"}, {}, 400, "without the 'mixed' policy"),
    (2, {"hw:cpu_policy": "dedicated", "hw:cpu_dedicated_mask": "1"}, {}, 400,
     "without the 'mixed' policy"),
    (2, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "0-1"}, {}, 400,
     "at least 1 pinned vCPU and 1 unpinned vCPU"),
    (2, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0-1"}, {}, 400,
     "at least 1 pinned vCPU and 1 unpinned vCPU"),
    (2, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "1,4"}, {}, 400,
     "not a subset of vCPUs in the flavor"),
    (2, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "1", "resources:PCPU": "1"},
     {}, 400, "in combination with the 'hw:cpu_policy'"),
    (2, {"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "1"},
     {"hw_cpu_policy": "dedicated"}, 400, "not permitted to override CPU pinning"),
    (2, {"hw:cpu_policy": "shared"}, {"hw_cpu_policy": "mixed"}, 400,
     "not permitted to override CPU pinning"),
    (2, {"hw:cpu_thread_policy": "require"}, {}, 400, "in a non dedicated cpu pinning"),
    (2, {"hw:cpu_policy": "shared", "hw:cpu_thread_policy": "isolate"}, {}, 400,
     "in a non dedicated cpu pinning"),
    (2, {}, {"hw_cpu_thread_policy": "isolate"}, 400, "in a non dedicated cpu pinning"),
    (2, {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require"},
     {"hw_cpu_thread_policy": "isolate"}, 400, "not permitted to override CPU thread"),
    (2, {"hw:cpu_policy": "dedicated"}, {"hw_cpu_thread_policy": "sometimes"}, 400,
     "CPU thread policy requested from 'image properties' is invalid"),
    (2, {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate",
         "trait:HW_CPU_HYPERTHREADING": "forbidden"}, {}, 400,
     "'trait:HW_CPU_HYPERTHREADING' extra spec in combination"),
    (2, {"hw:cpu_policy": "mixed", "hw:cpu_realtime": "yes"}, {}, 400,
     "requires either one or more non-realtime CPU"),
    (2, {"hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "^0"}, {}, 400,
     "Cannot set realtime policy in a non dedicated"),
    (2, {"hw:emulator_threads_policy": "isolate"}, {}, 400,
     "isolated CPU emulator threads option requires a dedicated"),
    (2, {"resources:PCPU": "2", "hw:emulator_threads_policy": "isolate"}, {}, 400,
     "exactly flavor.vcpus + 1 PCPUs"),
    (2, {"hw:pci_numa_affinity_policy": "required"},
     {"hw_pci_numa_affinity_policy": "preferred"}, 403,
     "'hw_pci_numa_affinity_policy' is not permitted to override"),
    (2, {}, {"hw_pci_numa_affinity_policy": "nearby"}, 400,
     "Invalid PCI NUMA affinity configured: nearby"),
]


def test_nova_refuses_bad_cpu_policy_combinations(cloud, image):
    for vcpus, specs, props, status, text in sorted(BAD, key=lambda b: sorted(b[2].items())):
        r = _create(cloud, _flavor(cloud, vcpus, **specs), _props(cloud, image, **props))
        assert r.status_code == status, (specs, props, r.text)
        body = r.json()
        assert text in body["badRequest" if status == 400 else "forbidden"]["message"], \
            (specs, props, body)
    # an extra spec value Nova does not know: refused when set (2.86 validation)
    fid = _flavor(cloud, 2)
    r = api(cloud, "POST", f"/flavors/{fid}/os-extra_specs", version="2.86",
            json={"extra_specs": {"hw:cpu_thread_policy": "sometimes"}})
    assert r.status_code == 400 and "is not one of" in r.text


def test_mixed_and_thread_policies_on_legacy_hosts(cloud, image):
    """The session cloud's hosts are legacy (no cpu_dedicated_set/cpu_shared_set, one
    thread a core): a mixed guest pins its masked vCPUs and claims VCPU for all (Nova's
    fallback query); ``isolate`` fits (no SMT), ``require`` never does."""
    mixed = _flavor(cloud, 2, **{"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"})
    sid = _active(cloud, mixed)
    assert _allocation(cloud, sid) == {"VCPU": 2, "MEMORY_MB": 256, "DISK_GB": 1}
    (node,) = _nodes(cloud, sid)
    assert node["vcpu_set"] == [0, 1] and list(node["cpu_pinning"]) == ["1"]
    iso = _active(cloud, _flavor(cloud, 1, **{"hw:cpu_policy": "dedicated",
                                              "hw:cpu_thread_policy": "isolate"}))
    _no_valid_host(cloud, _flavor(cloud, 1, **{"hw:cpu_policy": "dedicated"}),
                   _props(cloud, image, hw_cpu_thread_policy="require"))
    _delete(cloud, sid, iso)


def test_cpu_and_pci_policies_on_a_simulated_smt_host(fresh_cloud):
    cloud = start_with_conf(fresh_cloud, CONF)
    rps = {r["name"]: r["uuid"] for r in
           _placement(cloud, "/resource_providers")["resource_providers"]}
    host1 = rps["fake-host-1"]
    # two threads a core: the provider says so (Nova's libvirt driver's trait)
    assert "HW_CPU_HYPERTHREADING" in _placement(
        cloud, f"/resource_providers/{host1}/traits")["traits"]
    hyps = api(cloud, "GET", "/os-hypervisors/detail", version="2.87").json()["hypervisors"]
    cpu_info = next(h for h in hyps if h["hypervisor_hostname"] == "fake-host-1")["cpu_info"]
    assert cpu_info["topology"] == {"sockets": 2, "cores": 2, "threads": 2}

    # mixed: vCPU 0 floats on the shared CPUs, 1-3 are pinned onto dedicated CPUs
    mixed = _flavor(cloud, 4, **{"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"})
    sid = cloud.cli("server", "create", "--flavor", mixed, "--image", cloud.TINY_IMAGE,
                    "--nic", "none", name("mixed"), "-f", "json")["id"]
    assert wait(cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fake-host-1"
    assert _allocation(cloud, sid) == {"VCPU": 1, "PCPU": 3, "MEMORY_MB": 256, "DISK_GB": 1}
    (node,) = _nodes(cloud, sid)
    assert node["vcpu_set"] == [0, 1, 2, 3] and sorted(node["cpu_pinning"]) == ["1", "2", "3"]
    cell = {0: {1, 2, 3}, 1: {5, 6, 7}}[node["host_node"]]
    assert set(node["cpu_pinning"].values()) == cell
    usage = {u["resource_class"]: u["usage"] for u in cloud.cli(
        "resource", "provider", "usage", "show", host1, "-f", "json")}
    assert (usage["PCPU"], usage["VCPU"]) == (3, 1)
    _delete(cloud, sid)

    # require: on both threads of a free core; two such guests fill the two free cores,
    # a third finds PCPU in Placement but no whole core (NoValidHost)
    require = _flavor(cloud, 2, **{"hw:cpu_policy": "dedicated",
                                   "hw:cpu_thread_policy": "require"})
    pairs = []
    for _ in range(2):
        sid = _active(cloud, require)
        (node,) = _nodes(cloud, sid)
        pins = sorted(node["cpu_pinning"].values())
        assert pins in ([2, 3], [6, 7]), pins  # thread siblings
        pairs.append((sid, pins))
    assert sorted(p for _, p in pairs) == [[2, 3], [6, 7]]
    _no_valid_host(cloud, require)
    # isolate on an SMT host with dedicated CPUs: excluded (HW_CPU_HYPERTHREADING
    # forbidden), from the flavor or the image
    _no_valid_host(cloud, _flavor(cloud, 1, **{"hw:cpu_policy": "dedicated",
                                               "hw:cpu_thread_policy": "isolate"}))
    _no_valid_host(cloud, _flavor(cloud, 1, **{"resources:PCPU": "1",
                                               "trait:HW_CPU_HYPERTHREADING": "forbidden"}))
    # prefer (the default): takes the lone free CPUs
    one = _flavor(cloud, 1, **{"hw:cpu_policy": "dedicated",
                               "hw:emulator_threads_policy": "share"})
    lone = _active(cloud, one)
    assert set(_nodes(cloud, lone)[0]["cpu_pinning"].values()) <= {1, 5}
    assert _allocation(cloud, lone)["PCPU"] == 1  # share: no extra PCPU
    _delete(cloud, lone, *(s for s, _ in pairs))

    # emulator threads isolate: one more PCPU claimed, on the guest's first cell
    emu = _flavor(cloud, 2, **{"hw:cpu_policy": "dedicated",
                               "hw:emulator_threads_policy": "isolate"})
    sid = _active(cloud, emu)
    assert _allocation(cloud, sid) == {"PCPU": 3, "MEMORY_MB": 256, "DISK_GB": 1}
    (node,) = _nodes(cloud, sid)
    assert len(node["cpu_pinning"]) == 2
    usage = _placement(cloud, f"/resource_providers/{host1}/usages")["usages"]
    assert usage["PCPU"] == 3
    _delete(cloud, sid)

    # PCI NUMA affinity: the GPU is on node 1; "required" puts the guest's cell there
    gpu = {"pci_passthrough:alias": "gpu:1", "hw:cpu_policy": "dedicated"}
    req = _flavor(cloud, 1, **gpu, **{"hw:pci_numa_affinity_policy": "required"})
    sid = _active(cloud, req)
    assert _nodes(cloud, sid)[0]["host_node"] == 1
    _delete(cloud, sid)
    # with node 1's dedicated CPUs taken: required and legacy fail, preferred crosses
    three = _flavor(cloud, 3, **{"hw:cpu_policy": "dedicated"})
    placed = {_nodes(cloud, s)[0]["host_node"]: s for s in (_active(cloud, three),
                                                             _active(cloud, three))}
    _delete(cloud, placed[0])  # node 0's CPUs free again, node 1's all pinned
    full = placed[1]
    _no_valid_host(cloud, req)
    _no_valid_host(cloud, _flavor(cloud, 1, **gpu))  # legacy: the device has a node
    _no_valid_host(cloud, _flavor(cloud, 1, **gpu, **{"hw:pci_numa_affinity_policy":
                                                       "socket"}))
    pref = _active(cloud, _flavor(cloud, 1, **gpu,
                                  **{"hw:pci_numa_affinity_policy": "preferred"}))
    assert _nodes(cloud, pref)[0]["host_node"] == 0
    _no_valid_host(cloud, _flavor(cloud, 1, **gpu, **{"hw:pci_numa_affinity_policy":
                                                       "preferred"}))  # no 2nd GPU
    # a restart rebuilds the pinning and device claims from the servers
    assert cloud.stop() == 0
    cloud.start()
    _no_valid_host(cloud, _flavor(cloud, 1, **gpu, **{"hw:pci_numa_affinity_policy":
                                                       "preferred"}))
    usage = _placement(cloud, f"/resource_providers/{host1}/usages")["usages"]
    assert usage["PCPU"] == 4
    _delete(cloud, full, pref)


def _cell(i: int, cpus: list[int], pcpus: list[int], siblings: list[list[int]]) -> dict:
    return {"id": i, "cpus": cpus, "pcpus": pcpus, "memory_mb": 4096, "pages": {},
            "siblings": siblings, "socket": i // 2}


def test_packing_rules_without_a_cloud():
    from pocketstack.compute.numa import HostNUMA, cpu_resources, request

    def pinned(**specs: str) -> dict:
        return request({"hw:cpu_policy": "dedicated", **specs}, {}, 1, 256)

    # a legacy SMT host (every CPU shared and pinnable): isolate takes a whole core
    legacy = HostNUMA([_cell(0, [0, 1, 2, 3], [0, 1, 2, 3], [[0, 1], [2, 3]])])
    iso = pinned(**{"hw:cpu_thread_policy": "isolate"})
    first = legacy.fit(iso)
    assert first[0]["cpu_pinning"] == {"0": 0} and first[0]["taken"] == [0, 1]
    legacy.claim("a", first)
    assert legacy.fit(iso)[0]["cpu_pinning"] == {"0": 2}
    legacy.claim("b", legacy.fit(iso))
    assert legacy.fit(iso) is None and legacy.fit(pinned()) is None  # siblings kept idle
    legacy.release("a")
    # emulator threads isolate: one more CPU of the first cell, PCPU + 1
    emu = request({"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate"},
                  {}, 1, 256)
    assert cpu_resources(emu, 1) == (0, 2)
    (got,) = legacy.fit(emu)
    assert got["cpuset_reserved"] == [1] and got["emulator_cpus"] == [1]
    assert set(got["taken"]) == {0, 1}
    # mixed over two guest nodes: each cell's masked vCPUs pinned, the others float
    mixed = request({"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "1,3",
                     "hw:numa_nodes": "2"}, {}, 4, 1024)
    assert cpu_resources(mixed, 4) == (2, 2)
    host = HostNUMA([_cell(0, [0], [1, 2, 3], [[0, 1], [2, 3]]),
                     _cell(1, [4], [5, 6, 7], [[4, 5], [6, 7]])])
    cells = host.fit(mixed)
    assert [sorted(c["cpu_pinning"]) for c in cells] == [["1"], ["3"]]
    assert [c["pcpus"] for c in cells] == [[1], [3]]
    # share: the emulator threads go to the host's cpu_shared_set
    share = request({"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "share"},
                    {}, 1, 256)
    assert host.fit(share)[0]["emulator_cpus"] == [0, 4]
    require = request({"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require"},
                      {}, 2, 256)
    flat = HostNUMA([_cell(0, [0], [1, 2, 3], [])])  # one thread a core
    assert host.fit(require)[0]["cpu_pinning"] == {"0": 2, "1": 3}
    assert flat.fit(require) is None and flat.fit(iso) is not None


def test_pci_pools_by_numa_affinity_policy():
    from pocketstack.compute.scheduler.pci import PciStats

    devices = [{"vendor_id": "10de", "product_id": "1db4", "numa_node": node}
               for node in (1, None)]
    stats = PciStats(devices, [], {"gpu": [("10de", "1db4")]}, {"gpu": "required"})
    stats.socket_of = {0: 0, 1: 0, 2: 1}.get
    one, two = [("gpu", 1)], [("gpu", 2)]
    assert stats.supports(one, [0], "legacy")  # the device without a node
    assert not stats.supports(two, [0], "legacy") and stats.supports(two, [0], "preferred")
    assert not stats.supports(one, [0], None)  # the alias's numa_policy: required
    assert stats.supports(one, [1], "required") and not stats.supports(one, [0], "required")
    assert stats.supports(one, [0], "socket") and not stats.supports(one, [2], "socket")
    assert stats.supports(two)  # no NUMA topology: any device
    assert stats.claim("a", one, [1], "required")
    assert stats.claims["a"] == {("10de", "1db4", 1): 1}
    assert not stats.supports(one, [1], "required") and stats.supports(one, [1], "legacy")
