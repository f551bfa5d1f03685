"""Placement over raw HTTP: version document, error format, generations, allocations."""

from __future__ import annotations

import uuid

import requests


def _uuid() -> str:
    return str(uuid.uuid4())


def test_root_needs_no_token_and_lists_versions(cloud):
    r = requests.get(cloud.url(8778, "/"), timeout=10)
    assert r.status_code == 200
    v = r.json()["versions"][0]
    assert v["id"] == "v1.0" and v["min_version"] == "1.0" and v["max_version"] == "1.39"
    assert r.headers["OpenStack-API-Version"] == "placement 1.0"
    r = requests.get(cloud.url(8778, "/"), headers={"OpenStack-API-Version": "placement 1.99"},
                     timeout=10)
    assert r.status_code == 406
    err = r.json()["errors"][0]
    assert err["max_version"] == "1.39" and err["min_version"] == "1.0"


def test_error_format_and_auth(cloud, placement):
    r = requests.get(cloud.url(8778, "/resource_providers"), timeout=10)
    assert r.status_code == 401
    r = placement.get(f"/resource_providers/{_uuid()}")
    assert r.status_code == 404
    err = r.json()["errors"][0]
    assert err["status"] == 404 and err["title"] == "Not Found"
    assert err["code"] == "placement.resource_provider.not_found"
    assert err["request_id"].startswith("req-") and err["detail"]


def test_member_is_forbidden(cloud):
    token = cloud.token("pocketstack")
    r = requests.get(cloud.url(8778, "/resource_providers"),
                     headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 403
    assert r.json()["errors"][0]["status"] == 403


def test_provider_create_versions(placement):
    r = placement.post("/resource_providers", {"name": f"old-{_uuid()}"}, version="1.19")
    assert r.status_code == 201 and not r.content and "Location" in r.headers
    name = f"new-{_uuid()}"
    r = placement.post("/resource_providers", {"name": name})
    body = r.json()
    assert r.status_code == 200 and body["name"] == name and body["generation"] == 0
    assert body["root_provider_uuid"] == body["uuid"] and body["parent_provider_uuid"] is None
    assert {link["rel"] for link in body["links"]} >= {"self", "inventories", "usages",
                                                       "traits", "aggregates", "allocations"}
    r = placement.post("/resource_providers", {"name": name})
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "placement.duplicate_name"
    r = placement.post("/resource_providers", {"name": ""})
    assert r.status_code == 400
    r = placement.post("/resource_providers", {"name": "x", "bogus": 1})
    assert r.status_code == 400
    r = placement.call("POST", "/resource_providers", data=b"{not json",
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["status"] == 400


def test_inventory_generation_conflict_and_validation(placement):
    rp = placement.provider()
    r = placement.put(f"/resource_providers/{rp}/inventories",
                      {"resource_provider_generation": 5,
                       "inventories": {"VCPU": {"total": 4}}})
    assert r.status_code == 409
    assert r.json()["errors"][0]["code"] == "placement.concurrent_update"
    r = placement.put(f"/resource_providers/{rp}/inventories",
                      {"resource_provider_generation": 0,
                       "inventories": {"VCPU": {"total": 4, "reserved": 5}}})
    assert r.status_code == 400
    r = placement.put(f"/resource_providers/{rp}/inventories",
                      {"resource_provider_generation": 0,
                       "inventories": {"CUSTOM_NOT_THERE": {"total": 4}}})
    assert r.status_code == 400
    r = placement.put(f"/resource_providers/{rp}/inventories",
                      {"resource_provider_generation": 0,
                       "inventories": {"VCPU": {"total": 4, "allocation_ratio": 4.0},
                                       "DISK_GB": {"total": 100, "reserved": 10}}})
    assert r.status_code == 200
    assert r.json()["resource_provider_generation"] == 1
    assert r.json()["inventories"]["VCPU"] == {
        "total": 4, "reserved": 0, "min_unit": 1, "max_unit": 2147483647, "step_size": 1,
        "allocation_ratio": 4.0}
    r = placement.put(f"/resource_providers/{rp}/inventories/DISK_GB",
                      {"resource_provider_generation": 1, "total": 200})
    assert r.status_code == 200 and r.json()["total"] == 200
    r = placement.post(f"/resource_providers/{rp}/inventories",
                       {"resource_provider_generation": 2, "resource_class": "MEMORY_MB",
                        "total": 1024})
    assert r.status_code == 201 and r.json()["resource_provider_generation"] == 3
    r = placement.get(f"/resource_providers/{rp}/inventories/MEMORY_MB")
    assert r.status_code == 200 and r.json()["total"] == 1024
    r = placement.get(f"/resource_providers/{rp}/inventories/PCI_DEVICE")
    assert r.status_code == 404


def test_allocations_capacity_and_consumer_generation(placement):
    rp = placement.provider(inventory={
        "VCPU": {"total": 4, "allocation_ratio": 2.0, "max_unit": 4},
        "MEMORY_MB": {"total": 2048, "reserved": 512, "step_size": 256}})
    c1, c2 = _uuid(), _uuid()
    assert placement.allocate(c1, {rp: {"VCPU": 4, "MEMORY_MB": 1024}}).status_code == 204
    got = placement.get(f"/allocations/{c1}").json()
    assert got["allocations"][rp]["resources"] == {"VCPU": 4, "MEMORY_MB": 1024}
    assert got["consumer_generation"] == 0 and got["project_id"] == "proj"
    assert got["consumer_type"] == "INSTANCE"
    # capacity: VCPU (4-0)*2 = 8, MEMORY_MB 2048-512 = 1536
    r = placement.allocate(c2, {rp: {"VCPU": 4, "MEMORY_MB": 768}})
    assert r.status_code == 409 and "capacity" in r.json()["errors"][0]["detail"]
    r = placement.allocate(c2, {rp: {"VCPU": 5}})  # max_unit 4
    assert r.status_code == 409
    r = placement.allocate(c2, {rp: {"MEMORY_MB": 100}})  # step_size 256
    assert r.status_code == 409
    r = placement.allocate(c2, {rp: {"DISK_GB": 1}})  # no inventory
    assert r.status_code == 409
    r = placement.allocate(c2, {_uuid(): {"VCPU": 1}})  # no such provider
    assert r.status_code == 400
    # consumer generation: new consumer needs null, existing one its generation
    r = placement.allocate(c1, {rp: {"VCPU": 2}}, generation=None)
    assert r.status_code == 409
    assert r.json()["errors"][0]["code"] == "placement.concurrent_update"
    assert placement.allocate(c1, {rp: {"VCPU": 2}}, generation=0).status_code == 204
    assert placement.get(f"/allocations/{c1}").json()["consumer_generation"] == 1
    usages = placement.get(f"/resource_providers/{rp}/usages").json()["usages"]
    assert usages == {"VCPU": 2, "MEMORY_MB": 0}
    # inventory in use cannot go away
    r = placement.delete(f"/resource_providers/{rp}/inventories/VCPU")
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "placement.inventory.inuse"
    r = placement.delete(f"/resource_providers/{rp}")
    assert r.status_code == 409
    assert placement.delete(f"/allocations/{c1}").status_code == 204
    assert placement.delete(f"/allocations/{c1}").status_code == 404
    assert placement.get(f"/allocations/{c1}").json() == {"allocations": {}}
    assert placement.delete(f"/resource_providers/{rp}").status_code == 204


def test_old_allocation_format_and_post_allocations(placement):
    rp = placement.provider(inventory={"VCPU": 8, "MEMORY_MB": 4096})
    c1, c2 = _uuid(), _uuid()
    r = placement.put(f"/allocations/{c1}", {
        "allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}],
        "project_id": "p", "user_id": "u"}, version="1.8")
    assert r.status_code == 204
    r = placement.get(f"/allocations/{c1}", version="1.0")
    assert r.json() == {"allocations": {rp: {"generation": 2, "resources": {"VCPU": 1}}}}
    body = {c2: {"allocations": {rp: {"resources": {"VCPU": 2}}}, "project_id": "p",
                 "user_id": "u", "consumer_generation": None, "consumer_type": "MIGRATION"},
            c1: {"allocations": {}, "project_id": "p", "user_id": "u",
                 "consumer_generation": 0, "consumer_type": "INSTANCE"}}
    assert placement.post("/allocations", body).status_code == 204
    assert placement.get(f"/allocations/{c1}").json() == {"allocations": {}}
    allocs = placement.get(f"/resource_providers/{rp}/allocations").json()
    assert allocs["allocations"] == {c2: {"resources": {"VCPU": 2}}}
    # all or nothing: one failing consumer leaves the other untouched
    body = {c2: {"allocations": {rp: {"resources": {"VCPU": 1}}}, "project_id": "p",
                 "user_id": "u", "consumer_generation": 0, "consumer_type": "MIGRATION"},
            c1: {"allocations": {rp: {"resources": {"VCPU": 100}}}, "project_id": "p",
                 "user_id": "u", "consumer_generation": None, "consumer_type": "INSTANCE"}}
    assert placement.post("/allocations", body).status_code == 409
    assert placement.get(f"/allocations/{c2}").json()["allocations"][rp]["resources"] == {
        "VCPU": 2}


def test_usages_by_project(placement):
    project = _uuid()
    rp = placement.provider(inventory={"VCPU": 8, "MEMORY_MB": 4096})
    placement.allocate(_uuid(), {rp: {"VCPU": 1, "MEMORY_MB": 256}}, project=project)
    placement.allocate(_uuid(), {rp: {"VCPU": 2}}, project=project, user="other")
    r = placement.get("/usages", params={"project_id": project}, version="1.9")
    assert r.json() == {"usages": {"VCPU": 3, "MEMORY_MB": 256}}
    r = placement.get("/usages", params={"project_id": project, "user_id": "other"},
                      version="1.9")
    assert r.json() == {"usages": {"VCPU": 2}}
    r = placement.get("/usages", params={"project_id": project})
    assert r.json() == {"usages": {"INSTANCE": {"consumer_count": 2, "VCPU": 3,
                                                "MEMORY_MB": 256}}}
    assert placement.get("/usages").status_code == 400


def test_resource_classes_and_traits(placement):
    name = f"CUSTOM_RC_{uuid.uuid4().hex[:8].upper()}"
    assert placement.put(f"/resource_classes/{name}").status_code == 201
    assert placement.put(f"/resource_classes/{name}").status_code == 204
    assert placement.get(f"/resource_classes/{name}").json()["name"] == name
    r = placement.post("/resource_classes", {"name": name})
    assert r.status_code == 409
    assert placement.post("/resource_classes", {"name": "NOT_CUSTOM"}).status_code == 400
    assert placement.delete("/resource_classes/VCPU").status_code == 400
    names = [c["name"] for c in placement.get("/resource_classes").json()["resource_classes"]]
    assert {"VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "VGPU",
            "IPV4_ADDRESS", "NUMA_CORE", name} <= set(names)
    assert placement.delete(f"/resource_classes/{name}").status_code == 204
    assert placement.get(f"/resource_classes/{name}").status_code == 404
    trait = f"CUSTOM_TR_{uuid.uuid4().hex[:8].upper()}"
    assert placement.put(f"/traits/{trait}").status_code == 201
    assert placement.put(f"/traits/{trait}").status_code == 204
    assert placement.get(f"/traits/{trait}").status_code == 204
    assert placement.put("/traits/lowercase").status_code == 400
    assert placement.delete("/traits/STORAGE_DISK_SSD").status_code == 400
    r = placement.get("/traits", params={"name": "startswith:CUSTOM_TR_"})
    assert trait in r.json()["traits"]
    r = placement.get("/traits", params={"name": "in:HW_CPU_X86_AVX2,COMPUTE_NODE,NOPE"})
    assert r.json()["traits"] == ["COMPUTE_NODE", "HW_CPU_X86_AVX2"]
    rp = placement.provider(traits=[trait])
    r = placement.get("/traits", params={"associated": "true", "name": f"in:{trait}"})
    assert r.json()["traits"] == [trait]
    assert placement.delete(f"/traits/{trait}").status_code == 409
    assert placement.delete(f"/resource_providers/{rp}/traits").status_code == 204
    assert placement.delete(f"/traits/{trait}").status_code == 204
    r = placement.put(f"/resource_providers/{rp}/traits",
                      {"traits": ["CUSTOM_NOPE_X"], "resource_provider_generation": 2})
    assert r.status_code == 400


def test_aggregates_versions(placement):
    rp = placement.provider()
    agg = _uuid()
    r = placement.put(f"/resource_providers/{rp}/aggregates", [agg], version="1.1")
    assert r.status_code == 200 and r.json() == {"aggregates": [agg]}
    r = placement.put(f"/resource_providers/{rp}/aggregates",
                      {"aggregates": [], "resource_provider_generation": 7})
    assert r.status_code == 409
    r = placement.put(f"/resource_providers/{rp}/aggregates",
                      {"aggregates": ["not-a-uuid"], "resource_provider_generation": 0})
    assert r.status_code == 400
    r = placement.get(f"/resource_providers/{rp}/aggregates")
    assert r.json() == {"aggregates": [agg], "resource_provider_generation": 0}
    listed = placement.get("/resource_providers", params={"member_of": f"in:{agg}"}).json()
    assert [p["uuid"] for p in listed["resource_providers"]] == [rp]


def test_reshaper_moves_allocations_to_a_child(placement):
    root = placement.provider(inventory={"VCPU": 8, "VGPU": 4})
    child = placement.provider(parent=root)
    consumer = _uuid()
    assert placement.allocate(consumer, {root: {"VCPU": 1, "VGPU": 2}}).status_code == 204
    root_gen = placement.get(f"/resource_providers/{root}").json()["generation"]
    body = {"inventories": {
                root: {"resource_provider_generation": root_gen,
                       "inventories": {"VCPU": {"total": 8}}},
                child: {"resource_provider_generation": 0,
                        "inventories": {"VGPU": {"total": 4}}}},
            "allocations": {consumer: {
                "allocations": {root: {"resources": {"VCPU": 1}},
                                child: {"resources": {"VGPU": 2}}},
                "project_id": "proj", "user_id": "user", "consumer_generation": 0,
                "consumer_type": "INSTANCE"}}}
    r = placement.post("/reshaper", body, version="1.29")
    assert r.status_code == 404
    r = placement.post("/reshaper", body)
    assert r.status_code == 204, r.text
    got = placement.get(f"/allocations/{consumer}").json()["allocations"]
    assert got[child]["resources"] == {"VGPU": 2} and got[root]["resources"] == {"VCPU": 1}
    # leaving an allocation without inventory is refused, and nothing changes
    gen = placement.get(f"/resource_providers/{child}").json()["generation"]
    body = {"inventories": {child: {"resource_provider_generation": gen, "inventories": {}}},
            "allocations": {}}
    r = placement.post("/reshaper", body)
    assert r.status_code == 409
    assert placement.get(f"/resource_providers/{child}/inventories").json()["inventories"]


def test_cache_headers_and_provider_filters(placement):
    r = placement.get("/resource_providers", version="1.15")
    assert r.headers["cache-control"] == "no-cache" and r.headers["last-modified"]
    assert "last-modified" not in placement.get("/resource_providers",
                                                version="1.14").headers
    tag = f"CUSTOM_F_{uuid.uuid4().hex[:8].upper()}"
    rp = placement.provider(inventory={"VCPU": 2, "DISK_GB": 10}, traits=[tag])
    found = placement.get("/resource_providers",
                          params={"resources": "VCPU:2,DISK_GB:10", "required": tag}).json()
    assert [p["uuid"] for p in found["resource_providers"]] == [rp]
    found = placement.get("/resource_providers",
                          params={"resources": "VCPU:3", "required": tag}).json()
    assert found["resource_providers"] == []
    found = placement.get("/resource_providers", params={"required": f"!{tag}"}).json()
    assert rp not in [p["uuid"] for p in found["resource_providers"]]
    r = placement.get("/resource_providers", params={"required": tag}, version="1.17")
    assert r.status_code == 400
    r = placement.get("/resource_providers", params={"uuid": "nope"})
    assert r.status_code == 400


def test_service_role_is_allowed(cloud):
    suffix = uuid.uuid4().hex[:8]
    user, project, password = f"svc-{suffix}", f"svcp-{suffix}", "s3cret!pw"
    cloud.cli("project", "create", project)
    cloud.cli("user", "create", "--password", password, "--project", project, user)
    cloud.cli("role", "add", "--user", user, "--project", project, "service")
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    r = requests.post(cloud.url(5000, "/v3/auth/tokens"), json=auth, timeout=30)
    assert r.status_code == 201, r.text
    token = r.headers["X-Subject-Token"]
    r = requests.get(cloud.url(8778, "/resource_providers"),
                     headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 200 and "resource_providers" in r.json()


def test_concurrent_claims_never_overcommit(placement):
    from concurrent.futures import ThreadPoolExecutor

    rp = placement.provider(inventory={"VCPU": 10})

    def claim(_):
        return placement.allocate(_uuid(), {rp: {"VCPU": 1}}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(claim, range(20)))
    assert codes.count(204) == 10 and codes.count(409) == 10
    assert placement.get(f"/resource_providers/{rp}/usages").json()["usages"] == {"VCPU": 10}
