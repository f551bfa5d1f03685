"""Compute API over raw HTTP: status codes, Nova's error bodies, states, scheduling."""

from __future__ import annotations

import requests
from compute_helpers import IMAGE, api, boot, name, wait


def test_version_discovery(cloud):
    root = requests.get(cloud.url(8774, "/"), timeout=10)
    assert root.status_code == 200
    v21 = next(v for v in root.json()["versions"] if v["id"] == "v2.1")
    assert v21["min_version"] == "2.1" and v21["version"] == "2.96"
    one = requests.get(cloud.url(8774, "/v2.1"), timeout=10).json()["version"]
    assert one["id"] == "v2.1" and one["status"] == "CURRENT"


def test_microversion_headers_and_request_ids(cloud):
    r = api(cloud, "GET", "/flavors", version="2.55")
    assert r.headers["OpenStack-API-Version"] == "compute 2.55"
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.55"
    assert r.headers["x-compute-request-id"].startswith("req-")
    assert r.headers["x-openstack-request-id"] == r.headers["x-compute-request-id"]
    assert "description" in r.json()["flavors"][0]
    r = api(cloud, "GET", "/flavors", headers={"X-OpenStack-Nova-API-Version": "2.3"})
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.3"
    r = api(cloud, "GET", "/flavors", version="2.999")
    assert r.status_code == 406


def test_nova_error_format(cloud):
    r = api(cloud, "GET", "/servers/does-not-exist")
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["code"] == 404 and r.json()["itemNotFound"]["message"]
    r = api(cloud, "POST", "/servers", json={"server": {"name": "x"}}, version="2.79")
    assert r.status_code == 400 and "badRequest" in r.json()
    r = api(cloud, "POST", "/flavors", user="pocketstack",
            json={"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1}})
    assert r.status_code == 403 and "forbidden" in r.json()
    r = api(cloud, "POST", "/servers", data=b"{not json", version="2.79")
    assert r.status_code == 400 and "badRequest" in r.json()


def test_networks_required_and_validated(cloud):
    body = {"server": {"name": "n", "flavorRef": "1", "imageRef": IMAGE}}
    r = api(cloud, "POST", "/servers", version="2.79", json=body)
    assert r.status_code == 400 and "networks" in r.json()["badRequest"]["message"]
    body["server"]["networks"] = [{"uuid": "6f5b2a2c-8a5a-4b7c-9d6e-3c2b1a0f9e8d"}]
    r = api(cloud, "POST", "/servers", version="2.79", json=body)
    assert r.status_code == 400 and "Network" in r.json()["badRequest"]["message"]
    body["server"]["networks"] = "auto"
    body["server"]["flavorRef"] = "nope"
    r = api(cloud, "POST", "/servers", version="2.79", json=body)
    assert r.status_code == 400 and "Flavor nope" in r.json()["badRequest"]["message"]


def test_build_goes_through_states(cloud):
    sid = boot(cloud, name("st"))
    body = wait(cloud, sid, "ACTIVE")
    assert body["OS-EXT-STS:vm_state"] == "active" and body["OS-EXT-STS:power_state"] == 1
    assert body["OS-EXT-SRV-ATTR:host"] in ("fake-host-1", "fake-host-2")
    assert body["flavor"]["original_name"] == "m1.tiny" and body["addresses"] == {}
    assert body["image"]["id"] == IMAGE and body["OS-SRV-USG:launched_at"]
    # wrong state -> 409 conflictingRequest
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"os-start": None})
    assert r.status_code == 409
    assert "vm_state active" in r.json()["conflictingRequest"]["message"]
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"os-stop": None})
    assert r.status_code == 202
    wait(cloud, sid, "SHUTOFF")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"reboot": {"type": "SOFT"}})
    assert r.status_code == 409
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"reboot": {"type": "HARD"}})
    assert r.status_code == 202
    assert wait(cloud, sid, "ACTIVE")["OS-EXT-STS:power_state"] == 1
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"noSuchAction": {}})
    assert r.status_code == 400
    actions = api(cloud, "GET", f"/servers/{sid}/os-instance-actions", version="2.79").json()
    assert {"create", "stop", "reboot"} <= {a["action"] for a in actions["instanceActions"]}
    create = next(a for a in actions["instanceActions"] if a["action"] == "create")
    detail = api(cloud, "GET", f"/servers/{sid}/os-instance-actions/{create['request_id']}",
                 version="2.79").json()["instanceAction"]
    assert detail["events"][0]["result"] == "Success"
    assert api(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    wait(cloud, sid, "DELETED")


def test_other_project_cannot_see_server(cloud):
    sid = boot(cloud, name("own"), user="pocketstack")
    wait(cloud, sid, "ACTIVE", user="pocketstack")
    r = api(cloud, "GET", f"/servers/{sid}", user="pocketstack-alt")
    assert r.status_code == 404
    r = api(cloud, "POST", f"/servers/{sid}/action", user="pocketstack-alt",
            json={"os-stop": None})
    assert r.status_code == 404
    # the admin sees it with all_tenants, the owner without
    r = api(cloud, "GET", "/servers?all_tenants=1", version="2.79")
    assert sid in [s["id"] for s in r.json()["servers"]]
    r = api(cloud, "GET", "/servers?all_tenants=1", user="pocketstack")
    assert r.status_code == 403
    api(cloud, "DELETE", f"/servers/{sid}", user="pocketstack")


def test_list_filters_limit_marker(cloud):
    prefix = name("lst")
    ids = [boot(cloud, f"{prefix}-{i}", flavor="42") for i in range(3)]
    for i in ids:
        wait(cloud, i, "ACTIVE")
    r = api(cloud, "GET", f"/servers?name={prefix}", version="2.79").json()["servers"]
    assert {s["id"] for s in r} == set(ids)
    r = api(cloud, "GET", f"/servers/detail?name={prefix}&flavor=42&status=ACTIVE&image={IMAGE}",
            version="2.79").json()["servers"]
    assert len(r) == 3
    r = api(cloud, "GET", f"/servers/detail?name={prefix}&status=SHUTOFF",
            version="2.79").json()["servers"]
    assert r == []
    assert api(cloud, "GET", "/servers?status=BOGUS", version="2.79").status_code == 400
    page1 = api(cloud, "GET", f"/servers?name={prefix}&limit=2", version="2.79").json()
    assert len(page1["servers"]) == 2 and page1["servers_links"][0]["rel"] == "next"
    marker = page1["servers"][-1]["id"]
    page2 = api(cloud, "GET", f"/servers?name={prefix}&limit=2&marker={marker}",
                version="2.79").json()
    assert len(page2["servers"]) == 1
    assert {s["id"] for s in page1["servers"] + page2["servers"]} == set(ids)
    assert api(cloud, "GET", "/servers?marker=nope", version="2.79").status_code == 400
    for i in ids:
        api(cloud, "DELETE", f"/servers/{i}")


def test_metadata_api(cloud):
    sid = boot(cloud, name("md"), server={"metadata": {"a": "1"}})
    wait(cloud, sid, "ACTIVE")
    r = api(cloud, "POST", f"/servers/{sid}/metadata", json={"metadata": {"b": "2"}})
    assert r.json()["metadata"] == {"a": "1", "b": "2"}
    r = api(cloud, "PUT", f"/servers/{sid}/metadata/c", json={"meta": {"c": "3"}})
    assert r.json() == {"meta": {"c": "3"}}
    assert api(cloud, "GET", f"/servers/{sid}/metadata/c").json() == {"meta": {"c": "3"}}
    assert api(cloud, "DELETE", f"/servers/{sid}/metadata/a").status_code == 204
    assert api(cloud, "GET", f"/servers/{sid}/metadata/a").status_code == 404
    r = api(cloud, "PUT", f"/servers/{sid}/metadata", json={"metadata": {"only": "x"}})
    assert r.json()["metadata"] == {"only": "x"}
    too_many = {f"k{i}": "v" for i in range(129)}
    r = api(cloud, "POST", f"/servers/{sid}/metadata", json={"metadata": too_many})
    assert r.status_code == 403 and "metadata_items" in r.json()["forbidden"]["message"]
    api(cloud, "DELETE", f"/servers/{sid}")


def test_fault_injection_reschedules_then_errors(cloud):
    # fails on one host only: rescheduled to the other one, ACTIVE
    sid = boot(cloud, name("flt"), server={"metadata": {"fake_fail_build": "fake-host-1"}})
    body = wait(cloud, sid, ("ACTIVE", "ERROR"))
    assert body["status"] == "ACTIVE" and body["OS-EXT-SRV-ATTR:host"] == "fake-host-2"
    # fails everywhere: after the retries, ERROR
    bad = boot(cloud, name("flt"), server={"metadata": {"fake_fail_build": "1"}})
    body = wait(cloud, bad, ("ACTIVE", "ERROR"))
    assert body["status"] == "ERROR"
    assert body["fault"]["code"] == 500
    assert body["fault"]["message"].startswith("Exceeded maximum number of retries")
    for i in (sid, bad):
        api(cloud, "DELETE", f"/servers/{i}")
        wait(cloud, i, "DELETED")


def test_over_capacity_is_no_valid_host(cloud):
    fname = name("huge")
    r = api(cloud, "POST", "/flavors", version="2.79",
            json={"flavor": {"name": fname, "ram": 40000, "vcpus": 1, "disk": 1}})
    assert r.status_code == 200, r.text
    fid = r.json()["flavor"]["id"]
    sid = boot(cloud, name("big"), flavor=fid)
    body = wait(cloud, sid, ("ACTIVE", "ERROR"))
    assert body["status"] == "ERROR"
    assert body["fault"]["message"].startswith("No valid host was found")
    api(cloud, "DELETE", f"/servers/{sid}")
    wait(cloud, sid, "DELETED")
    api(cloud, "DELETE", f"/flavors/{fid}")


def test_instance_quota_is_403(cloud):
    fname = name("q")
    # 21 vCPUs do not fit the default cores quota of 20
    r = api(cloud, "POST", "/flavors", json={"flavor": {"name": fname, "ram": 64, "vcpus": 21,
                                                        "disk": 1}})
    fid = r.json()["flavor"]["id"]
    r = api(cloud, "POST", "/servers", version="2.79",
            json={"server": {"name": "q", "flavorRef": fid, "imageRef": IMAGE,
                             "networks": "none"}})
    assert r.status_code == 403
    assert "cores" in r.json()["forbidden"]["message"]
    api(cloud, "DELETE", f"/flavors/{fid}")


def test_quota_sets_and_limits(cloud):
    project = cloud.conn("pocketstack").current_project_id
    r = api(cloud, "GET", f"/os-quota-sets/{project}", version="2.79").json()["quota_set"]
    assert r["instances"] == 10 and r["server_group_members"] == 10
    assert "floating_ips" not in r and "injected_files" not in r
    r = api(cloud, "GET", f"/os-quota-sets/{project}", version="2.1").json()["quota_set"]
    assert r["floating_ips"] == 10 and r["injected_files"] == 5
    r = api(cloud, "GET", f"/os-quota-sets/{project}/detail", version="2.79").json()
    assert r["quota_set"]["cores"]["limit"] == 20 and "in_use" in r["quota_set"]["cores"]
    r = api(cloud, "GET", "/limits", user="pocketstack", version="2.79").json()["limits"]
    assert r["absolute"]["maxTotalRAMSize"] == 51200 and "maxImageMeta" not in r["absolute"]
    r = api(cloud, "PUT", f"/os-quota-sets/{project}", user="pocketstack",
            json={"quota_set": {"instances": 50}})
    assert r.status_code == 403
    r = api(cloud, "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 11}})
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 11
    assert api(cloud, "DELETE", f"/os-quota-sets/{project}").status_code == 202


def test_keypair_microversions(cloud):
    kname = name("kp")
    r = api(cloud, "POST", "/os-keypairs", version="2.1", json={"keypair": {"name": kname}})
    assert r.status_code == 200 and "type" not in r.json()["keypair"]
    assert r.json()["keypair"]["private_key"].startswith("-----BEGIN")
    assert api(cloud, "DELETE", f"/os-keypairs/{kname}", version="2.1").status_code == 202
    r = api(cloud, "POST", "/os-keypairs", version="2.2", json={"keypair": {"name": kname}})
    assert r.status_code == 201 and r.json()["keypair"]["type"] == "ssh"
    assert api(cloud, "GET", f"/os-keypairs/{kname}").status_code == 200
    assert api(cloud, "DELETE", f"/os-keypairs/{kname}", version="2.2").status_code == 204
    assert api(cloud, "GET", f"/os-keypairs/{kname}").status_code == 404
    r = api(cloud, "POST", "/os-keypairs", json={"keypair": {"name": "bad/name"}})
    assert r.status_code == 400


def test_services_disable_steers_scheduling(cloud):
    services = api(cloud, "GET", "/os-services?binary=nova-compute",
                   version="2.79").json()["services"]
    host1 = next(s for s in services if s["host"] == "fake-host-1")
    r = api(cloud, "PUT", f"/os-services/{host1['id']}", version="2.79",
            json={"status": "disabled", "disabled_reason": "test"})
    assert r.status_code == 200 and r.json()["service"]["status"] == "disabled"
    try:
        ids = [boot(cloud, name("dis"), flavor="42") for _ in range(2)]
        hosts = {wait(cloud, i, "ACTIVE")["OS-EXT-SRV-ATTR:host"] for i in ids}
        assert hosts == {"fake-host-2"}
    finally:
        api(cloud, "PUT", f"/os-services/{host1['id']}", version="2.79",
            json={"status": "enabled"})
    for i in ids:
        api(cloud, "DELETE", f"/servers/{i}")
    r = api(cloud, "GET", "/os-hypervisors/detail", version="2.79").json()["hypervisors"]
    assert all(h["hypervisor_type"] == "fake" for h in r)
    assert api(cloud, "GET", "/os-hypervisors", user="pocketstack").status_code == 403


def test_multi_create_and_instance_quota(cloud):
    conn = cloud.conn("pocketstack-admin")
    project = cloud.conn("pocketstack-alt").current_project_id
    r = api(cloud, "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 3}})
    assert r.status_code == 200
    try:
        prefix = name("multi")
        r = api(cloud, "POST", "/servers", user="pocketstack-alt", version="2.79",
                json={"server": {"name": prefix, "flavorRef": "42", "imageRef": IMAGE,
                                 "networks": "none", "min_count": 2, "max_count": 5}})
        assert r.status_code == 202, r.text
        rows = api(cloud, "GET", f"/servers?name={prefix}", user="pocketstack-alt",
                   version="2.79").json()["servers"]
        assert sorted(s["name"] for s in rows) == [f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"]
        for s in rows:
            wait(cloud, s["id"], "ACTIVE", user="pocketstack-alt")
        r = api(cloud, "POST", "/servers", user="pocketstack-alt", version="2.79",
                json={"server": {"name": "one-more", "flavorRef": "42", "imageRef": IMAGE,
                                 "networks": "none"}})
        assert r.status_code == 403
        assert "Quota exceeded for instances" in r.json()["forbidden"]["message"]
        limits = api(cloud, "GET", "/limits", user="pocketstack-alt").json()["limits"]
        assert limits["absolute"]["totalInstancesUsed"] == 3
        # deleting one frees the quota right away (delete while it may still be settling)
        api(cloud, "DELETE", f"/servers/{rows[0]['id']}", user="pocketstack-alt")
        wait(cloud, rows[0]["id"], "DELETED", user="pocketstack-alt")
        sid = boot(cloud, name("again"), user="pocketstack-alt", flavor="42")
        api(cloud, "DELETE", f"/servers/{sid}", user="pocketstack-alt")  # delete mid-build
        for s in rows[1:]:
            api(cloud, "DELETE", f"/servers/{s['id']}", user="pocketstack-alt")
        for i in [sid, *(s["id"] for s in rows[1:])]:
            wait(cloud, i, "DELETED", user="pocketstack-alt")
    finally:
        api(cloud, "DELETE", f"/os-quota-sets/{project}")
    assert conn is not None
    hyp = api(cloud, "GET", "/os-hypervisors/detail", version="2.79").json()["hypervisors"]
    assert all(h["running_vms"] >= 0 for h in hyp)


def test_resize_confirm_and_revert(cloud):
    sid = boot(cloud, name("rsz"), flavor="42")
    before = wait(cloud, sid, "ACTIVE")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": "42"}})
    assert r.status_code == 400
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": "84"}})
    assert r.status_code == 202, r.text
    body = wait(cloud, sid, "VERIFY_RESIZE")
    assert body["flavor"]["original_name"] == "m1.micro"
    assert body["OS-EXT-SRV-ATTR:host"] != before["OS-EXT-SRV-ATTR:host"]
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"revertResize": None})
    assert r.status_code == 202
    body = wait(cloud, sid, "ACTIVE")
    assert body["flavor"]["original_name"] == "m1.nano"
    assert body["OS-EXT-SRV-ATTR:host"] == before["OS-EXT-SRV-ATTR:host"]
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"confirmResize": None})
    assert r.status_code == 409
    api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": "84"}})
    wait(cloud, sid, "VERIFY_RESIZE")
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"confirmResize": None})
    assert r.status_code == 204
    body = wait(cloud, sid, "ACTIVE")
    assert body["flavor"]["original_name"] == "m1.micro"
    # too big for any host: 400 at once, the server stays as it was
    fname = name("huge")
    fid = api(cloud, "POST", "/flavors", json={"flavor": {"name": fname, "ram": 40000,
                                                         "vcpus": 1, "disk": 1}}
              ).json()["flavor"]["id"]
    r = api(cloud, "POST", f"/servers/{sid}/action", json={"resize": {"flavorRef": fid}})
    assert r.status_code == 400 and "No valid host" in r.json()["badRequest"]["message"]
    assert wait(cloud, sid, "ACTIVE")["flavor"]["original_name"] == "m1.micro"
    api(cloud, "DELETE", f"/flavors/{fid}")
    api(cloud, "DELETE", f"/servers/{sid}")
    wait(cloud, sid, "DELETED")
