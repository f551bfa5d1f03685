"""Guest NUMA topology: flavors (and images) asking for NUMA nodes, pinned CPUs or huge
pages are fitted to the fake hosts' NUMA cells (2 hosts x 2 cells of 4 CPUs and 8 GiB,
2 GiB of it in 2 MiB pages) and GET /servers/{id}/topology (2.78) shows the fit."""

from __future__ import annotations

import pytest
import requests

from compute_helpers import IMAGE, api, boot, ensure_image, name, new_flavor, wait


def _flavor(cloud, vcpus: int, ram: int, cli: bool = False, **specs: str) -> str:
    """A public flavor with extra specs (``hw__numa_cpus_dot_0`` is hw:numa_cpus.0)."""
    fname = name("numa")
    specs = {k.replace("__", ":").replace("_dot_", "."): v for k, v in specs.items()}
    if cli:
        args = ["flavor", "create", "--vcpus", str(vcpus), "--ram", str(ram), "--disk", "1",
                "--public", "-f", "json", fname]
        for k, v in specs.items():
            args[2:2] = ["--property", f"{k}={v}"]
        return cloud.cli(*args)["id"]
    return new_flavor(cloud, vcpus, ram, specs, "numa")


def _topology(cloud, sid: str, user: str = "pocketstack-admin") -> dict:
    r = api(cloud, "GET", f"/servers/{sid}/topology", user=user, version="2.78")
    assert r.status_code == 200, r.text
    return r.json()


def _delete(cloud, *sids: str) -> None:
    for sid in sids:
        api(cloud, "DELETE", f"/servers/{sid}")
    for sid in sids:
        wait(cloud, sid, "DELETED")


@pytest.fixture
def no_core_quota(cloud):
    """Five 4-CPU servers at once are the admin project's whole default quota (20 cores):
    servers other tests of this worker still hold must not make the fifth one a 403."""
    project = cloud.conn("pocketstack-admin").current_project_id
    r = api(cloud, "PUT", f"/os-quota-sets/{project}",
            json={"quota_set": {"cores": -1, "instances": -1, "ram": -1}})
    assert r.status_code == 200, r.text
    yield
    assert api(cloud, "DELETE", f"/os-quota-sets/{project}").status_code == 202


def test_numa_nodes_split_over_host_cells(cloud):
    flavor = _flavor(cloud, 2, 1024, cli=True, hw__numa_nodes="2")
    ensure_image(cloud)
    shown = cloud.cli("server", "create", "--flavor", flavor, "--image", IMAGE,
                      "--nic", "none", "--wait", name("numa"), "-f", "json",
                      cloud="pocketstack")
    sid = shown["id"]
    topo = _topology(cloud, sid)
    assert topo["pagesize_kb"] is None
    nodes = topo["nodes"]
    assert [n["vcpu_set"] for n in nodes] == [[0], [1]]
    assert [n["memory_mb"] for n in nodes] == [512, 512]
    assert sorted(n["host_node"] for n in nodes) == [0, 1]  # each on its own host cell
    assert all(n["cpu_pinning"] == {} and n["siblings"] == [] for n in nodes)
    # the owner sees the guest's topology, not the host's
    own = _topology(cloud, sid, user="pocketstack")["nodes"]
    assert own and all("host_node" not in n and "cpu_pinning" not in n for n in own)
    sdk = cloud.conn().compute.get(f"/servers/{sid}/topology", microversion="2.78")
    assert sdk.status_code == 200 and len(sdk.json()["nodes"]) == 2
    assert api(cloud, "GET", f"/servers/{sid}/topology", version="2.77").status_code == 404
    plain = boot(cloud, name("plain"))
    wait(cloud, plain, "ACTIVE")
    assert _topology(cloud, plain) == {"nodes": [], "pagesize_kb": None}
    _delete(cloud, sid, plain)


def test_dedicated_cpus_are_pinned_until_the_cells_are_full(cloud, no_core_quota):
    flavor = _flavor(cloud, 4, 512, hw__cpu_policy="dedicated")
    sids = [boot(cloud, name("pin"), flavor=flavor) for _ in range(4)]
    pins = set()
    for sid in sids:
        body = wait(cloud, sid, "ACTIVE")
        (node,) = _topology(cloud, sid)["nodes"]
        assert node["vcpu_set"] == [0, 1, 2, 3] and sorted(node["cpu_pinning"]) == \
            ["0", "1", "2", "3"]
        cpus = set(node["cpu_pinning"].values())
        assert len(cpus) == 4
        pins.add((body["OS-EXT-SRV-ATTR:host"], node["host_node"], frozenset(cpus)))
    assert len(pins) == 4  # two hosts x two cells, each cell's CPUs pinned once
    extra = boot(cloud, name("pin"), flavor=flavor)
    failed = wait(cloud, extra, "ERROR")
    assert "No valid host was found" in failed["fault"]["message"]
    _delete(cloud, sids[0])
    again = boot(cloud, name("pin"), flavor=flavor)  # the freed cell takes it
    wait(cloud, again, "ACTIVE")
    _delete(cloud, again, extra, *sids[1:])


def test_huge_pages_and_explicit_cells(cloud):
    large = _flavor(cloud, 1, 512, hw__mem_page_size="large")
    sid = boot(cloud, name("huge"), flavor=large)
    wait(cloud, sid, "ACTIVE")
    topo = _topology(cloud, sid)
    assert topo["pagesize_kb"] == 2048 and topo["nodes"][0]["memory_mb"] == 512
    too_big = _flavor(cloud, 1, 3072, hw__mem_page_size="2MB")  # 2 GiB of 2M pages a cell
    big = boot(cloud, name("huge"), flavor=too_big)
    assert "No valid host was found" in wait(cloud, big, "ERROR")["fault"]["message"]
    explicit = _flavor(cloud, 4, 2048, **{"hw__numa_nodes": "2",
                                          "hw__numa_cpus_dot_0": "0",
                                          "hw__numa_cpus_dot_1": "1-3",
                                          "hw__numa_mem_dot_0": "512",
                                          "hw__numa_mem_dot_1": "1536"})
    cells = boot(cloud, name("cells"), flavor=explicit)
    wait(cloud, cells, "ACTIVE")
    nodes = _topology(cloud, cells)["nodes"]
    assert [(n["vcpu_set"], n["memory_mb"]) for n in nodes] == [([0], 512),
                                                               ([1, 2, 3], 1536)]
    _delete(cloud, sid, big, cells)


def test_image_numa_nodes(cloud):
    headers = {"X-Auth-Token": cloud.token("pocketstack-admin")}
    r = requests.post(cloud.url(9292, "/v2/images"), headers=headers, timeout=30,
                      json={"name": name("numa"), "disk_format": "raw",
                            "container_format": "bare", "visibility": "public",
                            "hw_numa_nodes": "2"})
    image = r.json()["id"]
    r = requests.put(cloud.url(9292, f"/v2/images/{image}/file"), data=b"x" * 64,
                     headers={**headers, "Content-Type": "application/octet-stream"},
                     timeout=30)
    assert r.status_code == 204
    two = _flavor(cloud, 2, 512)
    sid = boot(cloud, name("img"), flavor=two, server={"imageRef": image})
    wait(cloud, sid, "ACTIVE")
    assert len(_topology(cloud, sid)["nodes"]) == 2
    one = _flavor(cloud, 2, 512, hw__numa_nodes="1")  # the image may not override it
    r = api(cloud, "POST", "/servers", json={"server": {
        "name": name("img"), "flavorRef": one, "imageRef": image, "networks": "none"}},
        version="2.37")
    assert r.status_code == 400
    assert "hw_numa_nodes" in r.json()["badRequest"]["message"]
    _delete(cloud, sid)


def test_invalid_numa_specs_are_400(cloud):
    ensure_image(cloud)
    for specs in ({"hw__numa_nodes": "0"}, {"hw__numa_nodes": "2"},  # 3 vCPUs over 2
                  {"hw__cpu_policy": "bogus"}, {"hw__mem_page_size": "huge"},
                  {"hw__numa_nodes": "2", "hw__numa_cpus_dot_0": "0"}):
        flavor = _flavor(cloud, 3, 999, **specs)
        r = api(cloud, "POST", "/servers", json={"server": {
            "name": name("bad"), "flavorRef": flavor, "imageRef": IMAGE,
            "networks": "none"}}, version="2.37")
        assert r.status_code == 400, (specs, r.text)
        assert r.json()["badRequest"]["message"]


def test_cold_migration_refits_the_topology(cloud):
    flavor = _flavor(cloud, 2, 512, hw__cpu_policy="dedicated")
    sid = boot(cloud, name("mig"), flavor=flavor)
    source = wait(cloud, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"]
    cloud.cli("server", "migrate", "--wait", sid)
    body = wait(cloud, sid, "VERIFY_RESIZE")
    cloud.cli("server", "migration", "confirm", sid)
    body = wait(cloud, sid, "ACTIVE")
    assert body["OS-EXT-SRV-ATTR:host"] != source
    (node,) = _topology(cloud, sid)["nodes"]
    assert len(set(node["cpu_pinning"].values())) == 2
    _delete(cloud, sid)


def test_fit_rules_without_a_cloud():
    from pocketstack.api import errors
    from pocketstack.compute.numa import HostNUMA, request

    assert request({}, {}, 2, 512) is None
    assert request({"hw:watchdog_action": "reset"}, {"os_distro": "x"}, 2, 512) is None
    req = request({"hw:cpu_policy": "dedicated", "hw:mem_page_size": "1GB"}, {}, 2, 2048)
    assert req["cells"] == [{"id": 0, "cpus": [0, 1], "memory_mb": 2048, "pcpus": [0, 1]}]
    assert (req["dedicated"], req["pagesize"], req["image"], req["pcpus"]) == \
        (True, 1048576, {}, 2)
    host = HostNUMA([{"id": 0, "cpus": [0, 1], "memory_mb": 1024, "pages": {2048: 512}},
                     {"id": 1, "cpus": [2, 3], "memory_mb": 1024,
                      "pages": {2048: 512, 1048576: 2}}])
    cells = host.fit(req)
    assert cells[0]["host_node"] == 1 and cells[0]["pagesize"] == 1048576
    host.claim("a", cells)
    assert host.fit(req) is None  # the 1G pages and the CPUs of cell 1 are taken
    host.release("a")
    assert host.fit(req) is not None
    try:
        request({}, {"hw_mem_page_size": "large"}, 1, 512)
    except errors.BadRequest as exc:
        assert "forbidden against 'small'" in exc.message
    else:
        raise AssertionError("an image may not ask for huge pages the flavor does not allow")


def test_resize_refits_and_revert_restores(cloud):
    two_nodes = _flavor(cloud, 2, 512, hw__numa_nodes="2")
    pinned = _flavor(cloud, 2, 512, hw__cpu_policy="dedicated")
    plain = _flavor(cloud, 2, 512)
    sid = boot(cloud, name("rsz"), flavor=two_nodes)
    wait(cloud, sid, "ACTIVE")
    before = _topology(cloud, sid)
    assert len(before["nodes"]) == 2
    bad = _flavor(cloud, 2, 512, hw__numa_nodes="0")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": bad}})
    assert r.status_code == 400
    assert wait(cloud, sid, "ACTIVE")["OS-EXT-STS:task_state"] is None
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": pinned}})
    assert r.status_code == 202, r.text
    wait(cloud, sid, "VERIFY_RESIZE")
    (node,) = _topology(cloud, sid)["nodes"]
    assert len(node["cpu_pinning"]) == 2  # the new flavor's topology on the destination
    cloud.cli("server", "resize", "revert", sid)
    wait(cloud, sid, "ACTIVE")
    assert _topology(cloud, sid) == before  # the source's topology again
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": plain}})
    assert r.status_code == 202, r.text
    wait(cloud, sid, "VERIFY_RESIZE")
    cloud.cli("server", "resize", "confirm", sid)
    wait(cloud, sid, "ACTIVE")
    assert _topology(cloud, sid) == {"nodes": [], "pagesize_kb": None}
    _delete(cloud, sid)
