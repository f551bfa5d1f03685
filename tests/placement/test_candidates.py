"""GET /allocation_candidates: capacity, traits, aggregates, nesting, granular groups."""

from __future__ import annotations

import uuid


def _uuid() -> str:
    return str(uuid.uuid4())


def _trait() -> str:
    return f"CUSTOM_T_{uuid.uuid4().hex[:10].upper()}"


def _cands(placement, version="1.39", **params):
    r = placement.get("/allocation_candidates", params=params, version=version)
    assert r.status_code == 200, r.text
    return r.json()


def test_capacity_traits_and_limit(placement):
    tag = _trait()
    big = placement.provider(inventory={"VCPU": {"total": 8, "allocation_ratio": 2.0},
                                        "MEMORY_MB": 8192}, traits=[tag, "STORAGE_DISK_SSD"])
    small = placement.provider(inventory={"VCPU": 2, "MEMORY_MB": 1024}, traits=[tag])
    full = placement.provider(inventory={"VCPU": 4, "MEMORY_MB": 4096}, traits=[tag])
    placement.allocate(_uuid(), {full: {"VCPU": 4}})
    body = _cands(placement, resources="VCPU:2,MEMORY_MB:512", required=tag)
    found = [list(a["allocations"]) for a in body["allocation_requests"]]
    assert found == [[big], [small]]
    assert body["allocation_requests"][0] == {
        "allocations": {big: {"resources": {"VCPU": 2, "MEMORY_MB": 512}}},
        "mappings": {"": [big]}}
    summary = body["provider_summaries"][big]
    assert summary["resources"]["VCPU"] == {"capacity": 16, "used": 0}
    assert summary["traits"] == sorted([tag, "STORAGE_DISK_SSD"])
    assert summary["root_provider_uuid"] == big and summary["parent_provider_uuid"] is None
    body = _cands(placement, resources="VCPU:4", required=tag)
    assert [list(a["allocations"]) for a in body["allocation_requests"]] == [[big]]
    body = _cands(placement, resources="VCPU:1", required=f"{tag},!STORAGE_DISK_SSD")
    assert {u for a in body["allocation_requests"] for u in a["allocations"]} == {small}
    body = _cands(placement, resources="VCPU:1", required=[tag, "in:STORAGE_DISK_SSD,HW_NIC_SRIOV"])
    assert {u for a in body["allocation_requests"] for u in a["allocations"]} == {big}
    body = _cands(placement, resources="VCPU:1", required=tag, limit="1")
    assert len(body["allocation_requests"]) == 1
    # the old list format
    body = _cands(placement, version="1.10", resources="VCPU:2,MEMORY_MB:512")
    mine = [a for a in body["allocation_requests"]
            if a["allocations"][0]["resource_provider"]["uuid"] == big]
    assert mine and sorted(mine[0]["allocations"][0]["resources"]) == ["MEMORY_MB", "VCPU"]


def test_member_of(placement):
    agg1, agg2 = _uuid(), _uuid()
    rp1 = placement.provider(inventory={"VCPU": 4})
    rp2 = placement.provider(inventory={"VCPU": 4})
    for rp, aggs in ((rp1, [agg1]), (rp2, [agg2])):
        r = placement.put(f"/resource_providers/{rp}/aggregates",
                          {"aggregates": aggs, "resource_provider_generation": 1})
        assert r.status_code == 200, r.text
    body = _cands(placement, resources="VCPU:1", member_of=f"in:{agg1},{agg2}")
    assert {u for a in body["allocation_requests"] for u in a["allocations"]} == {rp1, rp2}
    body = _cands(placement, resources="VCPU:1", member_of=agg2)
    assert {u for a in body["allocation_requests"] for u in a["allocations"]} == {rp2}
    body = _cands(placement, resources="VCPU:1", member_of=[f"in:{agg1},{agg2}", f"!{agg1}"])
    assert {u for a in body["allocation_requests"] for u in a["allocations"]} == {rp2}


def test_nested_tree_and_granular_groups(placement):
    tag = _trait()
    root = placement.provider(inventory={"VCPU": 8, "MEMORY_MB": 8192}, traits=[tag])
    pf1 = placement.provider(parent=root, inventory={"SRIOV_NET_VF": 4},
                             traits=["HW_NIC_SRIOV"])
    pf2 = placement.provider(parent=root, inventory={"SRIOV_NET_VF": 4})
    # unsuffixed resources spread over the tree
    body = _cands(placement, resources="VCPU:1,SRIOV_NET_VF:1", in_tree=root)
    allocs = [a["allocations"] for a in body["allocation_requests"]]
    assert {frozenset(a) for a in allocs} == {frozenset({root, pf1}), frozenset({root, pf2})}
    assert set(body["provider_summaries"]) == {root, pf1, pf2}
    assert body["provider_summaries"][pf1]["parent_provider_uuid"] == root
    # granular: each suffixed group on one provider; isolate keeps them apart
    body = _cands(placement, resources="VCPU:1", required=tag, resources1="SRIOV_NET_VF:2",
                  resources2="SRIOV_NET_VF:2", group_policy="isolate", in_tree=root)
    maps = [a["mappings"] for a in body["allocation_requests"]]
    assert {(m["1"][0], m["2"][0]) for m in maps} == {(pf1, pf2), (pf2, pf1)}
    body = _cands(placement, resources="VCPU:1", resources_NIC="SRIOV_NET_VF:1",
                  required_NIC="HW_NIC_SRIOV", group_policy="none", in_tree=root)
    assert [a["mappings"]["_NIC"] for a in body["allocation_requests"]] == [[pf1]]
    assert body["allocation_requests"][0]["allocations"][pf1] == {
        "resources": {"SRIOV_NET_VF": 1}}
    body = _cands(placement, resources1="SRIOV_NET_VF:3", resources2="SRIOV_NET_VF:3",
                  group_policy="none", in_tree=root)
    # none: both groups may land on one provider only if it has room (4 < 6)
    assert {(a["mappings"]["1"][0], a["mappings"]["2"][0])
            for a in body["allocation_requests"]} == {(pf1, pf2), (pf2, pf1)}
    body = _cands(placement, resources="VCPU:1", root_required=f"!{tag}", in_tree=root)
    assert body["allocation_requests"] == []
    body = _cands(placement, resources="VCPU:1", resources1="SRIOV_NET_VF:1",
                  required1="HW_NIC_SRIOV", same_subtree="1", group_policy="none",
                  in_tree=root)
    assert len(body["allocation_requests"]) == 1


def test_bad_queries(placement):
    for params in ({"resources": "VCPU"}, {"resources": "VCPU:0"},
                   {"resources": "VCPU:1", "bogus": "1"},
                   {"resources": "VCPU:1", "limit": "-1"},
                   {"resources": "VCPU:1", "member_of": "not-a-uuid"},
                   {"resources1": "VCPU:1", "resources2": "VCPU:1"},
                   {"resources": "VCPU:1", "required": "!!X"}, {},
                   {"required": "COMPUTE_NODE"}, {"resources": "VCPU:99999999999"},
                   {"resources": "VCPU:1", "required": "CUSTOM_NO_SUCH_TRAIT_EVER"},
                   {"resources": "VCPU:1", "in_tree": "nope"},
                   {"resources": "VCPU:1", "same_subtree": "nope"}):
        r = placement.get("/allocation_candidates", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["errors"][0]["status"] == 400
    r = placement.get("/allocation_candidates", params={"resources": "VCPU:1"}, version="1.9")
    assert r.status_code == 404
    r = placement.get("/allocation_candidates", params={"resources": "VCPU:1",
                                                       "required": "in:A,B"}, version="1.38")
    assert r.status_code == 400
    r = placement.get("/allocation_candidates", params={"resources": "VCPU:1,CUSTOM_NONE:1"})
    assert r.status_code == 400 and "No such resource class" in r.text


def test_sharing_provider(placement):
    agg = _uuid()
    compute = placement.provider(inventory={"VCPU": 4})
    storage = placement.provider(inventory={"DISK_GB": 100},
                                 traits=["MISC_SHARES_VIA_AGGREGATE"])
    for rp in (compute, storage):
        gen = placement.get(f"/resource_providers/{rp}").json()["generation"]
        r = placement.put(f"/resource_providers/{rp}/aggregates",
                          {"aggregates": [agg], "resource_provider_generation": gen})
        assert r.status_code == 200, r.text
    body = _cands(placement, resources="VCPU:1,DISK_GB:10", member_of=agg)
    assert [set(a["allocations"]) for a in body["allocation_requests"]] == [{compute, storage}]
    assert set(body["provider_summaries"]) == {compute, storage}
    body = _cands(placement, resources="DISK_GB:10", member_of=agg)
    assert [set(a["allocations"]) for a in body["allocation_requests"]] == [{storage}]


def test_resourceless_group_and_same_subtree(placement):
    tag = _trait()
    root = placement.provider(inventory={"VCPU": 4})
    numa0 = placement.provider(parent=root, traits=["HW_NUMA_ROOT"])
    numa1 = placement.provider(parent=root, traits=["HW_NUMA_ROOT"])
    pf0 = placement.provider(parent=numa0, inventory={"SRIOV_NET_VF": 2}, traits=[tag])
    placement.provider(parent=numa1, inventory={"SRIOV_NET_VF": 2})
    params = {"resources": "VCPU:1", "resources_VF": "SRIOV_NET_VF:1", "required_VF": tag,
              "required_NUMA": "HW_NUMA_ROOT", "same_subtree": "_VF,_NUMA",
              "group_policy": "none", "in_tree": root}
    body = _cands(placement, **params)
    assert [a["mappings"] for a in body["allocation_requests"]] == [
        {"": [root], "_NUMA": [numa0], "_VF": [pf0]}]
    assert body["allocation_requests"][0]["allocations"] == {
        root: {"resources": {"VCPU": 1}}, pf0: {"resources": {"SRIOV_NET_VF": 1}}}
    r = placement.get("/allocation_candidates", params=params, version="1.35")
    assert r.status_code == 400
